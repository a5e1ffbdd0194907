"""State changes of the liaison stations: receptions, deputy-raised demands, the deputy's steps (DESIGN §8).

Cases are created and moved only through ``cases.services``: a demand raised by a deputy is
``create_case(source="deputy")`` plus a :class:`~reps.models.RaisedDemand` row in one transaction; the
deputy's follow-up note is ``comment`` and the deputy's rating is ``callback``, both with the deputy's
login as the actor, so the five steps can be read back from the case's events (``reps.selectors``).

Errors: bad arguments raise ``django.core.exceptions.ValidationError`` naming the field (HTTP 400); a
change not allowed in the reception's or case's current state raises ``cases.services.TransitionNotAllowed``
(HTTP 409); a user acting for a deputy they are not raises ``django.core.exceptions.PermissionDenied``
(HTTP 403). Times are aware datetimes (UTC in storage); ``now`` defaults to ``timezone.now()`` read once.
"""
import datetime as dt

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import services as case_services
from cases.choices import Action, NotificationKind, Source
from cases.desk.sessions import check_begun, check_ended_by_now
from cases.models import Case
from cases.notifications import notify
from cases.services import TransitionNotAllowed, local_date
from grids.choices import Role

from .choices import ReceptionStatus
from .models import Deputy, LiaisonStation, RaisedDemand, Reception

#: How many weeks ahead planned receptions are created when ``RECEPTION_PLAN_WEEKS`` is not set (≈ a month).
DEFAULT_PLAN_WEEKS = 4


#: How far back and ahead of now an extra reception may start (days): the window the receptions list shows
#: planned ones in (``reps.views.receptions``), so that every reception planned by hand is listed there.
#: Settings ``RECEPTION_WINDOW_PAST_DAYS`` / ``RECEPTION_WINDOW_AHEAD_DAYS`` override them.
DEFAULT_WINDOW_PAST_DAYS, DEFAULT_WINDOW_AHEAD_DAYS = 14, 42


def window_days() -> tuple[int, int]:
    """``(past, ahead)`` in days: the settings above, default 14 and 42."""
    return (int(getattr(settings, "RECEPTION_WINDOW_PAST_DAYS", DEFAULT_WINDOW_PAST_DAYS)),
            int(getattr(settings, "RECEPTION_WINDOW_AHEAD_DAYS", DEFAULT_WINDOW_AHEAD_DAYS)))


def reception_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``(earliest, latest)``: the starts an extra reception may have, and the planned ones the receptions
    list shows — two weeks before ``now`` to six weeks after it unless the settings above say otherwise."""
    past, ahead = window_days()
    return now - dt.timedelta(days=past), now + dt.timedelta(days=ahead)


def plan_weeks() -> int:
    """The planning horizon in weeks: setting ``RECEPTION_PLAN_WEEKS`` (env var of the same name), default 4."""
    return int(getattr(settings, "RECEPTION_PLAN_WEEKS", DEFAULT_PLAN_WEEKS))


def local_moment(day: dt.date, at: dt.time) -> dt.datetime:
    """The aware datetime of wall-clock time ``at`` on Asia/Shanghai calendar date ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, at), timezone.get_default_timezone())


def deputy_of(user) -> Deputy | None:
    """The active Deputy whose login is ``user``, or None (anonymous users and non-deputies)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Deputy.objects.select_related("station").filter(user=user, is_active=True).first()


def link_login(deputy: Deputy, user) -> Deputy:
    """Make ``user`` the login of ``deputy`` and put it in the ``deputy`` group (DESIGN §1).

    A login already linked to another deputy is moved (the link is one-to-one). Returns the deputy.
    """
    with transaction.atomic():
        Deputy.objects.filter(user=user).exclude(pk=deputy.pk).update(user=None)
        user.groups.add(Group.objects.get_or_create(name=Role.DEPUTY)[0])
        if deputy.user_id != user.pk:
            deputy.user = user
            deputy.save(update_fields=["user"])
    return deputy


# --- Receptions ---------------------------------------------------------------------------------------


def _dates_on_weekday(first: dt.date, last: dt.date, weekday: int):
    """Dates from ``first`` to ``last`` inclusive whose ISO weekday is ``weekday`` (1 = Monday)."""
    day = first + dt.timedelta(days=(weekday - first.isoweekday()) % 7)
    while day <= last:
        yield day
        day += dt.timedelta(days=7)


def plan_receptions(*, weeks: int | None = None, now: dt.datetime | None = None, stations=None) -> int:
    """Create the planned receptions of every active station's regular reception day for the coming weeks.

    Window: Asia/Shanghai dates from tomorrow to today + 7 × ``weeks`` days inclusive (``weeks`` default
    :func:`plan_weeks`), so each station with a regular weekday has exactly ``weeks`` regular receptions
    ahead. Each new reception starts and ends at the station's regular times and has the station's
    active deputies on duty. Idempotent: at most one regular reception per station and date (a unique
    constraint), so repeated or concurrent runs create nothing twice, and a reception cancelled or
    moved by hand is never recreated. ``stations``: optional queryset/iterable to limit the run.
    Returns how many receptions were created.
    """
    now = now or timezone.now()
    weeks = plan_weeks() if weeks is None else weeks
    if weeks < 0:
        raise ValidationError({"weeks": _("周数不能为负。")})
    today = local_date(now)
    first, last = today + dt.timedelta(days=1), today + dt.timedelta(days=7 * weeks)
    if stations is None:
        stations = LiaisonStation.objects.filter(is_active=True, reception_weekday__isnull=False)
    created = 0
    for station in stations:
        if not station.is_active or station.reception_weekday is None:
            continue
        on_duty = list(station.deputies.filter(is_active=True))
        for day in _dates_on_weekday(first, last, station.reception_weekday):
            with transaction.atomic():
                reception, is_new = Reception.objects.get_or_create(
                    station=station, date=day, regular=True,
                    defaults={"starts_at": local_moment(day, station.reception_starts),
                              "ends_at": local_moment(day, station.reception_ends),
                              "status": ReceptionStatus.PLANNED, "created_at": now},
                )
                if is_new:
                    reception.deputies.set(on_duty)
                    created += 1
    return created


def send_reception_reminders(*, now: dt.datetime | None = None) -> int:
    """Remind the deputies on duty of tomorrow's planned receptions (Asia/Shanghai dates), the day before.

    Each active deputy with an active login among a reception's ``deputies`` gets one in-app notification
    of kind ``reception_reminder`` (e-mailed after commit); the dedupe key ``reception-reminder:<id>`` is
    stored once per recipient, so running this any number of times reminds each deputy once.
    Returns how many notifications were created now.
    """
    now = now or timezone.now()
    tomorrow = local_date(now) + dt.timedelta(days=1)
    receptions = (Reception.objects.filter(date=tomorrow, status=ReceptionStatus.PLANNED)
                  .select_related("station__village").prefetch_related("deputies__user"))
    created = 0
    for reception in receptions:
        users = [d.user for d in reception.deputies.all()
                 if d.is_active and d.user_id is not None and d.user.is_active]
        if not users:
            continue
        start = timezone.localtime(reception.starts_at, timezone.get_default_timezone())
        end = timezone.localtime(reception.ends_at, timezone.get_default_timezone())
        title = _("明日接待：%(station)s %(date)s %(start)s") % {
            "station": reception.station.name, "date": f"{start:%m-%d}", "start": f"{start:%H:%M}"}
        body = _("%(station)s，%(start)s–%(end)s，地点：%(address)s。") % {
            "station": reception.station.name, "start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%H:%M}",
            "address": reception.station.address or reception.station.village.short_name}
        with transaction.atomic():
            created += len(notify(users, kind=NotificationKind.RECEPTION_REMINDER, title=title, body=body,
                                  dedupe_key=f"reception-reminder:{reception.pk}", now=now))
    return created


def _check_window(starts_at, ends_at):
    """A reception's times: aware, the end after the start and on the same (Asia/Shanghai) day, so that
    "日期 09:00–11:00" as the pages show it is the whole reception."""
    if starts_at is None or timezone.is_naive(starts_at):
        raise ValidationError({"starts_at": _("请给出带时区的开始时间。")})
    if ends_at is None or timezone.is_naive(ends_at):
        raise ValidationError({"ends_at": _("请给出带时区的结束时间。")})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间须晚于开始时间。")})
    if local_date(ends_at) != local_date(starts_at):
        raise ValidationError({"ends_at": _("接待须在开始当天（%(date)s）结束，结束时间不能在次日或之后。") % {
            "date": local_date(starts_at).isoformat()}})


def _fmt(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _check_plannable(starts_at, now):
    """An extra reception starts within :func:`reception_window` (else it would never be listed)."""
    earliest, latest = reception_window(now)
    if not earliest <= starts_at <= latest:
        past, ahead = window_days()
        raise ValidationError({"starts_at": _(
            "开始时间须在 %(earliest)s 至 %(latest)s 之间（%(past)d 天前至 %(ahead)d 天后），"
            "超出此范围的接待不会出现在接待列表中。")
            % {"earliest": _fmt(earliest), "latest": _fmt(latest), "past": past, "ahead": ahead}})


def _check_no_overlap(station, starts_at, ends_at):
    """No other reception of ``station`` (cancelled ones aside) overlaps ``starts_at``–``ends_at``."""
    other = (Reception.objects.filter(station=station, starts_at__lt=ends_at, ends_at__gt=starts_at)
             .exclude(status=ReceptionStatus.CANCELLED).order_by("starts_at", "pk").first())
    if other is not None:
        end = timezone.localtime(other.ends_at)
        raise ValidationError({"starts_at": _(
            "与%(station)s已有的接待（%(start)s–%(end)s）时间重叠，请另选时间。") % {
            "station": station.name, "start": _fmt(other.starts_at), "end": f"{end:%H:%M}"}})


def create_reception(*, actor, station: LiaisonStation, starts_at: dt.datetime, ends_at: dt.datetime,
                     deputies=(), notes: str = "", now: dt.datetime | None = None) -> Reception:
    """Plan an extra (not regular) reception of ``station`` from ``starts_at`` to ``ends_at`` (aware).

    ``deputies``: Deputy rows on duty (any active deputy; usually the station's). ``actor`` is accepted
    for symmetry with the other services (receptions keep no author until recorded). Returns the
    reception, status ``planned``. Raises ValidationError for a missing or inactive station, a naive or
    inverted time window or one ending on a later day, a start outside :func:`reception_window` (on
    ``starts_at``), a time overlapping another (not cancelled) reception of the station (on
    ``starts_at``, naming it), or an inactive deputy.
    """
    now = now or timezone.now()
    if station is None or not station.is_active:
        raise ValidationError({"station": _("请选择启用中的代表联络站。")})
    _check_window(starts_at, ends_at)
    _check_plannable(starts_at, now)
    deputies = list(deputies)
    if any(not d.is_active for d in deputies):
        raise ValidationError({"deputies": _("不能安排已离任的代表。")})
    with transaction.atomic():
        # one planner at a time per station, so two overlapping receptions cannot both pass the check
        LiaisonStation.objects.select_for_update().filter(pk=station.pk).first()
        _check_no_overlap(station, starts_at, ends_at)
        reception = Reception.objects.create(
            station=station, date=local_date(starts_at), starts_at=starts_at, ends_at=ends_at, regular=False,
            status=ReceptionStatus.PLANNED, notes=(notes or "").strip(), created_at=now,
        )
        reception.deputies.set(deputies)
    return reception


def _locked_reception(reception) -> Reception:
    pk = reception.pk if isinstance(reception, Reception) else reception
    return Reception.objects.select_for_update(of=("self",)).select_related("station").get(pk=pk)


def record_reception(reception, *, actor, deputies, residents_received: int, notes: str = "",
                     starts_at: dt.datetime | None = None, ends_at: dt.datetime | None = None,
                     now: dt.datetime | None = None) -> Reception:
    """Record a reception as held (接待记录): ``planned | held`` → ``held`` (a held one may be corrected).

    ``deputies``: the Deputy rows present (at least one, all active); ``residents_received``: a count
    ≥ 0; ``starts_at``/``ends_at`` (aware) optionally correct the planned times. A session is recorded
    only once it has begun (the rule visits follow, :mod:`cases.desk.sessions`): a start after ``now``
    raises ValidationError on ``starts_at``, a given end after ``now`` one on ``ends_at``; recorded while
    still going on without an end given, it ends ``now``. Sets ``recorded_at`` = ``now`` and
    ``recorded_by`` = ``actor``. Raises TransitionNotAllowed for a cancelled reception and ValidationError
    for bad values. Returns the reception.
    """
    now = now or timezone.now()
    deputies = list(deputies or [])
    if not deputies:
        raise ValidationError({"deputies": _("请至少选择一位到场代表。")})
    if any(not d.is_active for d in deputies):
        raise ValidationError({"deputies": _("不能记录已离任的代表。")})
    if residents_received is None or int(residents_received) < 0:
        raise ValidationError({"residents_received": _("接待人数须为不小于0的整数。")})
    with transaction.atomic():
        reception = _locked_reception(reception)
        if reception.status == ReceptionStatus.CANCELLED:
            raise TransitionNotAllowed(_("接待已取消，不能记录。"), code="reception_cancelled")
        new_start, new_end = starts_at or reception.starts_at, ends_at or reception.ends_at
        # One rule with visits (cases.desk.sessions): a session is recorded as held only once it has begun.
        if new_start is not None and not timezone.is_naive(new_start):
            check_begun(new_start, now, field="starts_at")
        if ends_at is None and new_end is not None and new_start is not None and new_start < now < new_end:
            new_end = now  # recorded while it is still going on: it has lasted until now
        _check_window(new_start, new_end)
        if ends_at is not None:
            check_ended_by_now(new_end, now)
        if local_date(new_start) != reception.date and reception.regular:
            raise ValidationError({"starts_at": _("固定接待日的接待不能改到其他日期。")})
        reception.starts_at, reception.ends_at = new_start, new_end
        reception.date = local_date(new_start)
        reception.status = ReceptionStatus.HELD
        reception.residents_received = int(residents_received)
        reception.notes = (notes or "").strip()
        reception.recorded_at = now
        reception.recorded_by = actor
        reception.save()
        reception.deputies.set(deputies)
    return reception


def cancel_reception(reception, *, actor, reason: str, now: dt.datetime | None = None) -> Reception:
    """Cancel a planned reception (取消): ``planned`` → ``cancelled``; ``reason`` is required and kept in
    ``notes``. A cancelled regular reception is never planned again. Raises TransitionNotAllowed unless
    planned."""
    now = now or timezone.now()
    if not (reason and reason.strip()):
        raise ValidationError({"reason": _("请填写取消理由。")})
    with transaction.atomic():
        reception = _locked_reception(reception)
        if reception.status != ReceptionStatus.PLANNED:
            raise TransitionNotAllowed(_("只有计划中的接待可以取消。"), code="reception_not_planned")
        reception.status = ReceptionStatus.CANCELLED
        reception.cancelled_at = now
        reception.notes = reason.strip()
        reception.save(update_fields=["status", "cancelled_at", "notes"])
    return reception


# --- Deputy-raised demands and the deputy's steps of the loop -----------------------------------------


def raise_demand(*, actor, kind: str, title: str, deputy: Deputy | None = None, reception: Reception | None = None,
                 village=None, grid=None, category=None, urgency: str | None = None, description: str = "",
                 complainant_name: str = "", complainant_phone: str = "", address: str = "",
                 received_at: dt.datetime | None = None, now: dt.datetime | None = None) -> Case:
    """A demand raised by a deputy (collect, 收集): a case with source ``deputy`` and its RaisedDemand.

    ``deputy`` defaults to the deputy whose login is ``actor``. With a ``reception``, the deputy must be a
    deputy of its station or on its duty list, the reception must not be cancelled, and the station is the
    reception's, and it must have begun (:mod:`cases.desk.sessions`; ValidationError on ``reception``);
    without one, the station is the deputy's. The other arguments are those of
    ``cases.services.create_case`` (``grid`` or ``village`` required). Case and link commit together.
    Returns the Case (state ``received``). Raises ValidationError (no/inactive deputy, deputy not at
    this reception, case fields) or TransitionNotAllowed (cancelled reception).
    """
    now = now or timezone.now()
    if deputy is None:
        deputy = deputy_of(actor)
    if deputy is None:
        raise ValidationError({"deputy": _("请指定提出诉求的人大代表。")})
    if not deputy.is_active:
        raise ValidationError({"deputy": _("该代表已离任。")})
    with transaction.atomic():
        station = deputy.station
        if reception is not None:
            reception = _locked_reception(reception)
            if reception.status == ReceptionStatus.CANCELLED:
                raise TransitionNotAllowed(_("接待已取消，不能登记诉求。"), code="reception_cancelled")
            check_begun(reception.starts_at, now, field="reception", what="raise")
            if deputy.station_id != reception.station_id and not reception.deputies.filter(pk=deputy.pk).exists():
                raise ValidationError({"deputy": _("该代表不属于本联络站，也不在本次接待的代表名单中。")})
            station = reception.station
        case = case_services.create_case(
            actor=actor, kind=kind, source=Source.DEPUTY, title=title, village=village, grid=grid,
            category=category, urgency=urgency, description=description, complainant_name=complainant_name,
            complainant_phone=complainant_phone, address=address, received_at=received_at, now=now,
        )
        RaisedDemand.objects.create(case=case, deputy=deputy, station=station, reception=reception, raised_at=now)
    return case


def _raising_deputy(case, actor) -> RaisedDemand:
    """The RaisedDemand of ``case`` when ``actor`` is the raising deputy's login; PermissionDenied otherwise."""
    demand = RaisedDemand.objects.select_related("deputy").filter(case_id=case.pk).first()
    if demand is None:
        raise ValidationError({"case": _("该诉求不是代表提出的诉求。")})
    if actor is None or demand.deputy.user_id is None or demand.deputy.user_id != actor.pk:
        raise PermissionDenied(_("只有提出该诉求的代表本人可以执行此操作。"))
    return demand


def follow_up(case, *, actor, note: str, now: dt.datetime | None = None) -> Case:
    """The raising deputy's follow-up note (跟踪督办, the loop's "supervise" step when nothing was escalated):
    a ``commented`` event whose actor is the deputy's login, through ``cases.services.comment``.

    Raises PermissionDenied unless ``actor`` is the raising deputy's login, ValidationError on ``note``
    for an empty note. Returns the case.
    """
    _raising_deputy(case, actor)
    if not (note or "").strip():
        raise ValidationError({"note": _("请填写跟踪督办说明。")})
    return case_services.comment(case, actor=actor, note=note, now=now)


def evaluate(case, *, actor, contacted: bool, solved: bool | None, satisfaction: str, note: str = "",
             now: dt.datetime | None = None) -> Case:
    """The raising deputy's rating of a resolved case (评价, the loop's last step), recorded as the
    case's callback (``cases.services.callback``) with the deputy's login as the caller.

    Arguments as for ``callback``: ``contacted``/``solved`` booleans, ``satisfaction`` one of
    ``cases.choices.Satisfaction``. Raises PermissionDenied unless ``actor`` is the raising deputy's
    login, TransitionNotAllowed unless the case is resolved and has no valid callback yet — rated
    already, it says so with the rating given (code ``callback_recorded``; a deputy cannot reopen).
    """
    _raising_deputy(case, actor)
    try:
        return case_services.callback(case, actor=actor, contacted=contacted, solved=solved,
                                      satisfaction=satisfaction, note=note, now=now)
    except TransitionNotAllowed as exc:
        if exc.code != "callback_recorded":
            raise
        rated = Case.objects.get(pk=case.pk)
        last = rated.events.filter(action=Action.CALLBACK).order_by("-at", "-id").first()
        label = rated.get_satisfaction_display()
        if last is not None and last.actor_id == actor.pk:
            detail = _("该诉求已评价（%(rating)s），不能再次评价。") % {"rating": label}
        else:
            detail = _("该诉求已有回访结果（%(rating)s），不能再次评价。") % {"rating": label}
        raise TransitionNotAllowed(detail, code="callback_recorded") from exc


__all__ = [
    "DEFAULT_PLAN_WEEKS", "DEFAULT_WINDOW_PAST_DAYS", "DEFAULT_WINDOW_AHEAD_DAYS", "window_days", "reception_window",
    "plan_weeks", "local_moment", "deputy_of", "link_login", "plan_receptions",
    "send_reception_reminders", "create_reception", "record_reception", "cancel_reception", "raise_demand",
    "follow_up", "evaluate",
]
