"""My notification channels (issue 14): list, add, change which kinds they carry, switch off, delete, test.

A channel URL is typed once and never shown again (only its hint). Every change goes through
``cases.channels.services``; the test button sends one message at once and shows the result.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..channels import services as channel_services
from ..choices import NotificationKind
from ..models import NotificationChannel
from ..pages import page


def _kinds(request) -> list[str]:
    return [k for k in request.POST.getlist("kinds") if k]


@login_required
def channels(request):
    """My channels (the account e-mail first made on first visit) and the form to add one."""
    channel_services.account_email_channel(request.user)
    mine = list(NotificationChannel.objects.filter(user=request.user).select_related("user").order_by("id"))
    rows = [(c, channel_services.display_hint(c)) for c in mine]
    return page(request, "cases/channels.html", {"rows": rows, "kinds": NotificationKind.choices,
                                                 "form_url": request.POST.get("url", "")})


@login_required
@require_POST
def channel_add(request):
    """Add a channel from the form (``url``, ``label``, ``kinds``); a bad URL is said, nothing stored."""
    try:
        channel = channel_services.add_channel(user=request.user, url=request.POST.get("url", ""),
                                               label=request.POST.get("label", ""), kinds=_kinds(request))
    except ValidationError as exc:
        for message in exc.message_dict.get("url", []) + exc.message_dict.get("kinds", []):
            messages.error(request, message)
        return redirect("web:channels")
    messages.success(request, _("已添加渠道：%s") % channel)
    return redirect("web:channels")


@login_required
@require_POST
def channel_change(request, pk: int):
    """Change one of my channels: ``op`` = ``kinds`` (with ``kinds``), ``enable``, ``disable``, ``delete``
    or ``test``. Others' channels answer 404."""
    channel = get_object_or_404(NotificationChannel.objects.select_related("user"), pk=pk, user=request.user)
    op = request.POST.get("op", "")
    if op == "test":
        attempt = channel_services.send_test_message(channel)
        if attempt.ok:
            messages.success(request, _("测试消息已发送到 %s。") % channel)
        else:
            messages.error(request, _("测试失败：%s") % (attempt.error or _("渠道未接受消息")))
    elif op == "kinds":
        channel_services.update_channel(channel, kinds=_kinds(request))
        messages.success(request, _("已保存。"))
    elif op in ("enable", "disable"):
        channel_services.update_channel(channel, enabled=op == "enable")
    elif op == "delete" and not channel.is_account_email:
        channel.delete()
        messages.success(request, _("已删除渠道。"))
    else:
        messages.error(request, _("无法执行该操作。"))
    return redirect("web:channels")
