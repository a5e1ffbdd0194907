"""Monthly topics (每月一题), proactive cases (未诉先办) and clearing hotspots (issue 11 §5).

One function per change, each in one transaction with the hotspot row locked, writing one append-only
:class:`cases.models.HotspotEvent` (actor, action, from/to status, time, note, data) — the audit trail of
watching, promoting, raising a proactive case and clearing. A change the hotspot's status does not allow
raises :class:`HotspotStateError` (HTTP 409); bad input raises ``ValidationError`` (HTTP 400).

Who may: watch, promote and clear — supervisor and admin (:data:`MANAGE_ROLES`); raise a proactive case —
supervisor, admin and dispatcher (:data:`RAISE_ROLES`). The API checks the roles; these functions check
states and input.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import CaseKind, HotspotAction, HotspotStatus, Source
from grids.choices import Role

MANAGE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
RAISE_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER})


class HotspotStateError(Exception):
    """The change does not apply to the hotspot in its current status (HTTP 409); ``code`` is stable."""

    def __init__(self, detail: str, code: str = "hotspot_state"):
        super().__init__(detail)
        self.detail = detail
        self.code = code


def _locked(hotspot):
    from cases.models import Hotspot

    pk = hotspot.pk if isinstance(hotspot, Hotspot) else hotspot
    return Hotspot.objects.select_for_update().get(pk=pk)


def _event(hotspot, action, *, actor, at, from_status, note="", data=None):
    from cases.models import HotspotEvent

    return HotspotEvent.objects.create(hotspot=hotspot, actor=actor, action=action, from_status=from_status,
                                       to_status=hotspot.status, at=at, note=note or "", data=data or {})


def _not_cleared(hotspot):
    if hotspot.status == HotspotStatus.CLEARED:
        raise HotspotStateError(_("该高频难点已化解销号。"), code="hotspot_cleared")


def watch(hotspot, *, actor, note: str = "", now: dt.datetime | None = None):
    """Put a new hotspot on the watch list (列入关注): ``new`` → ``watching``. Returns the hotspot."""
    now = now or timezone.now()
    with transaction.atomic():
        hotspot = _locked(hotspot)
        if hotspot.status != HotspotStatus.NEW:
            raise HotspotStateError(_("只有新发现的高频难点可以列入关注。"), code="hotspot_not_new")
        before = hotspot.status
        hotspot.status = HotspotStatus.WATCHING
        hotspot.save(update_fields=["status"])
        _event(hotspot, HotspotAction.WATCHED, actor=actor, at=now, from_status=before, note=note)
    return hotspot


def month_of(day: dt.date) -> dt.date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def promote(hotspot, *, actor, owner, target_date: dt.date, month: dt.date | None = None, note: str = "",
            now: dt.datetime | None = None):
    """Make a hotspot the month's topic (每月一题) with an ``owner`` (an active Cadre) and a ``target_date``.

    ``month`` (any day of it) defaults to the Asia/Shanghai month of ``now``. Status → ``monthly_topic``;
    a :class:`cases.models.MonthlyTopic` row and a ``promoted`` event. Raises ValidationError for a missing
    or inactive owner or a target date before today, HotspotStateError when cleared or already that
    month's topic. Returns the MonthlyTopic.
    """
    from cases.models import MonthlyTopic

    now = now or timezone.now()
    today = timezone.localtime(now, timezone.get_default_timezone()).date()
    if owner is None or not owner.is_active:
        raise ValidationError({"owner": _("请指定在岗的责任人。")})
    if target_date is None or target_date < today:
        raise ValidationError({"target_date": _("目标完成日期不能早于今天。")})
    month = month_of(month or today)
    with transaction.atomic():
        hotspot = _locked(hotspot)
        _not_cleared(hotspot)
        if MonthlyTopic.objects.filter(hotspot=hotspot, month=month).exists():
            raise HotspotStateError(_("该高频难点已是本月的每月一题。"), code="topic_exists")
        before = hotspot.status
        topic = MonthlyTopic.objects.create(hotspot=hotspot, month=month, owner=owner, target_date=target_date,
                                            note=note or "", promoted_by=actor, promoted_at=now)
        hotspot.status = HotspotStatus.MONTHLY_TOPIC
        hotspot.save(update_fields=["status"])
        _event(hotspot, HotspotAction.PROMOTED, actor=actor, at=now, from_status=before, note=note,
               data={"topic_id": topic.pk, "month": month.isoformat(), "owner_id": owner.pk,
                     "target_date": target_date.isoformat()})
    return topic


def raise_proactive_case(hotspot, *, actor, title: str = "", description: str = "", village=None, grid=None,
                         kind: str = CaseKind.SUGGESTION, now: dt.datetime | None = None):
    """Raise a proactive case (未诉先办, source ``proactive``) from a hotspot, linked to it (and to its
    current monthly topic, if any), through :func:`cases.services.create_case`.

    ``title`` defaults to "未诉先办：" + the hotspot's title; ``village``/``grid`` default to the hotspot's
    village (required when it has none); the category is the hotspot's. One ``created`` case event and one
    ``proactive_raised`` hotspot event, in one transaction. Raises HotspotStateError when cleared,
    ValidationError for bad case fields. Returns the new Case.
    """
    from cases import services
    from cases.models import MonthlyTopic, ProactiveLink

    now = now or timezone.now()
    with transaction.atomic():
        hotspot = _locked(hotspot)
        _not_cleared(hotspot)
        if grid is None and village is None:
            village = hotspot.village
        title = (title or "").strip() or (_("未诉先办：") + hotspot.title)[:200]
        case = services.create_case(actor=actor, kind=kind, source=Source.PROACTIVE, title=title,
                                    description=description or "", village=village, grid=grid,
                                    category=hotspot.category, now=now)
        topic = MonthlyTopic.objects.filter(hotspot=hotspot).order_by("-month").first()
        ProactiveLink.objects.create(hotspot=hotspot, case=case, topic=topic)
        _event(hotspot, HotspotAction.PROACTIVE_RAISED, actor=actor, at=now, from_status=hotspot.status,
               data={"case_id": case.pk, "case_number": case.number, "topic_id": topic.pk if topic else None})
    return case


def clear(hotspot, *, actor, note: str, now: dt.datetime | None = None):
    """Clear a hotspot (化解销号): the recurring demand is dealt with. Status → ``cleared`` with
    ``cleared_at``; a ``cleared`` event. ``note`` (how it was solved) is required. Raises
    HotspotStateError when already cleared. Returns the hotspot. A cleared hotspot is never continued by a
    later run: if the demand comes back, a new hotspot is found."""
    now = now or timezone.now()
    if not (note or "").strip():
        raise ValidationError({"note": _("请说明化解情况。")})
    with transaction.atomic():
        hotspot = _locked(hotspot)
        _not_cleared(hotspot)
        before = hotspot.status
        hotspot.status = HotspotStatus.CLEARED
        hotspot.cleared_at = now
        hotspot.active = False
        hotspot.save(update_fields=["status", "cleared_at", "active"])
        _event(hotspot, HotspotAction.CLEARED, actor=actor, at=now, from_status=before, note=note.strip(),
               data={"proactive_cases": hotspot.proactive_links.count()})
    return hotspot


def cleared_per_month(*, start: dt.date | None = None, end: dt.date | None = None, hotspots=None) -> list[dict]:
    """Hotspots cleared per Asia/Shanghai calendar month (the article's "化解高频难点诉求52件"):
    ``[{"month": "2025-03", "cleared": 4}, …]`` oldest first, months without any left out. ``start``/``end``
    (dates, inclusive) bound ``cleared_at``; ``hotspots`` narrows the queryset (a caller's scope)."""
    from cases.models import Hotspot

    tz = timezone.get_default_timezone()
    qs = (Hotspot.objects.all() if hotspots is None else hotspots).filter(cleared_at__isnull=False)
    if start:
        qs = qs.filter(cleared_at__gte=timezone.make_aware(dt.datetime.combine(start, dt.time()), tz))
    if end:
        qs = qs.filter(cleared_at__lt=timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1),
                                                                              dt.time()), tz))
    rows = (qs.annotate(month=TruncMonth("cleared_at", tzinfo=tz)).values("month").annotate(cleared=Count("id"))
            .order_by("month"))
    return [{"month": f"{r['month']:%Y-%m}", "cleared": r["cleared"]} for r in rows]


def hotspots_in_scope(scope, qs=None):
    """``qs`` (Hotspots; default all) narrowed to those ``scope`` (a :class:`grids.scope.Scope`) may see:
    everything town-wide, else the hotspots with a member or proactive case in the scope's cases (DESIGN §1:
    a hotspot is seen where one of its cases is). Used alike by the API, the pages, the map and the dashboard."""
    from cases.models import Case, Hotspot, HotspotMember, ProactiveLink

    qs = Hotspot.objects.all() if qs is None else qs
    if scope.town_wide:
        return qs
    cases = scope.cases(Case.objects.all())
    member = HotspotMember.objects.filter(hotspot_id=OuterRef("pk"), case__in=cases)
    proactive = ProactiveLink.objects.filter(hotspot_id=OuterRef("pk"), case__in=cases)
    return qs.filter(Q(Exists(member)) | Q(Exists(proactive)))
