"""My notifications (issue 6 §8): the list, mark one or all read."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grids.scope import request_now

from ..models import Notification
from ..pages import page, safe_next


@login_required
def notifications(request):
    """My notifications, newest first (the latest 200), unread ones marked."""
    notes = (Notification.objects.filter(recipient=request.user).select_related("case")
             .order_by("-created_at", "-id")[:200])
    return page(request, "cases/notifications.html", {"notes": notes})


@login_required
@require_POST
def notification_read(request, pk: int):
    """Mark one of my notifications read (others' answer 404)."""
    note = get_object_or_404(Notification, pk=pk, recipient=request.user)
    Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=request_now(request))
    return redirect(safe_next(request, request.POST.get("next"), reverse("web:notifications")))


@login_required
@require_POST
def notifications_read_all(request):
    """Mark all my unread notifications read."""
    marked = Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(
        read_at=request_now(request))
    messages.success(request, _("已将 %(n)s 条通知标为已读。") % {"n": marked})
    return redirect("web:notifications")

