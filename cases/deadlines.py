"""Deadlines and the sweep that marks warnings and breaches, 7×24 (DESIGN §5).

Deadlines are wall-clock: ``received_at`` + the windows of the case's SlaPolicy, every hour of every
day. The sweep is state-based: it reads the stored ``next_check_at`` (partial index), so its cost follows
the number of cases that are due, not the number open; a sweep after an outage catches up on all that
fell due. Due cases are claimed in batches under row locks with ``SKIP LOCKED`` and written set-based, one
transaction per batch (:func:`sweep`), so two sweeps at once never record or notify twice. Which marks a
case owes is decided by one pure function, :func:`cases.marks.sweep_outcome`, on every path. Whether a
deadline was met is derived from the timestamps (``responded_at <= respond_due_at``), never from whether a
sweep ran.

The instant itself (:mod:`cases.boundary`, one rule everywhere): a warning point or deadline has passed
iff ``now > point``, a deadline is met iff ``done_at <= due``. A sweep exactly at a deadline records
nothing; 1 µs later it records the breach, stamped with the deadline.
"""
import dataclasses
import datetime as dt
import json
import logging

from django.db import NotSupportedError, connection, transaction
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from .boundary import iso_utc, passed_q
from .bulk import array_literal
from .choices import Action, DeadlineSource, NotificationKind, Status
from .marks import STATE_COLUMNS, SWEPT_COLUMNS, Mark, sweep_outcome
from .models import Case, CaseEvent, SlaPolicy

logger = logging.getLogger(__name__)


def policy_deadlines(start: dt.datetime, policy: SlaPolicy) -> dict[str, object]:
    """The respond and resolve deadlines and warning points of a round that starts at ``start`` (aware) under
    ``policy`` (the SlaPolicy of the case's urgency), as Case column values: ``respond_due_at = start +
    respond_within``, ``resolve_due_at = start + resolve_within``, warning points at ``warning_share`` of
    each window (DESIGN §5), ``deadline_source = policy``. Pure: the careful and the bulk lifecycle share it."""
    respond_due = start + policy.respond_within
    resolve_due = start + policy.resolve_within
    return {"deadline_source": DeadlineSource.POLICY, "respond_due_at": respond_due, "resolve_due_at": resolve_due,
            "respond_warn_at": policy.warning_at(start, respond_due),
            "resolve_warn_at": policy.warning_at(start, resolve_due)}


def apply_deadlines(case: Case, *, start: dt.datetime | None = None, policy: SlaPolicy | None = None) -> None:
    """Set the case's respond and resolve due and warning times from the SlaPolicy of its urgency (in
    memory; the caller saves): :func:`policy_deadlines` from ``start`` (aware), which is ``received_at``
    unless given (a reopened case starts a new round at the reopen time).
    ``policy``: the urgency's SlaPolicy when the caller has it already (else read here). Raises
    ``SlaPolicy.DoesNotExist`` when no policy exists for the urgency.
    """
    policy = policy or SlaPolicy.objects.get(urgency=case.urgency)
    _set(case, policy_deadlines(start or case.received_at, policy))


def _set(case, changes: dict) -> None:
    for name, value in changes.items():
        setattr(case, name, value)


@dataclasses.dataclass(frozen=True)
class ExternalDeadlines:
    """Deadlines that a case's source sets itself and that govern instead of the SlaPolicy (DESIGN §5): an
    upstream 12345 work order's own respond and resolve deadlines, or an export's own due time (Boston's
    ``target_dt``). Aware datetimes; None = the source sets no such deadline, so the case has none (it is
    never late on it)."""

    respond_due_at: dt.datetime | None = None
    resolve_due_at: dt.datetime | None = None


def external_deadlines(received_at: dt.datetime, deadlines: ExternalDeadlines,
                       policy: SlaPolicy | None) -> dict[str, object]:
    """The Case column values of a source's own deadlines (pure): the two deadlines, marked as governing
    (``deadline_source = external``), and their warning points at the ``warning_share`` of ``policy`` (the
    urgency's SlaPolicy; 75 % if None) of the way from ``received_at`` (aware) to each deadline; a deadline
    at or before ``received_at`` has no warning point."""
    share = float(policy.warning_share) if policy is not None else 0.75
    out: dict[str, object] = {"deadline_source": DeadlineSource.EXTERNAL,
                              "respond_due_at": deadlines.respond_due_at, "resolve_due_at": deadlines.resolve_due_at}
    for due_field, warn_field in (("respond_due_at", "respond_warn_at"), ("resolve_due_at", "resolve_warn_at")):
        due = out[due_field]
        out[warn_field] = received_at + (due - received_at) * share if due is not None and due > received_at else None
    return out


def apply_external_deadlines(case: Case, deadlines: ExternalDeadlines) -> None:
    """Give the case its source's own deadlines (in memory; the caller saves; :func:`external_deadlines`):
    dispatch, on-the-spot resolution and urgency changes then keep them."""
    _set(case, external_deadlines(case.received_at, deadlines, SlaPolicy.objects.filter(urgency=case.urgency).first()))


def dispatch_deadline(received_at: dt.datetime | None, policy: SlaPolicy | None) -> dict[str, object]:
    """The dispatch deadline and warning point (issue 12 §4) as Case column values (pure): ``received_at +
    dispatch_within`` of ``policy`` (the urgency's SlaPolicy or None), the warning at ``warning_share`` of
    that window; both None without a policy, a ``dispatch_within`` or a received time."""
    if policy is None or policy.dispatch_within is None or received_at is None:
        return {"dispatch_due_at": None, "dispatch_warn_at": None}
    due = received_at + policy.dispatch_within
    return {"dispatch_due_at": due, "dispatch_warn_at": policy.warning_at(received_at, due)}


def apply_dispatch_deadline(case: Case, policy: SlaPolicy | None) -> None:
    """Set the case's dispatch deadline from ``policy`` (in memory; the caller saves; :func:`dispatch_deadline`).
    Set at receipt, and again by an urgency change while the case is undispatched; the first dispatch meets it."""
    _set(case, dispatch_deadline(case.received_at, policy))


def needs_policy_deadlines(case) -> bool:
    """Whether the case (a Case or an object with its columns) still waits for the deadlines of its SlaPolicy
    (set at receipt; a case received before its urgency had a policy gets them at its first dispatch): not when
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


#: The relations :func:`cases.notifications.case_recipients` reads, loaded with the claimed cases.
_RECIPIENT_RELATIONS = ("village__chief_grid_leader__user", "grid__leader__user", "handler__user")


def sweep(now: dt.datetime | None = None, *, batch_size: int = 500, notify: bool = True,
          per_case: bool | None = None) -> SweepReport:
    """Record every warning and breach due at ``now`` (aware; default the current time), once each.

    Warnings are stamped with their warning point, breaches with the deadline itself. Resolve breaches
    of open cases are escalated to the supervisors (an ``escalated`` event, ``escalated_at = now``); the
    handler and the village's chief grid leader are notified of every mark, the supervisors also of
    breaches (:func:`cases.notifications.case_recipients`); notifications are stored with the marks and
    delivered after commit. Which marks a case owes and its next check come from one pure function,
    :func:`cases.marks.sweep_outcome` (rule: DESIGN §5, the instant of :mod:`cases.boundary`), whichever path
    writes them:

    * set-based (the default on PostgreSQL): per batch of ``batch_size`` due cases, one transaction that
      claims them (``SELECT … FOR UPDATE SKIP LOCKED LIMIT n``), writes their mark columns and next checks
      with one ``UPDATE … FROM unnest(…) RETURNING``, their events with one insert, their
      notifications with one ``INSERT … ON CONFLICT DO NOTHING`` and enqueues one delivery task after commit;
      a constant number of queries per batch;
    * per case (``per_case=True``; the default elsewhere, e.g. SQLite): each due case locked, re-checked
      and written in a transaction of its own through the ORM and :func:`cases.notifications.notify`.

    Both give the same marks, events and notifications (tests/test_sweep_paths.py). Cases held by another
    sweep are skipped (it records them), so two sweeps at once never record or notify twice; a sweep killed
    mid-batch rolls its batch back and the next one records it. ``notify=False`` records the same marks and
    escalations but stores and sends no notifications: a historical replay (``cases.replay``) uses it so
    that years-old deadlines do not flood anyone's inbox. Returns a SweepReport. Raises
    ``NotSupportedError`` for ``per_case=False`` on a database other than PostgreSQL.
    """
    now = now or timezone.now()
    if per_case is None:
        per_case = connection.vendor != "postgresql"
    elif not per_case and connection.vendor != "postgresql":
        raise NotSupportedError("the set-based sweep needs PostgreSQL")
    report = SweepReport()
    (_sweep_per_case if per_case else _sweep_batches)(now, batch_size=batch_size, notify=notify, report=report)
    if report.cases:
        logger.info("deadline sweep at %s: %s", now.isoformat(), report.as_dict())
    return report


def _due_after(now: dt.datetime, cursor):
    """Due cases in keyset order over (next_check_at, pk), after ``cursor`` (None: from the start); keyset
    pagination makes every sweep end even while other writers move next checks."""
    due = Case.objects.due_for_sweep(now)
    if cursor is not None:
        due = due.filter(Q(next_check_at__gt=cursor[0]) | Q(next_check_at=cursor[0], pk__gt=cursor[1]))
    return due.order_by("next_check_at", "pk")


def _recipient_prefetches():
    """The people :func:`cases.notifications.case_recipients` reads, one query per relation (each distinct
    handler, grid and village loaded once with its leader's login, only the columns that rule reads)."""
    from grids.models import Cadre, Grid, Village

    login = ("user", "user__is_active")
    return (Prefetch("handler", queryset=Cadre.objects.select_related("user").only(*login)),
            Prefetch("grid", queryset=Grid.objects.select_related("leader__user").only(
                "leader", *(f"leader__{f}" for f in login))),
            Prefetch("village", queryset=Village.objects.select_related("chief_grid_leader__user").only(
                "chief_grid_leader", *(f"chief_grid_leader__{f}" for f in login))))


#: The columns the set-based sweep loads with each claimed case: the rule's state and what its events and
#: notifications name.
_CLAIM_COLUMNS = (*STATE_COLUMNS, "next_check_at", "number", "title", "handler", "grid", "village")


def _sweep_batches(now: dt.datetime, *, batch_size: int, notify: bool, report: SweepReport) -> None:
    cursor = None
    while True:
        with transaction.atomic():
            cases = list(_due_after(now, cursor).select_for_update(skip_locked=True, of=("self",))
                         .only(*_CLAIM_COLUMNS)[:batch_size])
            if not cases:
                return
            cursor = (cases[-1].next_check_at, cases[-1].pk)
            _record_batch(cases, now, notify=notify, report=report)


def _record_batch(cases: list[Case], now: dt.datetime, *, notify: bool, report: SweepReport) -> None:
    """Write the marks of ``cases`` (claimed and locked by the caller's transaction) with a constant number
    of statements: the UPDATE, the events' INSERT and, when notifying, the recipients' people (prefetched
    per relation, the dispatchers and supervisors once) and the notifications' INSERT."""
    from .notifications import case_recipients, dispatchers, notify_many, supervisors

    outcomes = [(case, *sweep_outcome(case, now)) for case in cases]
    # updated_at is when the row changed (the statistics' dirty-day clock), not the sweep's ``now``: a replay
    # sweeps historical instants.
    swept = _update_marks(outcomes, timezone.now())
    marked = [(case, marks) for case, marks, _changes in outcomes if case.pk in swept and marks]
    report.cases += len(swept)
    events, notes = [], []
    for case, marks in marked:
        for mark in marks:
            count_mark(report, mark)
            events += [(case.pk, fields) for fields in mark_events(case, mark, now)]
    _insert_events(events)
    if not notify or not marked:
        return
    prefetch_related_objects([case for case, _marks in marked], *_recipient_prefetches())
    dispatcher_users = supervisor_users = None
    if any(case.status in (Status.RECEIVED, Status.RETURNED) for case, _marks in marked):
        dispatcher_users = list(dispatchers())
    if any(mark.breach for _case, marks in marked for mark in marks):
        supervisor_users = list(supervisors())
    titles = _titles()
    for case, marks in marked:
        for mark in marks:
            kind, title, key = _notice(case, mark, titles)
            notes += [(user.pk, kind, title, case.title, case.pk, key) for user in case_recipients(
                case, supervisors_too=mark.breach, dispatcher_users=dispatcher_users,
                supervisor_users=supervisor_users)]
    report.notifications += len(notify_many(notes, now=now))


def _update_marks(outcomes, updated_at: dt.datetime) -> set[int]:
    """One ``UPDATE … FROM unnest(arrays) … RETURNING id`` (a constant-size statement, one array per column)
    that sets every swept column of every case to its new value, compare-and-set on the ``next_check_at``
    the claim read. Returns the ids updated."""
    table = connection.ops.quote_name(Case._meta.db_table)
    columns = [Case._meta.get_field(name).column for name in SWEPT_COLUMNS]
    arrays = [[case.pk for case, _m, _c in outcomes], [case.next_check_at for case, _m, _c in outcomes]]
    arrays += [[changes.get(name, getattr(case, name)) for case, _m, changes in outcomes] for name in SWEPT_COLUMNS]
    with connection.cursor() as c:
        c.execute(
            f"UPDATE {table} AS c SET {', '.join(f'{col} = v.{col}' for col in columns)}, updated_at = %s "
            f"FROM unnest(%s::bigint[], {', '.join(['%s::timestamptz[]'] * (len(columns) + 1))}) "
            f"AS v(id, old_next, {', '.join(columns)}) "
            f"WHERE c.id = v.id AND c.next_check_at = v.old_next RETURNING c.id",
            [updated_at, *map(array_literal, arrays)])
        return {pk for (pk,) in c.fetchall()}


def _sweep_per_case(now: dt.datetime, *, batch_size: int, notify: bool, report: SweepReport) -> None:
    from .notifications import case_recipients
    from .notifications import notify as notify_users

    cursor = None
    while True:
        batch = list(_due_after(now, cursor).values_list("next_check_at", "pk")[:batch_size])
        if not batch:
            return
        cursor = batch[-1]
        for _when, pk in batch:
            with transaction.atomic():
                case = (Case.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related(*_RECIPIENT_RELATIONS)
                        .filter(pk=pk).filter(passed_q("next_check_at", now)).first())
                if case is None:  # another sweep holds it or has done it
                    continue
                report.cases += 1
                marks, changes = sweep_outcome(case, now)
                for name, value in changes.items():
                    setattr(case, name, value)
                for mark in marks:
                    count_mark(report, mark)
                    for fields in mark_events(case, mark, now):
                        CaseEvent.objects.create(case=case, actor=None, **fields)
                    if notify:
                        kind, title, key = _notice(case, mark)
                        report.notifications += len(notify_users(
                            case_recipients(case, supervisors_too=mark.breach), kind=kind, title=title,
                            body=case.title, case=case, dedupe_key=key, now=now))
                case.save(update_fields=[*SWEPT_COLUMNS, "updated_at"])


def count_mark(report, mark: Mark) -> None:
    """Add one to the ``<deadline>_warnings`` or ``<deadline>_breaches`` count of ``report`` (a SweepReport or
    a ReplayReport) for ``mark``."""
    name = f"{mark.deadline}_{'breaches' if mark.breach else 'warnings'}"
    setattr(report, name, getattr(report, name) + 1)


def mark_events(case: Case, mark: Mark, now: dt.datetime) -> list[dict]:
    """The events of one mark (a :class:`cases.marks.Mark` of ``case``, a Case or its state) swept at ``now``
    (aware UTC), as CaseEvent field values (``case`` and ``actor`` = None aside): the mark stamped with its
    point, then its automatic escalation at ``now``. Shared by both sweeps and the bulk import."""
    events = [{"action": mark.action, "from_status": case.status, "to_status": case.status, "at": mark.point,
               "note": "", "data": {"deadline": mark.deadline, "point": iso_utc(mark.point),
                                    "swept_at": iso_utc(now)}}]
    if mark.escalate:
        events.append({"action": Action.ESCALATED, "from_status": case.status, "to_status": case.status, "at": now,
                       "note": _("办结超时，自动提请督办。"),
                       "data": {"automatic": True, "deadline": iso_utc(mark.point)}})
    return events


def _insert_events(rows: list[tuple[int, dict]]) -> None:
    """One ``INSERT … SELECT … FROM unnest(arrays)`` of ``rows`` (``(case_id, fields of mark_events)``),
    actor None."""
    if not rows:
        return
    table = connection.ops.quote_name(CaseEvent._meta.db_table)
    names = ("action", "from_status", "to_status", "at", "note", "data")
    types = ["bigint", *(CaseEvent._meta.get_field(n).db_type(connection).split("(")[0] for n in names)]
    arrays = [[pk for pk, _f in rows]] + [[fields[n] for _pk, fields in rows] for n in names[:-1]]
    arrays.append([json.dumps(fields["data"]) for _pk, fields in rows])
    columns = ", ".join(CaseEvent._meta.get_field(n).column for n in ("case", *names))
    with connection.cursor() as c:
        c.execute(f"INSERT INTO {table} ({columns}, actor_id) SELECT *, NULL::integer "
                  f"FROM unnest({', '.join(f'%s::{t}[]' for t in types)})", [array_literal(a) for a in arrays])


def _titles() -> dict:
    """The notification title of each mark action (``%s`` = the case number), in the active language."""
    return {
        Action.RESPOND_WARNING: _("响应预警：%s"), Action.RESPOND_BREACH: _("响应超时：%s"),
        Action.RESOLVE_WARNING: _("办结预警：%s"), Action.RESOLVE_BREACH: _("办结超时：%s"),
        Action.DISPATCH_WARNING: _("派单预警：%s"), Action.DISPATCH_BREACH: _("派单超时：%s"),
    }


def _notice(case: Case, mark: Mark, titles: dict | None = None) -> tuple[str, str, str]:
    """(kind, title, dedupe key) of the notifications of one mark; ``titles`` from :func:`_titles`."""
    title = (titles or _titles())[mark.action] % case.number
    return NotificationKind(mark.action.value), title, f"{mark.action}:{case.pk}:{iso_utc(mark.point)}"
