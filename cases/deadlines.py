"""Deadlines and the sweep that marks warnings and breaches, 7×24 (DESIGN §5).

Deadlines are wall-clock: ``received_at`` + the windows of the case's SlaPolicy, every hour of every
day. The sweep is state-based: it reads the stored ``next_check_at`` (partial index), so its cost follows
the number of cases that are due, not the number open; a sweep after an outage catches up on all that
fell due. Each case is claimed under a row lock with ``SKIP LOCKED`` and re-checked, so two sweeps at
once never record or notify twice. Whether a deadline was met is derived from the timestamps
(``responded_at <= respond_due_at``), never from whether a sweep ran.

The instant itself (:mod:`cases.boundary`, one rule everywhere): a warning point or deadline has passed
iff ``now > point``, a deadline is met iff ``done_at <= due``. A sweep exactly at a deadline records
nothing; 1 µs later it records the breach, stamped with the deadline.
"""
import dataclasses
import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .boundary import has_passed, met, passed_q
from .choices import Action, DeadlineSource, NotificationKind
from .models import Case, CaseEvent, SlaPolicy

logger = logging.getLogger(__name__)


def apply_deadlines(case: Case, *, start: dt.datetime | None = None) -> None:
    """Set the case's respond and resolve due and warning times from the SlaPolicy of its urgency (in
    memory; the caller saves).

    ``respond_due_at = start + respond_within`` and ``resolve_due_at = start + resolve_within``, where
    ``start`` (aware) is ``received_at`` unless given (a reopened case starts a new round at the reopen
    time). Warning points sit at ``warning_share`` of each window (DESIGN §5).
    Raises ``SlaPolicy.DoesNotExist`` when no policy exists for the urgency.
    """
    policy = SlaPolicy.objects.get(urgency=case.urgency)
    start = start or case.received_at
    case.deadline_source = DeadlineSource.POLICY
    case.respond_due_at = start + policy.respond_within
    case.resolve_due_at = start + policy.resolve_within
    case.respond_warn_at = policy.warning_at(start, case.respond_due_at)
    case.resolve_warn_at = policy.warning_at(start, case.resolve_due_at)


@dataclasses.dataclass(frozen=True)
class ExternalDeadlines:
    """Deadlines that a case's source sets itself and that govern instead of the SlaPolicy (DESIGN §5): an
    upstream 12345 work order's own respond and resolve deadlines, or an export's own due time (Boston's
    ``target_dt``). Aware datetimes; None = the source sets no such deadline, so the case has none (it is
    never late on it)."""

    respond_due_at: dt.datetime | None = None
    resolve_due_at: dt.datetime | None = None


def apply_external_deadlines(case: Case, deadlines: ExternalDeadlines) -> None:
    """Give the case its source's own deadlines (in memory; the caller saves) and mark them as governing
    (``deadline_source = external``): dispatch, on-the-spot resolution and urgency changes then keep them.

    Warning points sit at the ``warning_share`` of the urgency's SlaPolicy (75 % if none) of the way from
    ``received_at`` to each deadline; a deadline at or before ``received_at`` has no warning point.
    """
    policy = SlaPolicy.objects.filter(urgency=case.urgency).first()
    share = float(policy.warning_share) if policy is not None else 0.75
    case.deadline_source = DeadlineSource.EXTERNAL
    case.respond_due_at = deadlines.respond_due_at
    case.resolve_due_at = deadlines.resolve_due_at
    for due_field, warn_field in (("respond_due_at", "respond_warn_at"), ("resolve_due_at", "resolve_warn_at")):
        due = getattr(case, due_field)
        start = case.received_at
        setattr(case, warn_field, start + (due - start) * share if due is not None and due > start else None)


def apply_dispatch_deadline(case: Case) -> None:
    """Set the case's dispatch deadline (issue 12 §4) from the SlaPolicy of its urgency (in memory; the caller
    saves): ``dispatch_due_at = received_at + dispatch_within``, the warning at ``warning_share`` of that
    window. Kept through urgency changes and returns; none when no policy or no ``dispatch_within``."""
    policy = SlaPolicy.objects.filter(urgency=case.urgency).first()
    if policy is None or policy.dispatch_within is None or case.received_at is None:
        case.dispatch_due_at = case.dispatch_warn_at = None
        return
    case.dispatch_due_at = case.received_at + policy.dispatch_within
    case.dispatch_warn_at = policy.warning_at(case.received_at, case.dispatch_due_at)


def needs_policy_deadlines(case: Case) -> bool:
    """Whether the case still waits for the deadlines of its SlaPolicy (set at the first dispatch): not when
    they are set already, nor when its source's own deadlines govern."""
    return case.deadline_source == DeadlineSource.POLICY and case.respond_due_at is None


def extend_resolve_deadline(case: Case, *, until: dt.datetime, now: dt.datetime) -> None:
    """Move ``resolve_due_at`` to ``until`` (an approved extension; in memory, the caller saves).

    Only the resolve deadline moves. Its new warning point sits at ``warning_share`` of the way from the
    approval (``now``) to ``until``, so the warning for the new deadline still lies ahead; the marks of
    the old deadline are cleared on the case (they stay in the events) so the new ones can be recorded.
    """
    policy = SlaPolicy.objects.get(urgency=case.urgency)
    case.resolve_due_at = until
    case.resolve_warn_at = policy.warning_at(now, until)
    case.resolve_warned_at = case.resolve_breached_at = None


@dataclasses.dataclass
class SweepReport:
    """Counts of what one sweep recorded."""

    cases: int = 0
    respond_warnings: int = 0
    respond_breaches: int = 0
    resolve_warnings: int = 0
    resolve_breaches: int = 0
    dispatch_warnings: int = 0
    dispatch_breaches: int = 0
    notifications: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


_MARKS = (
    # (deadline, field of the point in time, field marked, met-at field, event action, is breach)
    ("dispatch", "dispatch_warn_at", "dispatch_warned_at", "dispatched_at", Action.DISPATCH_WARNING, False),
    ("dispatch", "dispatch_due_at", "dispatch_breached_at", "dispatched_at", Action.DISPATCH_BREACH, True),
    ("respond", "respond_warn_at", "respond_warned_at", "responded_at", Action.RESPOND_WARNING, False),
    ("respond", "respond_due_at", "respond_breached_at", "responded_at", Action.RESPOND_BREACH, True),
    ("resolve", "resolve_warn_at", "resolve_warned_at", "resolved_at", Action.RESOLVE_WARNING, False),
    ("resolve", "resolve_due_at", "resolve_breached_at", "resolved_at", Action.RESOLVE_BREACH, True),
)


def sweep(now: dt.datetime | None = None, *, batch_size: int = 500, notify: bool = True) -> SweepReport:
    """Record every warning and breach due at ``now`` (aware; default the current time), once each.

    Warnings are stamped with their warning point, breaches with the deadline itself. Resolve breaches
    are escalated to the supervisors (an ``escalated`` event); the handler and the village's chief grid
    leader are notified of every mark, the supervisors also of breaches; notifications are stored with
    the marks and e-mailed after commit. Works in batches of ``batch_size`` cases. Returns a SweepReport.
    ``notify=False`` records the same marks and escalations but sends no notifications: a historical
    replay (``cases.replay``) uses it so that years-old deadlines do not flood anyone's inbox.
    """
    from .notifications import case_recipients
    from .notifications import notify as notify_users

    now = now or timezone.now()
    report = SweepReport()
    cursor = None  # keyset pagination over (next_check_at, pk): each batch starts after the last one seen
    while True:
        due = Case.objects.due_for_sweep(now)
        if cursor is not None:
            due = due.filter(Q(next_check_at__gt=cursor[0]) | Q(next_check_at=cursor[0], pk__gt=cursor[1]))
        batch = list(due.order_by("next_check_at", "pk").values_list("next_check_at", "pk")[:batch_size])
        if not batch:
            break
        cursor = batch[-1]
        for _when, pk in batch:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("village__chief_grid_leader__user", "grid__leader__user", "handler__user")
                    .filter(pk=pk).filter(passed_q("next_check_at", now)).first()
                )
                if case is None:  # another sweep holds it or has done it
                    continue
                report.cases += 1
                for deadline, point_field, mark_field, met_field, action, breach in _MARKS:
                    point = getattr(case, point_field)
                    met_at = getattr(case, met_field)
                    if getattr(case, mark_field) is not None or not has_passed(point, now):
                        continue
                    if breach:
                        if met(met_at, point):
                            continue
                    elif met_at is not None:
                        continue
                    setattr(case, mark_field, point)
                    _record_mark(case, action, point, deadline, now)
                    setattr(report, f"{deadline}_{'breaches' if breach else 'warnings'}",
                            getattr(report, f"{deadline}_{'breaches' if breach else 'warnings'}") + 1)
                    escalate = breach and deadline == "resolve" and case.is_open
                    if escalate:
                        case.escalated_at = now
                        CaseEvent.objects.create(
                            case=case, actor=None, action=Action.ESCALATED, from_status=case.status,
                            to_status=case.status, at=now, note=_("办结超时，自动提请督办。"),
                            data={"automatic": True, "deadline": point.isoformat()},
                        )
                    title = {
                        Action.RESPOND_WARNING: _("响应预警：%s"), Action.RESPOND_BREACH: _("响应超时：%s"),
                        Action.RESOLVE_WARNING: _("办结预警：%s"), Action.RESOLVE_BREACH: _("办结超时：%s"),
                        Action.DISPATCH_WARNING: _("派单预警：%s"), Action.DISPATCH_BREACH: _("派单超时：%s"),
                    }[action] % case.number
                    if notify:
                        report.notifications += len(notify_users(
                            case_recipients(case, supervisors_too=breach), kind=NotificationKind(action.value),
                            title=title, body=case.title, case=case,
                            dedupe_key=f"{action}:{case.pk}:{point.isoformat()}", now=now,
                        ))
                case.next_check_at = case.compute_next_check_at()
                case.save(update_fields=["dispatch_warned_at", "dispatch_breached_at", "respond_warned_at",
                                         "respond_breached_at", "resolve_warned_at",
                                         "resolve_breached_at", "escalated_at", "next_check_at", "updated_at"])
    if report.cases:
        logger.info("deadline sweep at %s: %s", now.isoformat(), report.as_dict())
    return report


def _record_mark(case: Case, action: str, point: dt.datetime, deadline: str, now: dt.datetime) -> None:
    CaseEvent.objects.create(
        case=case, actor=None, action=action, from_status=case.status, to_status=case.status, at=point,
        data={"deadline": deadline, "point": point.isoformat(), "swept_at": now.isoformat()},
    )
