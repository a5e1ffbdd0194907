"""The case lifecycle: every (state, transition) pair, events, deadlines kept through changes (DESIGN §4)."""
import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from cases import services as s
from cases.choices import Action, Satisfaction, Source, Status
from cases.models import Case, CaseEvent
from grids.models import Grid

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)


@pytest.fixture
def town(xiji):
    actor = User.objects.create_user("dispatcher-alice")
    grid = Grid.objects.get(code="110112110222-01")
    other = Grid.objects.get(code="110112110222-02")
    return actor, grid, other


def new_case(actor, grid, now=T0, **kw):
    fields = dict(kind="complaint", source=Source.HOTLINE, title="路灯不亮", grid=grid, description="村口路灯坏了")
    fields.update(kw)
    return s.create_case(actor=actor, now=now, **fields)


def build(state, actor, grid):
    """A case brought to ``state`` (or a pseudo-state) through the services themselves."""
    case = new_case(actor, grid)
    steps = {
        "received": [],
        "dispatched": ["dispatch"],
        "accepted": ["dispatch", "accept"],
        "accepted_extension_pending": ["dispatch", "accept", "request_extension"],
        "responded": ["dispatch", "accept", "respond"],
        "resolved": ["dispatch", "accept", "respond", "resolve"],
        "resolved_unsatisfied": ["dispatch", "accept", "respond", "resolve", "callback_unsatisfied"],
        "closed": ["dispatch", "accept", "respond", "resolve", "close"],
        "returned": ["dispatch", "return"],
        "cancelled": ["cancel"],
    }[state]
    for step in steps:
        case = TRANSITIONS[step](case, actor, grid)
    return case


TRANSITIONS = {
    # A reassignment goes to another grid: the same grid again is refused (test_redispatch_to_the_same_grid…).
    "dispatch": lambda c, a, g: s.dispatch(
        c, actor=a, grid=g if c.status not in (Status.DISPATCHED, Status.ACCEPTED)
        else Grid.objects.get(code="110112110222-02")),
    "accept": lambda c, a, g: s.accept(c, actor=a),
    "return": lambda c, a, g: s.return_case(c, actor=a, reason="不属于本网格"),
    "respond": lambda c, a, g: s.respond(c, actor=a, note="已电话联系"),
    "resolve": lambda c, a, g: s.resolve(c, actor=a, solved=True, result="已更换灯泡"),
    "callback": lambda c, a, g: s.callback(c, actor=a, contacted=True, solved=True,
                                           satisfaction=Satisfaction.SATISFIED),
    "callback_unsatisfied": lambda c, a, g: s.callback(c, actor=a, contacted=True, solved=False,
                                                       satisfaction=Satisfaction.UNSATISFIED),
    "reopen": lambda c, a, g: s.reopen(c, actor=a, note="群众不满意"),
    "close": lambda c, a, g: s.close(c, actor=a),
    "cancel": lambda c, a, g: s.cancel(c, actor=a, reason="重复来电"),
    "request_extension": lambda c, a, g: s.request_extension(
        c, actor=a, until=(c.resolve_due_at or T0) + dt.timedelta(days=10), reason="需协调电力公司"),
    "approve_extension": lambda c, a, g: s.approve_extension(c, actor=a),
    "decline_extension": lambda c, a, g: s.decline_extension(c, actor=a),
    "escalate": lambda c, a, g: s.escalate(c, actor=a, note="请加快办理"),
    "comment": lambda c, a, g: s.comment(c, actor=a, note="已上报"),
    "change_urgency": lambda c, a, g: s.change_urgency(c, actor=a, urgency="emergency"),
}

STATES = ["received", "dispatched", "accepted", "accepted_extension_pending", "responded", "resolved",
          "resolved_unsatisfied", "closed", "returned", "cancelled"]
OPEN = {"received", "dispatched", "accepted", "accepted_extension_pending", "responded", "returned"}
# The lifecycle table of the README, written out by hand.
ALLOWED = {
    "dispatch": {"received", "returned", "dispatched", "accepted", "accepted_extension_pending"},
    "accept": {"dispatched"},
    "return": {"dispatched", "accepted", "accepted_extension_pending"},
    "respond": {"accepted", "accepted_extension_pending"},
    "resolve": {"received", "responded"},
    "callback": {"resolved"},
    "callback_unsatisfied": {"resolved"},
    "reopen": {"resolved_unsatisfied"},
    "close": {"resolved", "resolved_unsatisfied"},
    "cancel": OPEN,
    "request_extension": {"dispatched", "accepted", "responded"},
    "approve_extension": {"accepted_extension_pending"},
    "decline_extension": {"accepted_extension_pending"},
    "escalate": OPEN,
    "comment": set(STATES),
    "change_urgency": OPEN,
}


@pytest.mark.django_db
@time_machine.travel(T0 + dt.timedelta(hours=1), tick=False)  # extensions are bounded from the case's deadline
def test_every_state_and_transition_pair(town):
    actor, grid, _ = town
    outcome, expected = {}, {}
    for state in STATES:
        for name, run in TRANSITIONS.items():
            expected[(state, name)] = "ok" if state in ALLOWED[name] else "refused"
            case = build(state, actor, grid)
            before = case.events.count()
            try:
                run(case, actor, grid)
            except s.TransitionNotAllowed:
                outcome[(state, name)] = "refused"
                assert case.events.count() == before
                assert Case.objects.get(pk=case.pk).status == case.status
            else:
                outcome[(state, name)] = "ok"
                assert case.events.count() == before + 1, (state, name)
    assert outcome == expected


@pytest.mark.django_db
def test_full_path_writes_one_event_per_step_with_states(town):
    actor, grid, _ = town
    case = new_case(actor, grid)
    for step in ["dispatch", "accept", "respond", "resolve", "callback", "close"]:
        case = TRANSITIONS[step](case, actor, grid)
    events = list(case.events.values_list("action", "from_status", "to_status"))
    assert events == [
        (Action.CREATED, "", Status.RECEIVED),
        (Action.DISPATCHED, Status.RECEIVED, Status.DISPATCHED),
        (Action.ACCEPTED, Status.DISPATCHED, Status.ACCEPTED),
        (Action.RESPONDED, Status.ACCEPTED, Status.RESPONDED),
        (Action.RESOLVED, Status.RESPONDED, Status.RESOLVED),
        (Action.CALLBACK, Status.RESOLVED, Status.RESOLVED),
        (Action.CLOSED, Status.RESOLVED, Status.CLOSED),
    ]
    case.refresh_from_db()
    assert (case.callback_contacted, case.callback_solved, case.satisfaction) == (True, True, "satisfied")


@pytest.mark.django_db
def test_on_the_spot_resolution_writes_logged_and_resolved(town):
    actor, grid, _ = town
    with time_machine.travel(T0, tick=False):
        case = s.resolve_on_the_spot(actor=actor, result="现场清理", kind="report", source=Source.PATROL,
                                     title="路边垃圾", grid=grid)
    assert list(case.events.values_list("action", flat=True)) == [Action.CREATED, Action.RESOLVED]
    assert case.status == Status.RESOLVED
    assert case.received_at == case.responded_at == case.resolved_at == T0
    assert case.resolved_on_time is True and case.responded_on_time is True
    assert case.handler == grid.leader


@pytest.mark.django_db
def test_case_numbers_count_per_shanghai_day(town):
    actor, grid, _ = town
    late = dt.datetime(2025, 4, 7, 23, 59, tzinfo=SH)
    next_day = dt.datetime(2025, 4, 8, 0, 0, tzinfo=SH)  # 2025-04-07 16:00 UTC
    numbers = [new_case(actor, grid, now=t).number for t in (T0, late, next_day)]
    assert numbers == ["XJ20250407-0001", "XJ20250407-0002", "XJ20250408-0001"]


@pytest.mark.django_db
def test_accepting_returning_and_reassigning_keep_the_deadlines(town):
    actor, grid, other = town
    case = s.dispatch(new_case(actor, grid), actor=actor, grid=grid, now=T0 + dt.timedelta(hours=1))
    due = (case.respond_due_at, case.resolve_due_at)
    assert due == (T0 + dt.timedelta(hours=24), T0 + dt.timedelta(days=7))
    case = s.accept(case, actor=actor, now=T0 + dt.timedelta(hours=2))
    case = s.return_case(case, actor=actor, reason="非本网格", now=T0 + dt.timedelta(hours=3))
    case = s.dispatch(case, actor=actor, grid=other, now=T0 + dt.timedelta(hours=5))
    case = s.dispatch(case, actor=actor, grid=grid, now=T0 + dt.timedelta(hours=6))  # reassign
    assert (case.respond_due_at, case.resolve_due_at) == due
    # dispatched_at is the first dispatch, which met the dispatch deadline; a reassignment is its own event.
    assert case.grid == grid and case.dispatched_at == T0 + dt.timedelta(hours=1)


@pytest.mark.django_db
def test_bad_arguments_raise_validation_errors_naming_the_field(town):
    actor, grid, _ = town
    with pytest.raises(ValidationError) as err:
        new_case(actor, grid, title="  ")
    assert "title" in err.value.message_dict
    case = s.dispatch(new_case(actor, grid), actor=actor, grid=grid)
    with pytest.raises(ValidationError) as err:
        s.return_case(case, actor=actor, reason="")
    assert "reason" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        new_case(actor, grid, external_ref="GD-1") and new_case(actor, grid, external_ref="GD-1")
    assert "external_ref" in err.value.message_dict
    assert Case.objects.filter(external_ref="GD-1").count() == 1


@pytest.mark.django_db
def test_duplicates_never_chain(town):
    actor, grid, _ = town
    original = new_case(actor, grid)
    repeat = s.cancel(new_case(actor, grid), actor=actor, reason="重复诉求", duplicate_of=original)
    assert repeat.duplicate_of == original and repeat.excluded
    with pytest.raises(ValidationError) as err:
        s.cancel(new_case(actor, grid), actor=actor, reason="重复诉求", duplicate_of=repeat)
    assert "duplicate_of" in err.value.message_dict


@pytest.mark.django_db
def test_events_are_append_only(town):
    actor, grid, _ = town
    event = new_case(actor, grid).events.get()
    event.note = "改写"
    with pytest.raises(ValueError):
        event.save()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_resolves_one_wins(xiji):
    assert connection.vendor == "postgresql"
    actor = User.objects.create_user("alice")
    grid = Grid.objects.get(code="110112110222-01")
    case = TRANSITIONS["respond"](TRANSITIONS["accept"](TRANSITIONS["dispatch"](
        new_case(actor, grid), actor, grid), actor, grid), actor, grid)
    barrier = threading.Barrier(2)
    results = []

    def racer(result_text):
        try:
            barrier.wait()
            s.resolve(case.pk, actor=actor, solved=True, result=result_text)
            results.append("ok")
        except s.TransitionNotAllowed:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(text,)) for text in ("甲处理", "乙处理")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused"]
    assert CaseEvent.objects.filter(case=case, action=Action.RESOLVED).count() == 1
    assert Case.objects.get(pk=case.pk).result in {"甲处理", "乙处理"}
