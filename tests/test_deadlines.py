"""Deadlines and the sweep, 7×24, on a pinned clock (DESIGN §5)."""
import datetime as dt
import subprocess
import sys
import threading

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from cases import services as s
from cases.choices import Action, Source
from cases.deadlines import sweep
from cases.models import Case, CaseEvent, Notification
from cases.tasks import sweep_deadlines
from grids.models import Grid
from tests.conftest import ROOT, wait_until_idle, worker_env

SH = dt.timezone(dt.timedelta(hours=8))
H = dt.timedelta(hours=1)


@pytest.fixture
def people(xiji):
    """alice dispatches; bob leads 大灰店村 grid 1; carol is its village leader; sam and sue supervise."""
    grid = Grid.objects.select_related("leader", "village__chief_grid_leader").get(code="110112110222-01")
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob", email="bob@example.cn")
    carol = User.objects.create_user("carol", email="carol@example.cn")
    grid.leader.user = bob
    grid.leader.save()
    grid.village.chief_grid_leader.user = carol
    grid.village.chief_grid_leader.save()
    supervisors = Group.objects.get(name="supervisor")
    for name in ("sam", "sue"):
        User.objects.create_user(name, email=f"{name}@example.cn").groups.add(supervisors)
    return {"alice": alice, "bob": bob, "carol": carol, "grid": grid}


def dispatched_case(people, received_at, urgency="general", title="积水"):
    case = s.create_case(actor=people["alice"], kind="complaint", source=Source.HOTLINE, title=title,
                         urgency=urgency, village=people["grid"].village, now=received_at)
    return s.dispatch(case, actor=people["alice"], grid=people["grid"], now=received_at + dt.timedelta(minutes=5))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "urgency, received, respond_due, resolve_due",
    [
        # emergency: 2 h / 24 h, across midnight and a month end (30 April → 1 May, Asia/Shanghai)
        ("emergency", dt.datetime(2025, 4, 30, 22, 45, tzinfo=SH),
         dt.datetime(2025, 5, 1, 0, 45, tzinfo=SH), dt.datetime(2025, 5, 1, 22, 45, tzinfo=SH)),
        ("utilities", dt.datetime(2025, 12, 31, 23, 30, tzinfo=SH),
         dt.datetime(2026, 1, 1, 1, 30, tzinfo=SH), dt.datetime(2026, 1, 1, 23, 30, tzinfo=SH)),
        # general: 24 h / 7 days, across a month end in February
        ("general", dt.datetime(2025, 2, 27, 23, 59, tzinfo=SH),
         dt.datetime(2025, 2, 28, 23, 59, tzinfo=SH), dt.datetime(2025, 3, 6, 23, 59, tzinfo=SH)),
        # complex: 24 h / 15 days
        ("complex", dt.datetime(2025, 1, 31, 8, 0, tzinfo=SH),
         dt.datetime(2025, 2, 1, 8, 0, tzinfo=SH), dt.datetime(2025, 2, 15, 8, 0, tzinfo=SH)),
    ],
)
def test_deadlines_per_urgency(people, urgency, received, respond_due, resolve_due):
    case = dispatched_case(people, received, urgency=urgency)
    assert (case.respond_due_at, case.resolve_due_at) == (respond_due, resolve_due)
    # Warning at 75 % of each window, worked out by hand: 2 h → 1 h 30 min, 24 h → 18 h, 7 d → 126 h,
    # 15 d → 270 h.
    respond_warn, resolve_warn = {
        "emergency": (dt.timedelta(minutes=90), 18 * H), "utilities": (dt.timedelta(minutes=90), 18 * H),
        "general": (18 * H, 126 * H), "complex": (18 * H, 270 * H),
    }[urgency]
    assert (case.respond_warn_at, case.resolve_warn_at) == (received + respond_warn, received + resolve_warn)


@pytest.mark.django_db
def test_warning_once_and_breach_once_with_the_deadline_as_time(people):
    t0 = dt.datetime(2025, 4, 7, 22, 0, tzinfo=SH)
    case = dispatched_case(people, t0, urgency="emergency")  # respond due 00:00, resolve due next 22:00
    for minutes in (60, 89, 90, 91, 100, 119):  # respond warning point: 1 h 30 min
        sweep(t0 + dt.timedelta(minutes=minutes))
    for minutes in (121, 125, 600):
        sweep(t0 + dt.timedelta(minutes=minutes))
    marks = list(CaseEvent.objects.filter(case=case, action__in=[Action.RESPOND_WARNING, Action.RESPOND_BREACH])
                 .values_list("action", "at"))
    assert marks == [(Action.RESPOND_WARNING, t0 + dt.timedelta(minutes=90)),
                     (Action.RESPOND_BREACH, t0 + 2 * H)]
    case.refresh_from_db()
    assert case.respond_breached_at == dt.datetime(2025, 4, 8, 0, 0, tzinfo=SH)
    assert case.next_check_at == case.resolve_warn_at
    # The handler and village leader hear of both; supervisors of the breach only.
    by_user = sorted(Notification.objects.filter(case=case).values_list("recipient__username", "kind"))
    assert by_user == sorted([
        ("bob", "dispatched"), ("bob", "respond_warning"), ("bob", "respond_breach"),
        ("carol", "respond_warning"), ("carol", "respond_breach"),
        ("sam", "respond_breach"), ("sue", "respond_breach")])


@pytest.mark.django_db
def test_met_deadlines_are_never_marked_and_met_is_derived_from_timestamps(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = dispatched_case(people, t0)
    case = s.accept(case, actor=people["bob"], now=t0 + H)
    case = s.respond(case, actor=people["bob"], now=t0 + 2 * H)
    case = s.resolve(case, actor=people["bob"], solved=True, result="已疏通", now=t0 + 3 * H)
    assert case.next_check_at is None
    report = sweep(t0 + dt.timedelta(days=30))
    assert report.cases == 0
    assert (case.responded_on_time, case.resolved_on_time) == (True, True)
    # A late response that no sweep saw still counts as late, and the next sweep records its breach.
    late = dispatched_case(people, t0, title="噪音")
    late = s.accept(late, actor=people["bob"], now=t0 + H)
    late = s.respond(late, actor=people["bob"], now=t0 + 30 * H)
    assert late.responded_on_time is False
    sweep(t0 + 31 * H)
    assert list(CaseEvent.objects.filter(case=late, action=Action.RESPOND_BREACH).values_list("at", flat=True)) == [
        t0 + 24 * H]
    assert not CaseEvent.objects.filter(case=late, action=Action.RESPOND_WARNING).exists()


@pytest.mark.django_db
def test_catch_up_after_three_hours_without_a_sweep(people):
    t0 = dt.datetime(2025, 6, 30, 22, 0, tzinfo=SH)
    # Emergency cases received every 20 minutes: respond deadlines fall between 00:00 and 01:40 on 1 July.
    cases = [dispatched_case(people, t0 + dt.timedelta(minutes=20 * i), urgency="emergency", title=f"险情{i}")
             for i in range(6)]
    sweep(t0)
    report = sweep(t0 + 5 * H)  # the sweeper was down from 22:00 to 03:00
    assert report.respond_breaches == 6 and report.respond_warnings == 6
    breaches = dict(CaseEvent.objects.filter(action=Action.RESPOND_BREACH).values_list("case_id", "at"))
    assert breaches == {c.pk: c.received_at + 2 * H for c in cases}
    assert sweep(t0 + 5 * H).cases == 0


@pytest.mark.django_db
def test_resolve_breach_escalates_to_supervisors_and_mails_after_commit(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = dispatched_case(people, t0, urgency="utilities")
    s.respond(s.accept(case, actor=people["bob"], now=t0 + H), actor=people["bob"], now=t0 + H)
    mail.outbox.clear()
    with time_machine.travel(t0 + 25 * H, tick=False):
        call_command("sweep_deadlines")
    case.refresh_from_db()
    assert case.resolve_breached_at == t0 + 24 * H
    assert case.escalated_at == t0 + 25 * H
    escalation = CaseEvent.objects.get(case=case, action=Action.ESCALATED)
    assert escalation.actor is None and escalation.data["automatic"] is True
    assert sorted(Notification.objects.filter(case=case, kind="resolve_breach")
                  .values_list("recipient__username", flat=True)) == ["bob", "carol", "sam", "sue"]
    # pytest-django runs this test in a transaction that never commits: e-mail is sent only on commit.
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_notification_emails_go_out_once_committed(people, deliver_inline):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    dispatched_case(people, t0, urgency="emergency")
    mail.outbox.clear()
    sweep(t0 + 3 * H)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        ["bob@example.cn", "carol@example.cn",  # respond warning
         "bob@example.cn", "carol@example.cn", "sam@example.cn", "sue@example.cn"])  # respond breach
    assert all("[西集网格]" in m.subject for m in mail.outbox)


@pytest.mark.django_db
def test_extension_moves_the_deadline_and_keeps_the_old_breach(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = dispatched_case(people, t0)  # resolve due 2025-04-14 09:00
    case = s.respond(s.accept(case, actor=people["bob"], now=t0 + H), actor=people["bob"], now=t0 + 2 * H)
    sweep(t0 + dt.timedelta(days=8))
    new_due = dt.datetime(2025, 4, 21, 9, 0, tzinfo=SH)
    case = s.request_extension(case, actor=people["bob"], until=new_due, reason="等待配件",
                               now=t0 + dt.timedelta(days=8))
    approved_at = t0 + dt.timedelta(days=8, hours=1)
    case = s.approve_extension(case, actor=people["alice"], now=approved_at)
    assert case.resolve_due_at == new_due
    assert case.respond_due_at == t0 + 24 * H  # only the resolve deadline moves
    # The new warning lies ahead: 75 % of the way from the approval to the new deadline.
    assert case.resolve_warn_at == approved_at + (new_due - approved_at) * 0.75
    sweep(t0 + dt.timedelta(days=15))
    marks = list(CaseEvent.objects.filter(case=case, action__in=[Action.RESOLVE_WARNING, Action.RESOLVE_BREACH])
                 .values_list("action", "at"))
    assert marks == [
        (Action.RESOLVE_WARNING, t0 + dt.timedelta(days=7) * 0.75),
        (Action.RESOLVE_BREACH, t0 + dt.timedelta(days=7)),
        (Action.RESOLVE_WARNING, approved_at + (new_due - approved_at) * 0.75),
        (Action.RESOLVE_BREACH, new_due),
    ]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_and_notify_once(people, celery_worker_process):
    # The session's worker delivers the notifications these sweeps store: it must be idle before the
    # database is flushed (wait_until_idle below), or its reads deadlock with the flush's TRUNCATE.
    assert connection.vendor == "postgresql"
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    cases = [dispatched_case(people, t0, urgency="emergency", title=f"燃气泄漏{i}") for i in range(20)]
    now = t0 + 3 * H
    barrier = threading.Barrier(2)
    reports = []

    def run():
        try:
            barrier.wait()
            reports.append(sweep(now).as_dict())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    later = now + H  # then two processes at once, on cases due by then
    more = [dispatched_case(people, t0 + H, urgency="emergency", title=f"停电{i}") for i in range(20)]
    procs = [subprocess.Popen([sys.executable, "manage.py", "sweep_deadlines", "--now", later.isoformat()],
                              cwd=ROOT, env=worker_env(), stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    reports += [dict(kv.split("=") for kv in out.split()) for out in outputs]
    assert sum(int(r["respond_breaches"]) for r in reports) == 40
    cases += more
    for case in cases:
        assert CaseEvent.objects.filter(case=case, action=Action.RESPOND_BREACH).count() == 1
        counts = list(Notification.objects.filter(case=case, kind="respond_breach")
                      .values_list("recipient__username", flat=True).order_by("recipient__username"))
        assert counts == ["bob", "carol", "sam", "sue"]
    wait_until_idle(celery_worker_process)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sweep_runs_as_a_task_in_a_real_worker(people, celery_worker_process):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = dispatched_case(people, t0, urgency="emergency")
    result = sweep_deadlines.delay((t0 + 3 * H).isoformat()).get(timeout=60)
    assert result["respond_breaches"] == 1 and result["respond_warnings"] == 1
    assert Case.objects.get(pk=case.pk).respond_breached_at == t0 + 2 * H
    wait_until_idle(celery_worker_process)  # its notifications' deliveries, before the database is flushed


@pytest.mark.django_db
def test_changing_urgency_keeps_the_marks_of_a_deadline_that_did_not_move(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = dispatched_case(people, t0)  # general: respond 24 h
    sweep(t0 + 48 * H)
    case = s.change_urgency(case, actor=people["alice"], urgency="complex", now=t0 + 49 * H)  # respond still 24 h
    sweep(t0 + 50 * H)
    assert CaseEvent.objects.filter(case=case, action=Action.RESPOND_BREACH).count() == 1
    assert CaseEvent.objects.filter(case=case, action=Action.RESPOND_WARNING).count() == 1
    assert case.resolve_due_at == t0 + dt.timedelta(days=15)


@pytest.mark.django_db
def test_an_extension_moves_only_the_resolve_deadline_even_after_a_policy_edit(people):
    from cases.models import SlaPolicy

    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = s.accept(dispatched_case(people, t0), actor=people["bob"], now=t0 + H)
    SlaPolicy.objects.filter(urgency="general").update(respond_within=dt.timedelta(hours=48))
    case = s.request_extension(case, actor=people["bob"], until=t0 + dt.timedelta(days=10), reason="待配件",
                               now=t0 + 2 * H)
    case = s.approve_extension(case, actor=people["alice"], now=t0 + 3 * H)
    assert (case.respond_due_at, case.resolve_due_at) == (t0 + 24 * H, t0 + dt.timedelta(days=10))


@pytest.mark.django_db
def test_a_stale_extension_cannot_be_approved_and_a_moot_one_lapses(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = s.accept(dispatched_case(people, t0), actor=people["bob"], now=t0 + H)
    case = s.request_extension(case, actor=people["bob"], until=t0 + dt.timedelta(days=9), reason="协调",
                               now=t0 + 2 * H)
    case = s.change_urgency(case, actor=people["alice"], urgency="complex", now=t0 + 3 * H)  # due now day 15
    with pytest.raises(s.TransitionNotAllowed) as err:
        s.approve_extension(case, actor=people["alice"], now=t0 + 4 * H)
    assert err.value.code == "extension_stale"
    case = s.respond(case, actor=people["bob"], now=t0 + 5 * H)
    case = s.resolve(case, actor=people["bob"], solved=True, result="已处理", now=t0 + 6 * H)
    assert case.extension_requested_until is None
    dropped = case.events.get(action=Action.RESOLVED).data["extension_request_dropped"]
    assert dt.datetime.fromisoformat(dropped) == t0 + dt.timedelta(days=9)


@pytest.mark.django_db
@pytest.mark.parametrize("step", ["resolve", "return", "cancel", "approve", "decline"])
def test_a_transition_that_drops_a_pending_extension_request_marks_its_notifications_read(people, step):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = s.accept(dispatched_case(people, t0), actor=people["bob"], now=t0 + H)
    other = s.accept(dispatched_case(people, t0, title="路灯"), actor=people["bob"], now=t0 + H)
    for pending in (case, other):
        s.request_extension(pending, actor=people["bob"], until=t0 + dt.timedelta(days=9), reason="协调",
                            now=t0 + 2 * H)
    if step == "resolve":
        case = s.respond(case, actor=people["bob"], now=t0 + 2 * H)
        s.resolve(case, actor=people["bob"], solved=True, result="已处理", now=t0 + 3 * H)
    elif step == "return":
        s.return_case(case, actor=people["bob"], reason="非本网格", now=t0 + 3 * H)
    elif step == "approve":  # decided: no supervisor is left with it to act on
        s.approve_extension(case, actor=people["alice"], now=t0 + 3 * H)
    elif step == "decline":
        s.decline_extension(case, actor=people["alice"], now=t0 + 3 * H)
    else:
        s.cancel(case, actor=people["alice"], reason="重复来电", now=t0 + 3 * H)
    requests = Notification.objects.filter(kind="extension_requested")
    assert sorted((n.recipient.username, n.case_id, n.read_at) for n in requests) == [
        ("sam", case.pk, t0 + 3 * H), ("sam", other.pk, None), ("sue", case.pk, t0 + 3 * H), ("sue", other.pk, None)]
    assert Notification.objects.filter(case=case, kind="dispatched").get().read_at is None  # only the request's


@pytest.mark.django_db
def test_reopen_starts_a_new_round_and_never_stamps_marks_in_the_first(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = s.respond(s.accept(dispatched_case(people, t0), actor=people["bob"], now=t0 + H),
                     actor=people["bob"], now=t0 + H)
    case = s.resolve(case, actor=people["bob"], solved=True, result="已处理", now=t0 + 2 * H)
    day8 = t0 + dt.timedelta(days=8)
    case = s.callback(case, actor=people["alice"], contacted=True, solved=False, satisfaction="unsatisfied",
                      now=day8)
    case = s.reopen(case, actor=people["alice"], note="不满意", now=day8)
    assert (case.respond_due_at, case.resolve_due_at) == (day8 + 24 * H, day8 + dt.timedelta(days=7))
    assert case.responded_at is None and case.resolved_at is None
    previous = case.events.get(action=Action.REOPENED).data["previous"]
    assert dt.datetime.fromisoformat(previous["resolved_at"]) == t0 + 2 * H
    sweep(day8 + dt.timedelta(days=30))
    marks = CaseEvent.objects.filter(case=case, action__in=[Action.RESPOND_BREACH, Action.RESOLVE_BREACH])
    assert sorted(marks.values_list("at", flat=True)) == [day8 + 24 * H, day8 + dt.timedelta(days=7)]


@pytest.mark.django_db
def test_an_original_with_duplicates_cannot_become_a_duplicate_itself(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    x, y, z = (dispatched_case(people, t0, title=t) for t in ("甲", "乙", "丙"))
    s.cancel(z, actor=people["alice"], reason="重复", duplicate_of=x, now=t0 + H)
    with pytest.raises(ValidationError) as err:
        s.cancel(x, actor=people["alice"], reason="重复", duplicate_of=y, now=t0 + 2 * H)
    assert "duplicate_of" in err.value.message_dict
    assert Case.objects.get(pk=x.pk).status == "dispatched"


@pytest.mark.django_db
def test_alerts_for_a_returned_case_go_to_the_dispatchers(people):
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    dora = User.objects.create_user("dora")
    dora.groups.add(Group.objects.get(name="dispatcher"))
    case = s.return_case(dispatched_case(people, t0, urgency="emergency"), actor=people["bob"], reason="非本网格",
                         now=t0 + 10 * dt.timedelta(minutes=1))
    sweep(t0 + 3 * H)
    assert sorted(Notification.objects.filter(case=case, kind="respond_breach")
                  .values_list("recipient__username", flat=True)) == ["carol", "dora", "sam", "sue"]
