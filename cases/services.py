"""The case lifecycle: one function per transition (DESIGN §4).

Every function validates, locks the case row, changes it inside one transaction, writes exactly one
CaseEvent and returns the updated Case. A transition not allowed from the current state raises
:class:`TransitionNotAllowed` (HTTP 409); bad arguments raise ``django.core.exceptions.ValidationError``
(HTTP 400). Two racing calls on one case are serialised by the row lock: the second one sees the state
the first one left and raises if its transition no longer applies. Times are aware datetimes (UTC in
storage); ``now`` defaults to ``timezone.now()`` read once per call.
"""
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.models import Grid

from . import hooks, transitions
from .choices import (
    Action,
    CallbackSource,
    DeadlineSource,
    NotificationKind,
    Satisfaction,
    Status,
    Urgency,
)
from .deadlines import (
    ExternalDeadlines,
    apply_deadlines,
    apply_dispatch_deadline,
    apply_external_deadlines,
    extend_resolve_deadline,
    needs_policy_deadlines,
)
from .models import Case, CaseEvent, DailySequence, Notification, SlaPolicy
from .notifications import case_recipients, notify, supervisors
from .transitions import ALLOWED_FROM, TransitionNotAllowed


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware datetime (China has no daylight saving)."""
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def next_case_number(received_at: dt.datetime) -> str:
    """Hand out the next number of the Asia/Shanghai day of ``received_at``: ``XJ20250407-0001``
    (:func:`next_case_numbers` of one). Must run inside a transaction; the day's counter row stays locked
    until it commits, so concurrent calls never collide."""
    return next_case_numbers([received_at])[0]


def next_case_numbers(moments: list[dt.datetime]) -> list[str]:
    """The next case numbers for cases received at ``moments`` (aware datetimes, in the order the numbers
    are handed out): per Asia/Shanghai day, the next ones of the day's counter (``DailySequence``), advanced
    for all of them by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` that creates a missing counter and
    locks each one until the caller's transaction commits. Must run inside a transaction. One mechanism for
    a case logged at the desk and for a chunk of a bulk import."""
    from collections import Counter

    from django.db import connection

    days = [local_date(moment) for moment in moments]
    wanted = Counter(days)
    table = connection.ops.quote_name(DailySequence._meta.db_table)
    with connection.cursor() as c:
        c.execute(f"INSERT INTO {table} (day, last) VALUES {', '.join(['(%s, %s)'] * len(wanted))} "
                  f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + excluded.last RETURNING day, last",
                  [value for day, n in wanted.items() for value in (day, n)])
        last = {(day if isinstance(day, dt.date) else dt.date.fromisoformat(day)): value
                for day, value in c.fetchall()}
    nxt = {day: last[day] - n for day, n in wanted.items()}
    numbers = []
    for day in days:
        nxt[day] += 1
        numbers.append(case_number(day, nxt[day]))
    return numbers


def case_number(day: dt.date, seq: int) -> str:
    """The case number of the ``seq``-th case (1-based) received on the Asia/Shanghai ``day``:
    ``XJ20250407-0001`` (four digits at least)."""
    return f"XJ{day:%Y%m%d}-{seq:04d}"


def _event(case, action, *, actor, at, from_status, note="", data=None) -> CaseEvent:
    event = CaseEvent.objects.create(
        case=case, actor=actor, action=action, from_status=from_status or "", to_status=case.status, at=at,
        note=note, data=data or {},
    )
    hooks.event_recorded(case, event)
    return event


def _transition(case_or_id, *, allowed_from, action, actor, now, change, to_status=None, note="", data=None):
    """Lock the case, check its state, apply ``change(case)``, save, write one event. Returns the case."""
    pk = case_or_id.pk if isinstance(case_or_id, Case) else case_or_id
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("village", "grid").get(pk=pk)
        transitions.check_allowed(case, allowed_from, action)
        from_status = case.status
        extra = change(case) or {}
        if to_status is not None:
            case.status = to_status
        case.next_check_at = case.compute_next_check_at()
        case.save()
        _event(case, action, actor=actor, at=now, from_status=from_status, note=note, data={**(data or {}), **extra})
    return case


def _drop_extension_request(case, *, now) -> dict:
    """Withdraw a pending extension request that the change makes moot (退单, 撤销; 办结 through its step,
    :func:`cases.transitions.drop_extension_request`): the request is cleared and
    :func:`_file_extension_notices`. Returns event data naming the dropped request's ``until`` (ISO), or {}."""
    changes, data = transitions.drop_extension_request(case)
    for name, value in changes.items():
        setattr(case, name, value)
    if data:
        _file_extension_notices(case, now=now)
    return data


def _file_extension_notices(case, *, now) -> None:
    """Mark the supervisors' unread "延期申请" notifications of ``case`` read at ``now`` (aware): its request
    was withdrawn or decided, nothing is left to approve."""
    Notification.objects.filter(case=case, kind=NotificationKind.EXTENSION_REQUESTED,
                                read_at__isnull=True).update(read_at=now)


def _require(value, field, message):
    if value in (None, ""):
        raise ValidationError({field: message})


# --- Intake -----------------------------------------------------------------------------------------


def create_case(*, actor, kind, source, title, village=None, grid=None, category=None, urgency=None,
                description="", complainant_name="", complainant_phone="", address="", lng=None, lat=None,
                external_ref="", source_system="", deadlines: ExternalDeadlines | None = None, received_at=None,
                now=None, **extra_fields) -> Case:
    """Log a new case (登记) in state ``received``; one ``created`` event.

    ``grid`` or ``village`` is required (the grid implies its village; both must agree). ``urgency``
    defaults to the category's default urgency, else ``general``. ``received_at`` (aware) defaults to
    ``now``; imports pass the historical time. ``external_ref`` is the case's id in ``source_system`` (an
    upstream platform, an export's city; empty: this product's own references per source). ``deadlines``
    (:class:`cases.deadlines.ExternalDeadlines`) are the source's own deadlines, which then govern instead of
    the SlaPolicy and run from now on (the case is swept for them before any dispatch). ``extra_fields``
    are further Case fields (``imported=True`` from the importer's replay; the apps above link their own rows
    to the case, e.g. ``reps.RaisedDemand`` and ``reps.VisitCase``, in the caller's transaction). Raises
    ValidationError for a missing or inconsistent field, and for an ``external_ref`` already used by this
    source and system.
    """
    now = now or timezone.now()
    received_at = received_at or now
    _require(title and title.strip(), "title", _("标题不能为空。"))
    if grid is not None:
        if village is not None and grid.village_id != village.pk:
            raise ValidationError({"grid": _("微网格不属于所选村/社区。")})
        village = grid.village
    if village is None:
        raise ValidationError({"village": _("须指定微网格或村/社区。")})
    if external_ref and Case.objects.filter(source=source, source_system=source_system or "",
                                            external_ref=external_ref).exists():
        raise ValidationError({"external_ref": _("该来源的外部编号已存在。")})
    with transaction.atomic():
        case = Case(number=next_case_number(received_at), created_by=actor, **case_values(
            kind=kind, source=source, title=title, village=village, grid=grid, category=category, urgency=urgency,
            description=description, complainant_name=complainant_name, complainant_phone=complainant_phone,
            address=address, lng=lng, lat=lat, external_ref=external_ref, source_system=source_system,
            received_at=received_at), **extra_fields)
        # Every clock runs from receipt (issue 12 §4): the dispatch deadline, and the respond and resolve
        # deadlines, shown from the moment the case is received rather than set at its first dispatch.
        step = transitions.receive(case, source=source, policy=SlaPolicy.objects.filter(urgency=case.urgency).first(),
                                   deadlines=deadlines, now=now)
        transitions.apply(case, step)
        case.full_clean(exclude=["number", "created_by"], validate_unique=False, validate_constraints=False)
        case.save()
        _event(case, step.event["action"], actor=actor, at=now, from_status="", data=step.event["data"])
    return case


def case_values(*, kind, source, title, village, grid=None, category=None, urgency=None, description="",
                complainant_name="", complainant_phone="", address="", lng=None, lat=None, external_ref="",
                source_system="", received_at) -> dict:
    """The Case field values of a new case (pure; :func:`create_case` and the bulk import share it): text
    stripped or blanked, ``urgency`` defaulting to the category's default urgency, else ``general``;
    ``village`` a Village (the grid's), ``grid`` a Grid or None, ``received_at`` aware. Number, creator and
    the deadlines of :func:`cases.transitions.receive` are the caller's."""
    if urgency is None:
        urgency = category.effective_urgency() if category is not None else Urgency.GENERAL
    return {"external_ref": external_ref or "", "kind": kind, "source": source, "category": category,
            "urgency": urgency, "title": title.strip(), "description": description or "",
            "complainant_name": complainant_name or "", "complainant_phone": complainant_phone or "",
            "address": address or "", "village": village, "grid": grid, "lng": lng, "lat": lat,
            "status": Status.RECEIVED, "received_at": received_at, "source_system": source_system or ""}


def dispatch(case, *, actor, grid: Grid, handler=None, note="", now=None) -> Case:
    """Dispatch (派单) or reassign a case to a micro-grid: ``received | returned | dispatched | accepted``
    → ``dispatched``. The deadlines were set at receipt and are kept (the clock started at ``received_at``;
    a case created before its urgency had a SlaPolicy gets them now). ``dispatched_at`` is the first
    dispatch (it meets the dispatch deadline); a reassignment keeps it. ``handler`` (a Cadre) defaults to
    the grid's leader. Notifies the new handler after commit. Dispatching a dispatched or accepted case
    again to the grid (and handler) it already has raises TransitionNotAllowed (``already_dispatched``,
    HTTP 409) instead of writing a second dispatch event; another handler in the same grid is a reassignment.
    """
    now = now or timezone.now()
    if grid is None:
        raise ValidationError({"grid": _("请选择微网格。")})
    handler = handler or grid.leader

    def change(case):
        step = transitions.dispatch(
            case, grid=grid, handler=handler, actor_id=getattr(actor, "pk", None), now=now,
            policy=SlaPolicy.objects.get(urgency=case.urgency) if needs_policy_deadlines(case) else None)
        transitions.apply(case, step)
        case.grid, case.handler = grid, handler  # the objects at hand, for what reads them after the change
        for notice in step.notices:  # the new handler learns of it, unless they dispatched it themselves
            notify([handler.user], kind=notice.kind, title=notice.title, body=notice.body, case=case,
                   dedupe_key=notice.key(case.pk), now=notice.created_at)
        return step.event["data"]

    return _transition(case, allowed_from=ALLOWED_FROM["dispatch"],
                       action=Action.DISPATCHED, actor=actor, now=now, change=change,
                       to_status=Status.DISPATCHED, note=note)


def accept(case, *, actor, handler=None, now=None) -> Case:
    """The grid signs for the case (签收): ``dispatched`` → ``accepted``. Deadlines are kept."""
    now = now or timezone.now()

    def change(case):
        transitions.apply(case, transitions.accept(case, handler_id=handler.pk if handler is not None else None,
                                                   now=now))

    return _transition(case, allowed_from=ALLOWED_FROM["accept"], action=Action.ACCEPTED, actor=actor, now=now,
                       change=change, to_status=Status.ACCEPTED)


def return_case(case, *, actor, reason: str, now=None) -> Case:
    """The grid sends the case back as not its remit (退单): ``dispatched | accepted`` → ``returned``.
    ``reason`` is required. Deadlines keep running."""
    now = now or timezone.now()
    _require(reason and reason.strip(), "reason", _("请填写退单理由。"))
    return _transition(case, allowed_from=ALLOWED_FROM["return"], action=Action.RETURNED,
                       actor=actor, now=now, change=lambda case: _drop_extension_request(case, now=now),
                       to_status=Status.RETURNED,
                       note=reason.strip())


def respond(case, *, actor, note="", now=None) -> Case:
    """The complainant was contacted (联系 / 响应): ``accepted`` → ``responded``; sets ``responded_at``."""
    now = now or timezone.now()

    def change(case):
        transitions.apply(case, transitions.respond(case, now=now, note=note))

    return _transition(case, allowed_from=ALLOWED_FROM["respond"], action=Action.RESPONDED, actor=actor, now=now,
                       change=change, to_status=Status.RESPONDED, note=note)


def resolve(case, *, actor, solved: bool, result: str, now=None) -> Case:
    """Handling finished with an outcome (办结): ``responded`` → ``resolved``.

    Also on the spot (就地解决) straight from ``received``: the case was logged where the problem is,
    so contact, dispatch to its grid and resolution all happen now; deadlines are set from the policy
    so that on-time figures include it. ``solved`` (bool) and a non-empty ``result`` are required.
    """
    now = now or timezone.now()
    if solved is None:
        raise ValidationError({"solved": _("请说明是否解决。")})
    _require(result and result.strip(), "result", _("请填写办理结果。"))

    def change(case):
        step = transitions.resolve(
            case, solved=solved, result=result, leader_id=case.grid.leader_id if case.grid_id else None, now=now,
            policy=(SlaPolicy.objects.get(urgency=case.urgency)
                    if case.status == Status.RECEIVED and needs_policy_deadlines(case) else None))
        transitions.apply(case, step)
        if "extension_request_dropped" in step.event["data"]:
            _file_extension_notices(case, now=now)
        return step.event["data"]

    return _transition(case, allowed_from=ALLOWED_FROM["resolve"], action=Action.RESOLVED,
                       actor=actor, now=now, change=change, to_status=Status.RESOLVED)


def resolve_on_the_spot(*, actor, result: str, solved: bool = True, now=None, **case_fields) -> Case:
    """Log a case found on patrol and resolve it at once (就地解决): two events, ``created`` and ``resolved``.

    ``case_fields`` are those of :func:`create_case` (a ``grid`` is required). Both steps commit together.
    """
    now = now or timezone.now()
    if case_fields.get("grid") is None:
        raise ValidationError({"grid": _("就地解决的诉求须属于一个微网格。")})
    with transaction.atomic():
        case = create_case(actor=actor, now=now, **case_fields)
        return resolve(case, actor=actor, solved=solved, result=result, now=now)


def callback(case, *, actor, contacted: bool, solved: bool | None, satisfaction: str, note="", now=None,
             source: str = CallbackSource.LOCAL) -> Case:
    """Record the call-back (回访) of a resolved case: contacted?, solved?, satisfaction.

    ``source`` (:class:`CallbackSource`) says who called back: the town itself (``local``) or the upstream
    12345 platform (``upstream``, its 市级回访 arriving through ``/api/v1/upstream/orders/{order}/callback/``);
    both count in the three rates, and statistics can be cut by it.

    ``satisfaction`` is one of :class:`Satisfaction`; ``unreachable`` means the complainant could not be
    reached (``contacted`` is then False) and is not a valid callback, so another callback may follow.
    Once a valid callback is recorded, a second one raises TransitionNotAllowed (``callback_recorded``);
    its detail suggests reopening first only when the recorded callback allows a :func:`reopen`
    (unsatisfied or unsolved), and otherwise names the rating recorded.
    """
    now = now or timezone.now()
    if source not in CallbackSource.values:
        raise ValidationError({"source": _("回访来源取值无效。")})
    if satisfaction not in Satisfaction.values:
        raise ValidationError({"satisfaction": _("满意度取值无效。")})
    reachable = satisfaction != Satisfaction.UNREACHABLE
    if reachable and contacted is None:
        raise ValidationError({"contacted": _("请说明是否联系。")})
    if reachable and solved is None:
        raise ValidationError({"solved": _("请说明是否解决。")})

    def change(case):
        if case.satisfaction and case.satisfaction != Satisfaction.UNREACHABLE:
            if _reopenable(case):  # only then may it be handled again and called back after
                raise TransitionNotAllowed(_("该诉求已有有效回访；如需重办请先重办。"), code="callback_recorded")
            raise TransitionNotAllowed(_("该诉求已有有效回访（%(rating)s），不能再次回访。")
                                       % {"rating": case.get_satisfaction_display()}, code="callback_recorded")
        case.callback_at = now
        case.satisfaction = satisfaction
        case.callback_source = source
        case.callback_contacted = bool(contacted) if reachable else False
        case.callback_solved = bool(solved) if reachable else None
        return {"contacted": case.callback_contacted, "solved": case.callback_solved, "satisfaction": satisfaction,
                "source": source}

    return _transition(case, allowed_from=ALLOWED_FROM["callback"], action=Action.CALLBACK, actor=actor, now=now,
                       change=change, note=note)


def _reopenable(case) -> bool:
    """Whether the recorded callback allows a reopen (重办): unsatisfied, or the demand not solved."""
    return case.satisfaction == Satisfaction.UNSATISFIED or case.callback_solved is False


def reopen(case, *, actor, note="", now=None) -> Case:
    """Handle again (重办) after an unsatisfied or unsolved callback: ``resolved`` → ``dispatched`` to the
    same grid, as a new round of handling (issue 12 §1).

    The round that ends is kept whole as a :class:`cases.models.CaseRound` (its deadlines, milestones,
    breach marks, verdicts and callback; :func:`cases.rounds.round_record`) and its verdicts are folded into
    the case's ``earlier_*_late`` flags (:func:`cases.rounds.fold_into_case`), so a late round stays late in
    the statistics and on the overdue list whatever the next round does. The case's columns then start the
    new round: respond and resolve deadlines run from the reopen time with the windows of the case's urgency,
    the round is dispatched at once (so it has no dispatch deadline of its own), and outcome, callback,
    milestones and marks are cleared on the case (also kept in the event's data)."""
    from .models import CaseRound
    from .rounds import fold_into_case, round_record

    now = now or timezone.now()

    def change(case):
        if not _reopenable(case):
            raise TransitionNotAllowed(_("只有回访不满意或未解决的诉求才能重办。"), code="reopen_needs_unsatisfied")

        def iso(moment):
            return moment.isoformat() if moment else None

        previous = {"satisfaction": case.satisfaction, "solved": case.solved, "result": case.result,
                    "responded_at": iso(case.responded_at), "resolved_at": iso(case.resolved_at),
                    "respond_due_at": iso(case.respond_due_at), "resolve_due_at": iso(case.resolve_due_at)}
        record = round_record(case, number=case.round_number, started_at=round_start(case), ended_at=now)
        CaseRound.objects.create(case=case, **{k: v for k, v in record.items() if k != "lateness"})
        fold_into_case(case, record)
        apply_deadlines(case, start=now)
        case.respond_warned_at = case.respond_breached_at = None
        case.resolve_warned_at = case.resolve_breached_at = None
        case.responded_at = None
        case.resolved_at = None
        case.solved = None
        case.result = ""
        case.callback_at = case.callback_contacted = case.callback_solved = None
        case.satisfaction = case.callback_source = ""
        case.accepted_at = None
        return {"previous": previous, "round": case.round_number,
                "round_late": {name: record[f"{name}_late"] for name in ("respond", "resolve")}}

    return _transition(case, allowed_from=ALLOWED_FROM["reopen"], action=Action.REOPENED, actor=actor, now=now,
                       change=change, to_status=Status.DISPATCHED, note=note)


def close(case, *, actor, note="", callback_not_needed: bool = False, now=None) -> Case:
    """Close (结案) a resolved case: ``resolved`` → ``closed``. ``callback_not_needed`` records that it is
    closed without a callback because none is needed (不需回访, e.g. an anonymous enquiry): the event's
    ``data["callback"]`` is ``"not_needed"``; without a valid callback it counts in no rate."""
    now = now or timezone.now()

    def change(case):
        case.closed_at = now
        return {"callback": "not_needed"} if callback_not_needed else {}

    return _transition(case, allowed_from=ALLOWED_FROM["close"], action=Action.CLOSED, actor=actor, now=now,
                       change=change, to_status=Status.CLOSED, note=note)


def cancel(case, *, actor, reason: str, duplicate_of=None, exclude: bool = True, confirm_other_caller: bool = False,
           now=None) -> Case:
    """Cancel (撤销) an invalid, withdrawn or duplicate case from any state before resolution.

    ``duplicate_of`` (a Case) marks it as a repeat of that original (issue 12 §6), which must

    * not itself be a duplicate (never a chain) and not be cancelled: an original is a live case or one
      resolved or closed — ValidationError on ``duplicate_of`` otherwise (HTTP 400);
    * when the two cases name different callers (:func:`cases.text.duplicates.caller_relation` is
      ``different``: both give a phone, or both a platform account, and none agrees), be confirmed with
      ``confirm_other_caller=True`` — ValidationError on ``confirm_other_caller`` otherwise. The event's data
      records ``caller`` (``same``/``different``/``unknown``) and ``confirm_other_caller``.

    ``exclude`` also takes it out of the assessed scope (剔除) with ``reason``.
    """
    from .text.duplicates import caller_relation

    now = now or timezone.now()
    _require(reason and reason.strip(), "reason", _("请填写撤销理由。"))
    if duplicate_of is not None and duplicate_of.duplicate_of_id is not None:
        raise ValidationError({"duplicate_of": _("原诉求本身是重复诉求，请指向最初的诉求。")})

    def change(case):
        extra = {}
        if duplicate_of is not None:
            if duplicate_of.pk == case.pk:
                raise ValidationError({"duplicate_of": _("诉求不能重复于自身。")})
            original = Case.objects.filter(pk=duplicate_of.pk).values(
                "status", "duplicate_of_id", "complainant_phone", "complainant_ref").first()
            if original is None:
                raise ValidationError({"duplicate_of": _("原诉求不存在。")})
            if original["duplicate_of_id"] is not None:
                raise ValidationError({"duplicate_of": _("原诉求本身是重复诉求，请指向最初的诉求。")})
            if original["status"] == Status.CANCELLED:
                raise ValidationError({"duplicate_of": _("原诉求已撤销，不能作为原诉求；请指向未撤销的诉求。")})
            if case.duplicates.exists():
                raise ValidationError({"duplicate_of": _("已有其他诉求标为本诉求的重复，本诉求不能再标为重复。")})
            relation = caller_relation(case.complainant_phone, case.complainant_ref, original["complainant_phone"],
                                       original["complainant_ref"])
            if relation == "different" and not confirm_other_caller:
                raise ValidationError({"confirm_other_caller": _(
                    "原诉求的诉求人与本诉求不同；确认是不同诉求人的重复诉求，请勾选“确认不同诉求人”。")})
            extra = {"caller": relation, "confirm_other_caller": bool(confirm_other_caller)}
        dropped = _drop_extension_request(case, now=now)
        case.cancelled_at = now
        case.duplicate_of = duplicate_of
        if exclude:
            case.excluded = True
            case.exclusion_reason = reason.strip()[:200]
        return {"duplicate_of": duplicate_of.number if duplicate_of else None, "excluded": bool(exclude), **extra,
                **dropped}

    return _transition(case, allowed_from=ALLOWED_FROM["cancel"], action=Action.CANCELLED, actor=actor, now=now,
                       change=change, to_status=Status.CANCELLED, note=reason.strip())


def complex_resolve_window() -> dt.timedelta | None:
    """The resolve window of the ``complex`` SlaPolicy (one query), or None when no such policy exists."""
    from .models import SlaPolicy

    return SlaPolicy.objects.filter(urgency=Urgency.COMPLEX).values_list("resolve_within", flat=True).first()


_UNSET = object()


def latest_extension_until(case, *, complex_window=_UNSET) -> dt.datetime | None:
    """The latest resolve deadline an extension of ``case`` may ask for (aware UTC), or None without a
    resolve deadline.

    Two bounds, both settings-driven (issue 16 §2): the new deadline lies at most
    ``EXTENSION_MAX_DAYS`` (default 30) days after the current one, and the extension adds at most the
    resolve window of the ``complex`` (疑难复杂) SlaPolicy (15 days as seeded, DESIGN §5) — no demand is
    given longer than the hardest kind gets. With the seeded policies the second bound governs (15 days).
    ``complex_window``: that window when the caller already read it (lists), else it is read here.
    """
    from django.conf import settings

    if case.resolve_due_at is None:
        return None
    longest = dt.timedelta(days=int(getattr(settings, "EXTENSION_MAX_DAYS", 30)))
    if complex_window is _UNSET:
        complex_window = complex_resolve_window()
    if complex_window is not None:
        longest = min(longest, complex_window)
    return case.resolve_due_at + longest


def _check_extension_until(case, until, now, *, error):
    """Raise ``error`` (an exception class taking a field dict or a sentence) unless ``until`` is later
    than the current deadline and ``now`` and no later than :func:`latest_extension_until`."""
    if case.resolve_due_at is None or until <= case.resolve_due_at or until <= now:
        raise ValidationError({"until": _("延期时间须晚于当前办结时限和当前时间。")})
    latest = latest_extension_until(case)
    if until > latest:
        local = timezone.localtime(latest, timezone.get_default_timezone())
        message = _("延期时间不能晚于 %(latest)s（当前办结时限后至多%(days)s天）。") % {
            "latest": f"{local:%Y-%m-%d %H:%M}", "days": (latest - case.resolve_due_at).days}
        if error is ValidationError:
            raise ValidationError({"until": message})
        raise TransitionNotAllowed(message, code="extension_too_long")


def request_extension(case, *, actor, until: dt.datetime, reason: str, now=None) -> Case:
    """Ask to move the resolve deadline (申请延期) to ``until`` (aware, later than the current deadline and
    no later than :func:`latest_extension_until`; else ValidationError on ``until``). Allowed while
    dispatched, accepted or responded and no request is pending; supervisors are notified."""
    now = now or timezone.now()
    _require(reason and reason.strip(), "reason", _("请填写延期理由。"))
    if until is None or timezone.is_naive(until):
        raise ValidationError({"until": _("请给出带时区的延期时间。")})

    def change(case):
        if case.extension_requested_until is not None:
            raise TransitionNotAllowed(_("已有待审批的延期申请。"), code="extension_pending")
        _check_extension_until(case, until, now, error=ValidationError)
        case.extension_requested_until = until
        case.extension_reason = reason.strip()[:500]
        notify(supervisors(), kind=NotificationKind.EXTENSION_REQUESTED, title=_("延期申请：%s") % case.number,
               body=reason.strip(), case=case, dedupe_key=f"extension:{case.pk}:{now.isoformat()}", now=now)
        return {"until": until.isoformat()}

    return _transition(case, allowed_from=ALLOWED_FROM["extend"],
                       action=Action.EXTENSION_REQUESTED, actor=actor, now=now, change=change, note=reason.strip())


def approve_extension(case, *, actor, note="", now=None) -> Case:
    """Approve the pending extension (批准延期): only ``resolve_due_at`` moves, to the requested time, with a
    new warning point ahead (:func:`cases.deadlines.extend_resolve_deadline`); the warning and breach of
    the old deadline stay in the events and new ones may follow. A request that is no longer later than
    the current deadline and the present raises TransitionNotAllowed (``extension_stale``), one beyond
    :func:`latest_extension_until` (a request filed before the bounds, or an urgency changed since)
    ``extension_too_long``."""
    now = now or timezone.now()

    def change(case):
        if case.extension_requested_until is None:
            raise TransitionNotAllowed(_("没有待审批的延期申请。"), code="no_extension_pending")
        until = case.extension_requested_until
        if until <= case.resolve_due_at or until <= now:
            raise TransitionNotAllowed(
                _("申请的延期时间已不晚于当前办结时限或当前时间，请驳回后重新申请。"), code="extension_stale")
        _check_extension_until(case, until, now, error=TransitionNotAllowed)
        old_due = case.resolve_due_at
        extend_resolve_deadline(case, until=until, now=now)
        case.extension_requested_until = None
        _file_extension_notices(case, now=now)
        return {"old_resolve_due_at": old_due.isoformat(), "resolve_due_at": case.resolve_due_at.isoformat()}

    return _transition(case, allowed_from=ALLOWED_FROM["approve_extension"],
                       action=Action.EXTENSION_APPROVED, actor=actor, now=now, change=change, note=note)


def decline_extension(case, *, actor, note="", now=None) -> Case:
    """Decline the pending extension (驳回延期); the deadline stays."""
    now = now or timezone.now()

    def change(case):
        if case.extension_requested_until is None:
            raise TransitionNotAllowed(_("没有待审批的延期申请。"), code="no_extension_pending")
        requested = case.extension_requested_until
        case.extension_requested_until = None
        _file_extension_notices(case, now=now)
        return {"requested_until": requested.isoformat()}

    return _transition(case, allowed_from=ALLOWED_FROM["decline_extension"],
                       action=Action.EXTENSION_DECLINED, actor=actor, now=now, change=change, note=note)


def escalate(case, *, actor, note: str, now=None) -> Case:
    """A supervisor's order on a late or hard case (督办); the handler and village leader are notified."""
    now = now or timezone.now()
    _require(note and note.strip(), "note", _("请填写督办意见。"))

    def change(case):
        case.escalated_at = now
        notify(case_recipients(case), kind=NotificationKind.ESCALATED, title=_("督办：%s") % case.number,
               body=note.strip(), case=case, dedupe_key=f"escalated:{case.pk}:{now.isoformat()}", now=now)

    return _transition(case, allowed_from=ALLOWED_FROM["escalate"], action=Action.ESCALATED, actor=actor, now=now,
                       change=change, note=note.strip())


def comment(case, *, actor, note: str, now=None) -> Case:
    """Add a note to the case's timeline (备注), in any state."""
    now = now or timezone.now()
    _require(note and note.strip(), "note", _("备注不能为空。"))
    return _transition(case, allowed_from=ALLOWED_FROM["comment"], action=Action.COMMENTED, actor=actor, now=now,
                       change=lambda c: None, note=note.strip())


def round_start(case) -> dt.datetime:
    """When the case's current round of handling started (aware UTC): the end of its latest finished round
    (:class:`cases.models.CaseRound`, the reopen 重办), or ``received_at`` in the first round (DESIGN §5: a reopened case starts a new round)."""
    from .models import CaseRound

    reopened = (CaseRound.objects.filter(case_id=case.pk).order_by("-number")
                .values_list("ended_at", flat=True).first())
    return reopened or case.received_at


def change_urgency(case, *, actor, urgency: str, note="", now=None) -> Case:
    """A supervisor changes the urgency (issue 12 §2). Set deadlines are recomputed with the new urgency's
    SlaPolicy from the start of the case's current round (:func:`round_start`: ``received_at``, or the
    latest reopen), never from ``received_at`` in a reopened round — unless the case's source set them
    (``deadline_source`` external), which keep governing.

    Marks already recorded (warnings, breaches) are never cleared, whether the deadline moved or not: a
    breach once recorded stays recorded. Changing to the urgency the case already has is refused with
    TransitionNotAllowed code ``urgency_unchanged`` (HTTP 409): no event, no recomputation, so a policy edit
    cannot re-arm a case's deadlines through a "change" to the same urgency. ValidationError for an
    unknown urgency.
    """
    now = now or timezone.now()
    if urgency not in Urgency.values:
        raise ValidationError({"urgency": _("紧急程度取值无效。")})

    def change(case):
        old = case.urgency
        if old == urgency:
            raise TransitionNotAllowed(_("诉求已是该紧急程度，无需调整。"), code="urgency_unchanged")
        case.urgency = urgency
        data = {"old_urgency": old, "urgency": urgency}
        policy = SlaPolicy.objects.filter(urgency=urgency).first()
        if case.deadline_source == DeadlineSource.POLICY and case.respond_due_at is not None:
            start = round_start(case)
            apply_deadlines(case, start=start, policy=policy)
            data["round_start"] = start.isoformat()
        if case.dispatched_at is None:  # still waiting for dispatch: the new urgency's dispatch limit
            apply_dispatch_deadline(case, policy)
        return data

    return _transition(case, allowed_from=ALLOWED_FROM["change_urgency"], action=Action.URGENCY_CHANGED, actor=actor, now=now,
                       change=change, note=note)


def update_from_source(case, *, changes: dict, note="", now=None) -> Case:
    """Record a changed repeat of a case's upstream work order (上级工单更新) and apply it, in any state.

    ``changes``: field → new value for ``title``, ``description``, ``address``, ``kind``, ``urgency``,
    ``category`` (a Category or None), ``complainant_name``, ``complainant_phone``, ``respond_due_at`` and
    ``resolve_due_at`` (the upstream's deadlines, which govern: a deadline already met stays as it was, and
    marks already recorded stay recorded). One ``upstream_updated`` event lists the changed fields with old
    and new values — the complainant's only by name, never their values. Returns the case.
    """
    now = now or timezone.now()
    allowed = {"title", "description", "address", "kind", "urgency", "category", "complainant_name",
               "complainant_phone", "respond_due_at", "resolve_due_at"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not a field an upstream update may change: {', '.join(sorted(unknown))}")

    def change(case):
        def shown(value):
            if isinstance(value, dt.datetime):
                return value.isoformat()
            return getattr(value, "pk", value)

        recorded = {}
        for field, value in changes.items():
            if field in ("respond_due_at", "resolve_due_at"):
                met = case.responded_at if field == "respond_due_at" else case.resolved_at
                if met is not None:
                    continue  # that deadline is decided; moving it now would rewrite history
            old = getattr(case, field)
            if old == value:
                continue
            setattr(case, field, value)
            recorded[field] = ({"changed": True} if field.startswith("complainant_")
                               else {"old": shown(old), "new": shown(value)})
        if {"respond_due_at", "resolve_due_at"} & set(recorded):
            apply_external_deadlines(case, ExternalDeadlines(case.respond_due_at, case.resolve_due_at))
        return {"changed": recorded}

    return _transition(case, allowed_from=tuple(Status), action=Action.UPSTREAM_UPDATED, actor=None, now=now,
                       change=change, note=note)


__all__ = [
    "TransitionNotAllowed", "update_from_source", "create_case", "dispatch", "accept", "return_case", "respond", "resolve",
    "resolve_on_the_spot", "callback", "reopen", "close", "cancel", "request_extension", "approve_extension",
    "decline_extension", "escalate", "comment", "change_urgency", "next_case_number", "latest_extension_until",
]
