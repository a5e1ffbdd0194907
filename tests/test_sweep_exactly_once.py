"""The set-based sweep, committed: one delivery task per batch after commit, and exactly once after a sweep
killed mid-batch (issue 17 build 1). Two sweeps at once: tests/test_deadlines.py."""
import datetime as dt
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from cases import services
from cases.choices import Action, Source
from cases.deadlines import sweep
from cases.models import Case, CaseEvent, Notification
from grids.models import Grid
from tests.conftest import ROOT, worker_env

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
H, MIN = dt.timedelta(hours=1), dt.timedelta(minutes=1)


@pytest.fixture
def people(xiji):
    """bob leads 大灰店村 grid 1, carol is its village leader, sam supervises."""
    grid = Grid.objects.select_related("leader", "village__chief_grid_leader").get(code="110112110222-01")
    bob = User.objects.create_user("bob", email="bob@example.cn")
    carol = User.objects.create_user("carol", email="carol@example.cn")
    grid.leader.user = bob
    grid.leader.save()
    grid.village.chief_grid_leader.user = carol
    grid.village.chief_grid_leader.save()
    User.objects.create_user("sam", email="sam@example.cn").groups.add(Group.objects.get(name="supervisor"))
    return {"alice": User.objects.create_user("alice"), "grid": grid}


def emergencies(people, n):
    out = []
    for i in range(n):
        case = services.create_case(actor=people["alice"], kind="complaint", source=Source.HOTLINE,
                                    title=f"燃气{i}", urgency="emergency", village=people["grid"].village, now=T0)
        out.append(services.dispatch(case, actor=people["alice"], grid=people["grid"], now=T0 + 5 * MIN))
    return out


@pytest.mark.django_db(transaction=True)
def test_one_delivery_task_per_batch_after_commit(people, delivery_queue):
    cases = emergencies(people, 5)
    delivery_queue.clear()
    report = sweep(T0 + 3 * H, per_case=False, batch_size=2)
    assert report.cases == 5 and report.notifications == 5 * (2 + 3)  # warning: bob, carol; breach: + sam
    assert len(delivery_queue) == 3  # batches of 2, 2, 1
    ids = sorted(Notification.objects.filter(case__in=cases, kind__in=["respond_warning", "respond_breach"])
                 .values_list("id", flat=True))
    assert sorted(i for batch in delivery_queue for i in batch) == ids


KILL_ON_SECOND_BATCH = """
import os, signal
from cases import notifications
real, calls = notifications.notify_many, []
def notify_many(rows, *, now):
    calls.append(1)
    ids = real(rows, now=now)  # the batch's marks, events and notifications are written, not committed
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return ids
notifications.notify_many = notify_many
from cases.deadlines import sweep
import datetime as dt
sweep(dt.datetime.fromisoformat({now!r}), batch_size=2)
"""


@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_mid_batch_leaves_no_trace_of_that_batch_and_the_next_records_it_once(people):
    assert connection.vendor == "postgresql"
    cases = emergencies(people, 5)
    now = (T0 + 3 * H).isoformat()
    killed = subprocess.run([sys.executable, "manage.py", "shell", "-c", KILL_ON_SECOND_BATCH.format(now=now)],
                            cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr[-2000:]
    # The first batch committed, the second rolled back with the process.
    assert Case.objects.filter(pk__in=[c.pk for c in cases], respond_breached_at__isnull=False).count() == 2
    assert CaseEvent.objects.filter(action=Action.RESPOND_BREACH).count() == 2
    out = subprocess.run([sys.executable, "manage.py", "sweep_deadlines", "--now", now], cwd=ROOT,
                         env=worker_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert dict(kv.split("=") for kv in out.stdout.split())["respond_breaches"] == "3"
    for case in cases:
        assert CaseEvent.objects.filter(case=case, action=Action.RESPOND_WARNING).count() == 1
        assert CaseEvent.objects.filter(case=case, action=Action.RESPOND_BREACH).count() == 1
        assert sorted(Notification.objects.filter(case=case, kind__in=["respond_warning", "respond_breach"])
                      .values_list("recipient__username", "kind")) == [
            ("bob", "respond_breach"), ("bob", "respond_warning"), ("carol", "respond_breach"),
            ("carol", "respond_warning"), ("sam", "respond_breach")]
