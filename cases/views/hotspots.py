"""Hotspots (高频难点, issue 11) for the command centre: the table of hotspots hottest first with a sparkline
of their heat, and one hotspot with its figures, cases, history and the supervisor's steps — watch (列入关注),
promote to the month's topic (每月一题), raise a proactive case (未诉先办), clear (化解销号). Every change is
one call of :mod:`cases.text.topics`; scope as in the API (a hotspot is seen where one of its cases is)."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grids.models import Cadre
from grids.scope import local_today, request_now, request_scope

from ..choices import HotspotStatus
from ..models import Case, Hotspot, HotspotMember, ProactiveLink
from ..pages import page
from ..text import topics

#: Who sees the hotspot pages: the roles that watch the whole town's demands.
PAGE_ROLES = topics.RAISE_ROLES
SPARK_DAYS = 30


def _hotspots(scope):
    return (topics.hotspots_in_scope(scope, Hotspot.objects.select_related("category", "village")
                              .prefetch_related("villages", "snapshots")).distinct())


def _spark(hotspot) -> list[float]:
    return [s.heat for s in hotspot.recent_snapshots(SPARK_DAYS)]


def _allowed(scope):
    if not scope.roles & PAGE_ROLES:
        raise PermissionDenied


def next_analysis(now: dt.datetime) -> dt.datetime:
    """When the nightly hotspot analysis (the beat entry ``find-hotspots``, a daily crontab) next runs, local
    time; 02:10 if the schedule names no single daily time."""
    from django.conf import settings
    from django.utils import timezone

    schedule = settings.CELERY_BEAT_SCHEDULE.get("find-hotspots", {}).get("schedule")
    hour, minute = 2, 10
    if getattr(schedule, "hour", None) and getattr(schedule, "minute", None):
        hour, minute = min(schedule.hour), min(schedule.minute)
    local = timezone.localtime(now)
    run = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run > local else run + dt.timedelta(days=1)


@login_required
def hotspot_list(request):
    """The hotspots in scope, hottest first; ``?status=`` narrows to one status, ``?all=1`` shows cleared
    and inactive ones too (default: active and not cleared)."""
    scope = request_scope(request)
    _allowed(scope)
    qs = _hotspots(scope).order_by("-heat", "id")
    status = request.GET.get("status", "")
    if status in HotspotStatus.values:
        qs = qs.filter(status=status)
    elif not request.GET.get("all"):
        qs = qs.filter(active=True).exclude(status=HotspotStatus.CLEARED)
    rows = [(h, _spark(h)) for h in qs[:100]]
    return page(request, "cases/hotspots.html", {"rows": rows, "status": status, "statuses": HotspotStatus.choices,
                                                 "show_all": bool(request.GET.get("all")),
                                                 "next_analysis": next_analysis(request_now(request))})


@login_required
def hotspot_detail(request, pk: int):
    """One hotspot in scope (404 otherwise): figures, sparkline, its cases in the user's scope, its events,
    and the steps this user may take."""
    scope, now = request_scope(request), request_now(request)
    _allowed(scope)
    hotspot = get_object_or_404(_hotspots(scope), pk=pk)
    scoped = scope.cases(Case.objects.all())
    members = (HotspotMember.objects.filter(hotspot=hotspot, case__in=scoped)
               .select_related("case__village").order_by("-in_window", "-similarity", "case_id")[:50])
    proactive = ProactiveLink.objects.filter(hotspot=hotspot, case__in=scoped).select_related("case__village")
    manage = bool(scope.roles & topics.MANAGE_ROLES)
    open_ = hotspot.status != HotspotStatus.CLEARED
    return page(request, "cases/hotspot_detail.html", {
        "hotspot": hotspot, "spark": _spark(hotspot), "members": members, "proactive": proactive,
        "events": hotspot.events.select_related("actor").order_by("at", "id"),
        "may_watch": manage and hotspot.status == HotspotStatus.NEW, "may_manage": manage and open_,
        "may_raise": bool(scope.roles & topics.RAISE_ROLES) and open_,
        "owners": Cadre.objects.filter(is_active=True).order_by("name") if manage else [],
        "today": local_today(now),
    })


@login_required
@require_POST
def hotspot_act(request, pk: int, step: str):
    """POST one step (``watch``, ``promote``, ``proactive``, ``clear``) on a hotspot in scope; refusals
    come back as a message on the hotspot's page, nothing changed."""
    scope, now = request_scope(request), request_now(request)
    hotspot = get_object_or_404(_hotspots(scope), pk=pk)
    roles = topics.RAISE_ROLES if step == "proactive" else topics.MANAGE_ROLES
    if step not in ("watch", "promote", "proactive", "clear") or not scope.roles & roles:
        raise PermissionDenied
    data = request.POST
    try:
        if step == "watch":
            topics.watch(hotspot, actor=request.user, note=data.get("note", "")[:2000], now=now)
            messages.success(request, _("已列入关注。"))
        elif step == "clear":
            topics.clear(hotspot, actor=request.user, note=data.get("note", "")[:2000], now=now)  # refuses no note
            messages.success(request, _("已化解销号。"))
        elif step == "promote":
            owner_id = data.get("owner", "")
            owner = Cadre.objects.filter(pk=int(owner_id)).first() if owner_id.isdigit() else None
            try:
                target = dt.date.fromisoformat(data.get("target_date", ""))
            except ValueError:
                raise ValidationError(_("请填写目标日期（YYYY-MM-DD）。")) from None
            topics.promote(hotspot, actor=request.user, owner=owner, target_date=target,
                           note=data.get("note", "")[:2000], now=now)
            messages.success(request, _("已列为每月一题。"))
        else:
            village_id = data.get("village", "")
            village = hotspot.villages.filter(pk=int(village_id)).first() if village_id.isdigit() else None
            if village is None and hotspot.village_id and village_id == str(hotspot.village_id):
                village = hotspot.village
            case = topics.raise_proactive_case(hotspot, actor=request.user, title=data.get("title", "")[:200],
                                               description=data.get("description", "")[:20000], village=village,
                                               now=now)
            messages.success(request, _("已发起未诉先办诉求 %(number)s。") % {"number": case.number})
            return redirect("web:case-detail", case.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except topics.HotspotStateError as exc:
        messages.warning(request, exc.detail)
    return redirect("web:hotspot-detail", hotspot.pk)
