"""The set-based sweep and the per-case sweep record the same rows from one rule (issue 17 build 1), and
the set-based one takes a constant number of queries per batch."""
import datetime as dt
import json

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.choices import Action, Source, Status
from cases.deadlines import sweep
from cases.marks import due_marks, next_check_at, sweep_outcome
from cases.models import Case, CaseEvent, Notification
from grids.choices import Role

from . import factories

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
H, US, MIN = dt.timedelta(hours=1), dt.timedelta(microseconds=1), dt.timedelta(minutes=1)

#: Emergency windows (seeded SlaPolicy): dispatch 1 h (warning 45 min), respond 2 h (1 h 30 min), resolve 24 h
#: (18 h). The sweeps: exactly at T0 + 2 h, 1 µs later, and a day and a half later.
SWEEPS = (T0 + 2 * H, T0 + 2 * H + US, T0 + 40 * H)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def scenario(town) -> dict[str, Case]:
    """Cases covering every mark kind, the instant (a deadline exactly at a sweep, 1 µs before it and after
    it), late-met milestones, a returned and a cancelled case. All emergency, in grid a1."""
    dora, gus = town.user(Role.DISPATCHER), town.user(Role.GRID_LEADER)

    def new(received, title):
        return services.create_case(actor=dora, kind="complaint", source=Source.HOTLINE, title=title,
                                    urgency="emergency", grid=town.a1, now=received)

    def accepted(received, title):
        case = services.dispatch(new(received, title), actor=dora, grid=town.a1, now=received + 5 * MIN)
        return services.accept(case, actor=gus, now=received + 10 * MIN)

    cases = {
        "undispatched": new(T0, "未派单"),  # dispatch warning and breach, to the dispatchers
        "dispatched late": services.dispatch(new(T0, "派单晚"), actor=dora, grid=town.a1, now=T0 + 70 * MIN),
        "due at the sweep": accepted(T0, "正点"),  # respond due = first sweep: breached only by the second
        "due 1 µs before": accepted(T0 - US, "早一微秒"),
        "due 1 µs after": accepted(T0 + US, "晚一微秒"),
        "returned": services.return_case(accepted(T0, "退回"), actor=gus, reason="非本网格", now=T0 + 20 * MIN),
    }
    late = accepted(T0 - 10 * H, "响应晚")  # respond due T0 − 8 h, responded T0 − 7 h: late, never swept
    cases["responded late"] = services.respond(late, actor=gus, now=T0 - 7 * H)
    resolved = services.respond(accepted(T0 - 30 * H, "办结晚"), actor=gus, now=T0 - 29 * H)
    # resolve due T0 − 6 h, resolved T0 − 5 h: a late resolution of a case no longer open (no escalation)
    cases["resolved late"] = services.resolve(resolved, actor=gus, solved=True, result="已修复", now=T0 - 5 * H)
    cases["on time"] = services.resolve(services.respond(accepted(T0, "按时"), actor=gus, now=T0 + H),
                                        actor=gus, solved=True, result="已修复", now=T0 + 2 * H)
    cancelled = services.cancel(accepted(T0, "撤销"), actor=dora, reason="重复", now=T0 + 30 * MIN)
    Case.objects.filter(pk=cancelled.pk).update(next_check_at=T0)  # a stale check: claimed, owes nothing
    cases["cancelled"] = cancelled
    return cases


def rows_after(case_ids, event_floor: int, note_floor: int):
    """Every column of the cases, and the events and notifications written after the floors (ids left out)."""
    cases = list(Case.objects.filter(pk__in=case_ids).order_by("pk").values())
    events = [(e["case_id"], e["actor_id"], e["action"], e["from_status"], e["to_status"], e["at"], e["note"],
               json.dumps(e["data"], sort_keys=True))
              for e in CaseEvent.objects.filter(id__gt=event_floor).order_by("case_id", "id").values()]
    notes = sorted((n["recipient_id"], n["kind"], n["title"], n["body"], n["case_id"], n["dedupe_key"],
                    n["created_at"], n["read_at"], n["emailed_at"])
                   for n in Notification.objects.filter(id__gt=note_floor).values())
    return cases, events, notes


def run_sweeps(case_ids, *, per_case: bool, batch_size: int = 3):
    """Run :data:`SWEEPS` on one path inside a savepoint that is rolled back; returns (reports, rows)."""
    event_floor = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    note_floor = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    savepoint = transaction.savepoint()
    try:
        reports = []
        for at in SWEEPS:
            with time_machine.travel(at, tick=False):  # updated_at (auto_now) pinned too
                reports.append(sweep(at, per_case=per_case, batch_size=batch_size).as_dict())
        return reports, rows_after(case_ids, event_floor, note_floor)
    finally:
        transaction.savepoint_rollback(savepoint)


@pytest.mark.django_db
def test_the_set_based_and_the_per_case_sweep_write_the_same_rows(town):
    """Three sweeps (at T0 + 2 h, 1 µs later, T0 + 40 h) on each path, batches of 3: the same reports, every
    column of every case, the same events (in order per case) and notifications, ids aside."""
    cases = scenario(town)
    ids = [c.pk for c in cases.values()]
    per_case = run_sweeps(ids, per_case=True)
    batch = run_sweeps(ids, per_case=False)
    assert batch[0] == per_case[0]  # the reports of the three sweeps
    for got, want in zip(batch[1], per_case[1], strict=True):  # cases, events, notifications
        assert got == want
    reports, (rows, events, notes) = batch
    # The scenario covers every kind of mark and the escalation.
    assert {e[2] for e in events} == {Action.DISPATCH_WARNING, Action.DISPATCH_BREACH, Action.RESPOND_WARNING,
                                      Action.RESPOND_BREACH, Action.RESOLVE_WARNING, Action.RESOLVE_BREACH,
                                      Action.ESCALATED}
    by_pk = {row["id"]: row for row in rows}
    marked = {name: {e[2] for e in events if e[0] == case.pk} for name, case in cases.items()}
    swept_at = {(e[0], e[2]): json.loads(e[7]).get("swept_at") for e in events}

    def breached_by(name):  # the sweep's time, spelled in UTC in the event data
        moment = dt.datetime.fromisoformat(swept_at[(cases[name].pk, Action.RESPOND_BREACH)])
        assert moment.utcoffset() == dt.timedelta(0)
        return moment

    # The instant: a deadline 1 µs before the first sweep is breached by it; one exactly at the first sweep
    # only by the second (1 µs later); one 1 µs after the first sweep is exactly at the second, so only the
    # third breaches it. Each breach is stamped with its deadline.
    assert breached_by("due 1 µs before") == SWEEPS[0]
    assert breached_by("due at the sweep") == SWEEPS[1]
    assert breached_by("due 1 µs after") == SWEEPS[2]
    assert by_pk[cases["due 1 µs after"].pk]["respond_breached_at"] == T0 + 2 * H + US
    # first: due 1 µs before + responded late; second: due at the sweep, returned, dispatched late and the
    # undispatched case (its respond deadline runs from receipt, T0 + 2 h: exactly at the first sweep)
    assert [r["respond_breaches"] for r in reports] == [2, 4, 1]
    assert Action.RESPOND_BREACH in marked["undispatched"]
    assert Action.DISPATCH_BREACH in marked["dispatched late"]
    assert Action.DISPATCH_WARNING not in marked["dispatched late"]  # dispatched before any sweep saw it
    assert marked["responded late"] >= {Action.RESPOND_BREACH} and Action.RESPOND_WARNING not in marked[
        "responded late"]
    assert marked["resolved late"] == {Action.RESOLVE_BREACH}  # not open: no escalation
    assert marked["on time"] == marked["cancelled"] == set()
    assert by_pk[cases["cancelled"].pk]["next_check_at"] is None
    dispatcher = town.user(Role.DISPATCHER).pk
    assert {n[0] for n in notes if n[4] == cases["returned"].pk} >= {dispatcher}
    # waiting in the command centre, every mark of the undispatched case goes to the dispatchers (its respond
    # and resolve deadlines run from receipt too)
    assert {n[1] for n in notes if n[4] == cases["undispatched"].pk and n[0] == dispatcher} == {
        "dispatch_warning", "dispatch_breach", "respond_warning", "respond_breach", "resolve_warning",
        "resolve_breach"}


@pytest.mark.django_db
def test_the_rule_is_one_pure_function_of_the_state():
    """due_marks / next_check_at on a plain mapping: the instant and the late-met breach."""
    due = T0 + 2 * H
    state = {"status": Status.ACCEPTED, "respond_warn_at": T0 + 90 * MIN, "respond_due_at": due}
    assert [m.action for m in due_marks(state, due)] == [Action.RESPOND_WARNING]
    assert [m.action for m in due_marks(state, due + US)] == [Action.RESPOND_WARNING, Action.RESPOND_BREACH]
    assert due_marks({**state, "responded_at": due}, due + H) == []  # met at the instant: on time
    assert [m.point for m in due_marks({**state, "responded_at": due + US}, due + H)] == [due]  # late
    assert due_marks({**state, "status": Status.CANCELLED}, due + H) == []
    assert next_check_at(state) == T0 + 90 * MIN
    marks, changes = sweep_outcome(state, due + US)
    assert changes == {"respond_warned_at": T0 + 90 * MIN, "respond_breached_at": due, "next_check_at": None}
    assert state.get("respond_warned_at") is None  # not modified


@pytest.mark.django_db
def test_the_set_based_sweep_takes_a_constant_number_of_queries_per_batch(town):
    dora = town.user(Role.DISPATCHER)
    cases = [factories.make_case(grid=town.a1, actor=dora, state=Status.ACCEPTED, now=T0, urgency="emergency",
                                 title=f"险情{i}") for i in range(12)]
    counts = []
    for n in (2, 12):
        savepoint = transaction.savepoint()
        Case.objects.exclude(pk__in=[c.pk for c in cases[:n]]).update(next_check_at=None)
        with CaptureQueriesContext(connection) as queries:
            report = sweep(T0 + 3 * H, per_case=False, batch_size=100)
        assert report.cases == n and report.respond_breaches == n
        counts.append(len(queries))
        transaction.savepoint_rollback(savepoint)
    assert counts[0] == counts[1] <= 16  # claim, UPDATE, events, 3 people, supervisors, notifications,
    # the counter (3), the savepoints (2 per claim), the last claim
