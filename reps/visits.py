"""Weekly village visits (走访接待日, DESIGN §7): working days, planning, missed marking, reminders,
recording, cases raised at a visit, and the cadre's calendar link.

Every state change of a :class:`~reps.models.Visit` goes through a function of this module. Times are
aware datetimes stored in UTC; calendar arithmetic (which day is "today", which ISO week) is done in
Asia/Shanghai, the project's ``TIME_ZONE``. Each function reads the clock once (``now`` defaults to
``timezone.now()``) and passes it down. Logs carry ids and counts only, never names.
"""
import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass, field

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import NotificationKind, Source
from cases.desk.dates import week_range
from cases.desk.sessions import check_begun, day_start
from cases.notifications import notify, supervisors
from cases.services import TransitionNotAllowed, create_case, local_date
from grids.models import Cadre, VillageAssignment, new_calendar_token

from .choices import VisitStatus
from .models import Visit, VisitCase

logger = logging.getLogger(__name__)

WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

#: Visits in these states can be recorded (``missed`` too: a visit recorded late corrects the mark;
#: ``done`` too: a correction of the record).
RECORDABLE = (VisitStatus.PLANNED, VisitStatus.MISSED, VisitStatus.DONE)
#: Visits at which cases can be raised: the ones that did or could take place.
CASE_RAISING = RECORDABLE
#: A recorded end may lie this far after ``now`` (phone clocks drift).
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
#: A reception day is one sitting: a record longer than this is a typing error.
MAX_VISIT_LENGTH = dt.timedelta(hours=24)
#: Upper bound of the recorded counts (far above any village; keeps values inside the integer column).
MAX_COUNT = 100_000
MISSED_BATCH = 200


# --- Working days -------------------------------------------------------------------------------------

_calendar_lock = threading.Lock()
_working_days: dict[int, frozenset[dt.date]] = {}


def working_days(year: int) -> frozenset[dt.date]:
    """The working days of ``year`` in China's official calendar, as a frozenset of dates.

    Source: the ``chinese-calendar`` package (``chinese_calendar.is_workday``), which follows the State
    Council's yearly holiday notice including adjusted working days (调休, some Saturdays and Sundays are
    working days). For a year the package does not cover (it raises ``NotImplementedError``, e.g. a year
    whose notice was published after the installed release) the fallback is Monday–Friday, and one
    warning per year is logged per process. Never raises for a year in 1..9999. Cached per process.
    """
    with _calendar_lock:
        days = _working_days.get(year)
        if days is None:
            first = dt.date(year, 1, 1)
            every = [first + dt.timedelta(n) for n in range((dt.date(year, 12, 31) - first).days + 1)]
            try:
                days = frozenset(d for d in every if chinese_calendar.is_workday(d))
            except NotImplementedError:
                logger.warning(
                    "chinese-calendar has no holiday data for %s: using Monday-Friday as working days of %s",
                    year, year,
                )
                days = frozenset(d for d in every if d.weekday() < 5)
            _working_days[year] = days
        return days


def is_working_day(day: dt.date) -> bool:
    """Whether ``day`` (a date, Asia/Shanghai calendar) is a working day: see :func:`working_days`."""
    return day in working_days(day.year)


def _forget_working_days() -> None:
    """Drop the per-process cache (and so the memory of warnings already logged); for tests."""
    with _calendar_lock:
        _working_days.clear()


# --- ISO weeks ----------------------------------------------------------------------------------------

_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


def parse_iso_week(text: str) -> tuple[int, int]:
    """``"2025-W41"`` (or ``"2025W41"``) → ``(2025, 41)``.

    Raises ValidationError on field ``iso_week`` for another shape or a week the year does not have
    (week 53 exists only in some years).
    """
    match = _ISO_WEEK.match((text or "").strip().upper())
    if match:
        year, week = int(match[1]), int(match[2])
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return year, week
    raise ValidationError({"iso_week": _("周次须为 ISO 8601 格式（如 2025-W41），且该年有此周：%s") % text})


def iso_week_label(day: dt.date) -> str:
    """The ISO week of a date as stored in ``Visit.iso_week``: ``2025-10-09`` → ``"2025-W41"``."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(iso_week: str) -> list[dt.date]:
    """The seven dates, Monday to Sunday, of ``iso_week`` (``"2025-W41"``). Raises like :func:`parse_iso_week`."""
    year, week = parse_iso_week(iso_week)
    monday = dt.date.fromisocalendar(year, week, 1)
    return [monday + dt.timedelta(n) for n in range(7)]


def current_week(now: dt.datetime) -> str:
    """The ISO week containing the Asia/Shanghai date of ``now`` (aware)."""
    return iso_week_label(local_date(now))


def next_week(now: dt.datetime) -> str:
    """The ISO week after the one containing the Asia/Shanghai date of ``now`` (aware)."""
    return iso_week_label(local_date(now) + dt.timedelta(days=7))


# --- Planning -----------------------------------------------------------------------------------------


@dataclass
class PlanReport:
    """What :func:`plan_week` found for one week.

    ``visits``: ``(visit, created)`` for every visit of an assignment active that week, in village code
    order; ``created`` is False for a visit an earlier run made. ``not_due``: cadre–village pairs whose
    assignment covers only an ordinary weekend of that week (no visit owed).
    """

    iso_week: str
    monday: dt.date
    visits: list[tuple[Visit, bool]] = field(default_factory=list)
    not_due: int = 0

    @property
    def created(self) -> int:
        return sum(1 for _visit, created in self.visits if created)

    @property
    def existing(self) -> int:
        return len(self.visits) - self.created

    def as_dict(self) -> dict:
        """JSON-ready summary (a Celery task's return value)."""
        by_status: dict[str, int] = {}
        for visit, _created in self.visits:
            by_status[str(visit.status)] = by_status.get(str(visit.status), 0) + 1
        return {"iso_week": self.iso_week, "created": self.created, "existing": self.existing,
                "not_due": self.not_due, "by_status": by_status}


def _covers(assignment: VillageAssignment, day: dt.date) -> bool:
    return assignment.start_date <= day and (assignment.end_date is None or day <= assignment.end_date)


def _decide(days: list[dt.date], assignments: list[VillageAssignment]):
    """Apply the planning rule to one cadre–village pair in one week.

    Returns ``(planned_date, status, assignment)`` or None when no visit is owed.
    """
    active = [d for d in days if any(_covers(a, d) for a in assignments)]
    for day in active:
        if is_working_day(day):
            return day, VisitStatus.PLANNED, _covering(assignments, day)
    # No working day among the active days. If one of them is Monday–Friday, a holiday took it: record the
    # skipped week. If they are only an ordinary Saturday/Sunday, nothing was owed.
    lost = [d for d in active if d.weekday() < 5]
    if lost:
        return None, VisitStatus.SKIPPED_HOLIDAY, _covering(assignments, lost[0])
    return None


def _covering(assignments: list[VillageAssignment], day: dt.date) -> VillageAssignment:
    return max((a for a in assignments if _covers(a, day)), key=lambda a: (a.start_date, a.pk))


def plan_week(iso_week: str, now: dt.datetime | None = None) -> PlanReport:
    """Create the visits of one ISO week (``"2025-W41"``), once each; returns a :class:`PlanReport`.

    Rule (DESIGN §7, issue 7): every ``VillageAssignment`` active on at least one day of the week, whose
    cadre is active, gets one visit for that cadre, village and week, on the **first working day**
    (:func:`is_working_day`, China's official calendar with adjusted working days) **from Monday on that
    lies within the assignment's dates**. So a week whose Monday is a working day has its visit on Monday;
    when Monday is a holiday, the next working day of the same week (2025-W41: Monday 2025-10-06 is in the
    National Day holiday, the visit is on Thursday 2025-10-09; an adjusted working Saturday or Sunday
    counts too); an assignment starting on a Wednesday has that week's visit on the first working day
    from Wednesday; one ending on a Tuesday, on Monday or Tuesday.

    When no day of the week within the assignment's dates is a working day:
    - if one of those days is a Monday–Friday (so a holiday took it), the visit is stored with status
      ``skipped_holiday`` and **no planned date** (``planned_date`` null: no day was planned; find it by
      ``iso_week``), e.g. 2026-W08, the Spring Festival week;
    - if those days are only an ordinary Saturday and/or Sunday (an assignment starting on a Saturday),
      no visit is owed and none is stored (counted in ``PlanReport.not_due``).

    Two assignments of the same cadre to the same village in one week (a reassignment) count as one
    pair, their days together. Idempotent: a visit that exists for a cadre, village and week (unique
    constraint ``visit_once_per_week``) is kept as it is, whatever its status, so any number of runs, and
    concurrent runs, leave one visit. The rule does not depend on ``now``: planning a week that has
    begun or passed gives the same dates (such visits are then marked missed by :func:`mark_missed`
    unless recorded). ``now`` (aware) is only read for symmetry with the other services.

    Raises ValidationError (field ``iso_week``) for a malformed week; writes nothing then.
    """
    now = now or timezone.now()
    days = week_days(iso_week)
    year, week = parse_iso_week(iso_week)
    label = f"{year}-W{week:02d}"
    monday, sunday = days[0], days[-1]
    assignments = (
        VillageAssignment.objects.filter(start_date__lte=sunday, cadre__is_active=True)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=monday))
        .select_related("cadre", "village")
        .order_by("village__code", "cadre_id", "start_date", "pk")
    )
    pairs: dict[tuple[int, int], list[VillageAssignment]] = {}
    for assignment in assignments:
        pairs.setdefault((assignment.cadre_id, assignment.village_id), []).append(assignment)

    report = PlanReport(iso_week=label, monday=monday)
    with transaction.atomic():
        for (cadre_id, village_id), group in pairs.items():
            decision = _decide(days, group)
            if decision is None:
                report.not_due += 1
                continue
            planned_date, status, assignment = decision
            visit, created = Visit.objects.get_or_create(
                cadre_id=cadre_id, village_id=village_id, iso_week=label,
                defaults={"planned_date": planned_date, "status": status, "assignment": assignment},
            )
            visit.cadre, visit.village = group[0].cadre, group[0].village
            report.visits.append((visit, created))
    logger.info("planned visits of %s: %s", label, report.as_dict())
    return report


# --- Missed visits and reminders ----------------------------------------------------------------------


@dataclass
class MissedReport:
    """What :func:`mark_missed` did: visits marked ``missed`` and notifications stored."""

    marked: int = 0
    notified: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"marked": self.marked, "notified": self.notified}


#: What a planned visit is shown as once its day has come: due on the day, overdue from the day after
#: until the nightly marking (:func:`mark_missed`) stores it as ``missed`` (issue 16, defect 10).
SHOWN_DUE, SHOWN_OVERDUE = "due", "overdue"


def shown_state(status: str, planned_date: dt.date | None, today: dt.date) -> tuple[str, str]:
    """How a visit reads on the pages: ``(key, label)``.

    ``status`` is the stored :class:`VisitStatus` value, ``planned_date`` and ``today`` Asia/Shanghai dates.
    A ``planned`` visit is ``due`` ("今日走访") on its planned date and ``overdue`` ("逾期未记录") after it —
    the same rule by which :func:`mark_missed` marks it ``missed`` (planned date before today), shown before
    the marking has run; every other state reads as stored. Pure: no database access.
    """
    if status == VisitStatus.PLANNED and planned_date is not None:
        if planned_date < today:
            return SHOWN_OVERDUE, _("逾期未记录")
        if planned_date == today:
            return SHOWN_DUE, _("今日走访")
    return status, VisitStatus(status).label


def _day_label(day: dt.date) -> str:
    return f"{day:%Y-%m-%d}（{WEEKDAY_NAMES[day.weekday()]}）"


def mark_missed(now: dt.datetime | None = None) -> MissedReport:
    """Mark every ``planned`` visit whose planned date is before today (Asia/Shanghai date of ``now``)
    as ``missed`` and notify the supervisors (DESIGN §7: the daily task at 00:30 catches yesterday's).

    Each visit is claimed by compare-and-set (only a row still ``planned`` changes), and each supervisor
    gets one notification per visit (kind ``visit_missed``, dedupe key ``visit_missed:<visit id>``), stored
    in the same transaction as the change and e-mailed after commit. A rerun, or a concurrent run, marks
    and notifies nothing twice. Works in batches of ``MISSED_BATCH`` visits. Returns a :class:`MissedReport`.
    """
    now = now or timezone.now()
    today = local_date(now)
    report = MissedReport()
    due = list(
        Visit.objects.filter(status=VisitStatus.PLANNED, planned_date__lt=today)
        .order_by("planned_date", "pk").values_list("pk", flat=True)
    )
    recipients = list(supervisors())
    for start in range(0, len(due), MISSED_BATCH):
        batch = due[start:start + MISSED_BATCH]
        with transaction.atomic():
            claimed = list(
                Visit.objects.select_for_update(of=("self",))
                .filter(pk__in=batch, status=VisitStatus.PLANNED)
                .select_related("cadre", "village")
            )
            Visit.objects.filter(pk__in=[v.pk for v in claimed]).update(status=VisitStatus.MISSED)
            for visit in claimed:
                report.marked += 1
                notes = notify(
                    recipients, kind=NotificationKind.VISIT_MISSED,
                    title=_("走访未记录：%(village)s %(day)s")
                    % {"village": visit.village.short_name, "day": _day_label(visit.planned_date)},
                    body=_("包村干部%(cadre)s计划于%(day)s（%(week)s）到%(village)s走访接待，至今未记录，"
                           "已标记为未走访。")
                    % {"cadre": visit.cadre.name, "day": _day_label(visit.planned_date),
                       "week": week_range(visit.iso_week, today=local_date(now)),
                       "village": visit.village.short_name},
                    dedupe_key=f"visit_missed:{visit.pk}", now=now,
                )
                report.notified += len(notes)
    if report.marked:
        logger.info("marked %s visits missed, %s notifications", report.marked, report.notified)
    return report


@dataclass
class ReminderReport:
    """What :func:`send_reminders` did: for ``day``, cadres reminded, and visits whose cadre has no login."""

    day: dt.date
    reminded: int = 0
    without_login: int = 0

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "reminded": self.reminded, "without_login": self.without_login}


def visit_hours() -> tuple[dt.time, dt.time]:
    """``settings.VISIT_START_TIME`` and ``VISIT_END_TIME`` ("HH:MM", Asia/Shanghai wall time) as times.

    Raises ImproperlyConfigured when either is malformed or the end is not after the start.
    """
    try:
        start = dt.time.fromisoformat(settings.VISIT_START_TIME)
        end = dt.time.fromisoformat(settings.VISIT_END_TIME)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured("VISIT_START_TIME / VISIT_END_TIME must be HH:MM") from exc
    if end <= start:
        raise ImproperlyConfigured("VISIT_END_TIME must be after VISIT_START_TIME")
    return start, end


def send_reminders(now: dt.datetime | None = None) -> ReminderReport:
    """Remind each cadre of tomorrow's visits: the evening-before reminder of DESIGN §7 / issue 7.

    "Tomorrow" is the Asia/Shanghai date of ``now`` plus one day (the daily task runs at 18:00). Every
    ``planned`` visit on that date whose cadre has an active login gets one notification to that login
    (kind ``visit_reminder``, dedupe key ``visit_reminder:<visit id>``) and ``reminded_at = now``, claimed by
    compare-and-set on ``reminded_at`` being empty, so a rerun reminds nobody twice. Visits whose cadre has
    no login are counted in ``without_login`` and left unreminded. Returns a :class:`ReminderReport`.
    """
    now = now or timezone.now()
    day = local_date(now) + dt.timedelta(days=1)
    report = ReminderReport(day=day)
    start, end = visit_hours()
    visits = (
        Visit.objects.filter(status=VisitStatus.PLANNED, planned_date=day, reminded_at__isnull=True)
        .select_related("cadre__user", "village").order_by("pk")
    )
    for visit in visits:
        user = visit.cadre.user
        if user is None or not user.is_active:
            report.without_login += 1
            continue
        with transaction.atomic():
            if not Visit.objects.filter(pk=visit.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            notify(
                [user], kind=NotificationKind.VISIT_REMINDER,
                title=_("明日走访接待日：%s") % visit.village.short_name,
                body=_("%(day)s %(start)s–%(end)s 到%(village)s走访接待（%(week)s）。")
                % {"day": _day_label(day), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}",
                   "village": visit.village.short_name, "week": week_range(visit.iso_week, today=local_date(now))},
                dedupe_key=f"visit_reminder:{visit.pk}", now=now,
            )
            report.reminded += 1
    return report


# --- Recording and cases raised -----------------------------------------------------------------------


def _count(value, name: str, errors: dict) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = _("须为整数。")
        return None
    if value < 0:
        errors[name] = _("不能为负数。")
    elif value > MAX_COUNT:
        errors[name] = _("数值过大（上限 %s）。") % MAX_COUNT
    return value


def _visit_pk(visit_or_id) -> int:
    return visit_or_id.pk if isinstance(visit_or_id, Visit) else int(visit_or_id)


def record_visit(visit, *, actor, started_at: dt.datetime, ended_at: dt.datetime, households_visited: int,
                 people_received: int, notes: str = "", now: dt.datetime | None = None) -> Visit:
    """Record how a visit went; its status becomes ``done``. Returns the updated Visit.

    ``visit``: a Visit or its id. ``started_at`` / ``ended_at``: aware datetimes (any zone, stored in UTC);
    the end must be after the start, at most 24 hours later and not after ``now`` (5 minutes' tolerance
    for phone clocks); the start must fall (Asia/Shanghai date) within the visit's ISO week, since a visit
    made in another week belongs to that week. ``households_visited`` / ``people_received``: ints ≥ 0.
    ``notes``: free text. ``actor``: the user recording (stored as ``recorded_by``); who may record is the
    caller's (API's) check.

    A ``planned`` visit is recorded; a ``missed`` one too (recorded late, the mark is corrected); a ``done``
    one is corrected. Raises ValidationError naming the fields at fault (nothing is written), and
    :class:`cases.services.TransitionNotAllowed` (code ``visit_not_recordable``, HTTP 409) for a visit that
    is ``cancelled`` or ``skipped_holiday``.
    """
    now = now or timezone.now()
    errors: dict[str, str] = {}
    for name, value in (("started_at", started_at), ("ended_at", ended_at)):
        if not isinstance(value, dt.datetime):
            errors[name] = _("请填写时间。")
        elif timezone.is_naive(value):
            errors[name] = _("时间须带时区。")
    households_visited = _count(households_visited, "households_visited", errors)
    people_received = _count(people_received, "people_received", errors)
    if notes is not None and not isinstance(notes, str):
        errors["notes"] = _("记录须为文本。")
    if "started_at" not in errors and "ended_at" not in errors:
        if ended_at <= started_at:
            errors["ended_at"] = _("结束时间须晚于开始时间。")
        elif ended_at - started_at > MAX_VISIT_LENGTH:
            errors["ended_at"] = _("一次走访不超过24小时。")
        elif ended_at > now + CLOCK_TOLERANCE:
            errors["ended_at"] = _("结束时间不能晚于当前时间。")
    with transaction.atomic():
        locked = Visit.objects.select_for_update(of=("self",)).get(pk=_visit_pk(visit))
        if locked.status not in RECORDABLE:
            raise TransitionNotAllowed(
                _("该走访状态为“%s”，不能记录。") % locked.get_status_display(), code="visit_not_recordable"
            )
        if "started_at" not in errors and iso_week_label(local_date(started_at)) != locked.iso_week:
            errors["started_at"] = _("走访时间须在该走访所属的周（%s）内。") % week_range(locked.iso_week,
                                                                                 today=local_date(now))
        if errors:
            raise ValidationError(errors)
        locked.started_at, locked.ended_at = started_at, ended_at
        locked.households_visited, locked.people_received = households_visited, people_received
        locked.notes = (notes or "").strip()
        locked.recorded_by = actor
        locked.status = VisitStatus.DONE
        locked.save(update_fields=["started_at", "ended_at", "households_visited", "people_received", "notes",
                                   "recorded_by", "status"])
    return locked


def cancel_visit(visit, *, actor, reason: str, now: dt.datetime | None = None) -> Visit:
    """Call off a visit that has not taken place (e.g. the town convenes its cadres that day): ``planned``
    or ``missed`` → ``cancelled``; ``reason`` (required) goes into ``notes``, ``actor`` into ``recorded_by``.

    A cancelled visit counts as due but not visited in the coverage statistics. Returns the Visit; raises
    ValidationError (``reason``) for an empty reason and TransitionNotAllowed (``visit_not_cancellable``)
    from another state. ``now`` is accepted for symmetry (nothing time-dependent is stored).
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": _("请填写取消理由。")})
    with transaction.atomic():
        locked = Visit.objects.select_for_update(of=("self",)).get(pk=_visit_pk(visit))
        if locked.status not in (VisitStatus.PLANNED, VisitStatus.MISSED):
            raise TransitionNotAllowed(
                _("该走访状态为“%s”，不能取消。") % locked.get_status_display(), code="visit_not_cancellable"
            )
        locked.status = VisitStatus.CANCELLED
        locked.notes = reason.strip()
        locked.recorded_by = actor
        locked.save(update_fields=["status", "notes", "recorded_by"])
    return locked


def raise_case_at_visit(visit, *, actor, **case_fields):
    """Log a case raised by a resident at a visit: ``cases.services.create_case`` with source ``visit`` and
    the visit's village, linked to the visit by a :class:`~reps.models.VisitCase` row in the same
    transaction, so it counts in the visit's statistics. Returns the Case.

    ``case_fields``: the other arguments of ``create_case`` (``kind``, ``title``, optional ``grid`` — which
    must lie in the visit's village —, ``category``, ``description``, ``now``…). Passing ``source``,
    ``village`` or ``visit`` that disagree with the visit raises ValidationError on that field. A visit
    that is ``cancelled`` or ``skipped_holiday`` raises TransitionNotAllowed (``visit_not_recordable``);
    cases may be raised while the visit is still ``planned`` (logged during the reception, recorded
    after) — but not before its planned day has begun (ValidationError on ``visit``; the rule receptions
    follow, :mod:`cases.desk.sessions`) — or once it is ``missed``/``done``. Other errors are those of
    ``create_case``.
    """
    visit = Visit.objects.select_related("village").get(pk=_visit_pk(visit))
    if visit.status not in CASE_RAISING:
        raise TransitionNotAllowed(
            _("该走访状态为“%s”，不能登记诉求。") % visit.get_status_display(), code="visit_not_recordable"
        )
    case_fields["now"] = case_fields.get("now") or timezone.now()  # one clock for the check and the case
    if visit.planned_date is not None and visit.status == VisitStatus.PLANNED:
        # One rule with receptions (cases.desk.sessions): demands are raised only once the session has begun.
        check_begun(day_start(visit.planned_date), case_fields["now"], field="visit", what="raise")
    for name, expected in (("source", Source.VISIT), ("village", visit.village), ("visit", visit)):
        if name in case_fields:
            given = case_fields.pop(name)
            if getattr(given, "pk", given) != getattr(expected, "pk", expected):
                raise ValidationError({name: _("走访中登记的诉求须与该走访一致。")})
    with transaction.atomic():
        case = create_case(actor=actor, source=Source.VISIT, village=visit.village, **case_fields)
        VisitCase.objects.create(case=case, visit=visit)
    return case


# --- Calendar link ------------------------------------------------------------------------------------


def rotate_calendar_token(cadre: Cadre) -> str:
    """Give ``cadre`` a new secret calendar link; the old link stops working at once (404).

    Returns the new token (43 URL-safe characters). Saves only that column.
    """
    cadre.calendar_token = new_calendar_token()
    cadre.save(update_fields=["calendar_token"])
    logger.info("calendar link of cadre %s rotated", cadre.pk)
    return cadre.calendar_token


#: How far back the calendar feed goes; older visits drop out of the cadre's calendar.
FEED_DAYS_BACK = 90


def calendar_feed(cadre: Cadre, now: dt.datetime | None = None) -> bytes:
    """The cadre's visits as an iCalendar file (RFC 5545, built with ``icalendar``). Returns UTF-8 bytes.

    One VEVENT per ``planned`` or ``done`` visit with a planned date from ``FEED_DAYS_BACK`` days before
    today (Asia/Shanghai) onwards: ``UID`` ``visit-<id>@xiji-grid``; ``DTSTART``/``DTEND`` in Asia/Shanghai
    with a ``TZID`` (a VTIMEZONE is included) — the planned date at ``VISIT_START_TIME``–``VISIT_END_TIME``,
    or for a done visit its recorded start and end; ``SUMMARY`` 走访接待日：<village>; ``STATUS``
    CONFIRMED. Missed, cancelled and skipped visits are left out.
    """
    import icalendar

    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    start, end = visit_hours()
    since = local_date(now) - dt.timedelta(days=FEED_DAYS_BACK)
    visits = (
        cadre.visits.filter(status__in=(VisitStatus.PLANNED, VisitStatus.DONE), planned_date__gte=since)
        .select_related("village").order_by("planned_date", "village__code")
    )
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Xiji Grid//visits//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", _("走访接待日"))
    cal.add("x-wr-timezone", str(zone))
    first = None
    for visit in visits:
        if visit.status == VisitStatus.DONE and visit.started_at and visit.ended_at:
            begins, ends = timezone.localtime(visit.started_at, zone), timezone.localtime(visit.ended_at, zone)
        else:
            begins = dt.datetime.combine(visit.planned_date, start, tzinfo=zone)
            ends = dt.datetime.combine(visit.planned_date, end, tzinfo=zone)
        event = icalendar.Event()
        event.add("uid", f"visit-{visit.pk}@xiji-grid")
        event.add("dtstamp", now)
        event.add("dtstart", begins)
        event.add("dtend", ends)
        event.add("summary", _("走访接待日：%s") % visit.village.short_name)
        event.add("location", visit.village.name)
        event.add("description", f"{week_range(visit.iso_week, today=local_date(now))} · {visit.get_status_display()}")
        event.add("status", "CONFIRMED")
        cal.add_component(event)
        first = first or begins.date()
    if first is not None:
        cal.add_missing_timezones(first_date=first, last_date=local_date(now) + dt.timedelta(days=3 * 365))
    return cal.to_ical()
