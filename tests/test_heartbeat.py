"""The deadline engine's heartbeat, the alert when it stops, and the health probes (issue 18)."""
import datetime as dt
import subprocess
import sys
import time

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command

from cases import heartbeat
from cases import services as s
from cases.choices import NotificationKind, Source
from cases.models import Case, Notification, SweepRun
from cases.tasks import sweep_deadlines
from grids.models import Grid
from tests.conftest import ROOT, stop_process, worker_env

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)


@pytest.fixture
def people(xiji):
    """dora dispatches, adam is an admin, root a superuser, bob leads 大灰店村 grid 1, carol its village."""
    grid = Grid.objects.select_related("leader", "village__chief_grid_leader").get(code="110112110222-01")
    dora = User.objects.create_user("dora")
    dora.groups.add(Group.objects.get_or_create(name="dispatcher")[0])
    adam = User.objects.create_user("adam")
    adam.groups.add(Group.objects.get_or_create(name="admin")[0])
    root = User.objects.create_user("root", is_superuser=True)
    User.objects.create_user("idle")  # no role: never alerted
    bob, carol = User.objects.create_user("bob"), User.objects.create_user("carol")
    grid.leader.user = bob
    grid.leader.save()
    grid.village.chief_grid_leader.user = carol
    grid.village.chief_grid_leader.save()
    return {"dora": dora, "adam": adam, "root": root, "bob": bob, "carol": carol, "grid": grid}


def dispatched(people, received_at):
    case = s.create_case(actor=people["dora"], kind="complaint", source=Source.HOTLINE, title="积水",
                         urgency="general", village=people["grid"].village, now=received_at)
    return s.dispatch(case, actor=people["dora"], grid=people["grid"], now=received_at + dt.timedelta(minutes=5))


@pytest.mark.django_db
def test_each_sweep_stamps_its_run(people):
    dispatched(people, T0)  # general: respond warning at T0 + 18 h (75 % of 24 h)
    with time_machine.travel(T0 + dt.timedelta(hours=18, seconds=30), tick=False):
        sweep_deadlines.apply().get()
    run = SweepRun.objects.get()
    assert run.started_at == run.finished_at == T0 + dt.timedelta(hours=18, seconds=30)
    assert run.swept_at == run.started_at
    assert (run.trigger, run.cases, run.marks, run.notifications, run.error) == ("task", 1, 1, 2, "")
    with time_machine.travel(T0 + dt.timedelta(hours=19), tick=False):
        call_command("sweep_deadlines", "--now", "2025-04-08T09:01+08:00", stdout=open("/dev/null", "w"))
    last = SweepRun.objects.order_by("-id").first()
    assert last.trigger == "command"
    assert last.started_at == T0 + dt.timedelta(hours=19)
    assert last.swept_at == dt.datetime(2025, 4, 8, 9, 1, tzinfo=SH)
    assert (last.cases, last.marks) == (1, 1)  # the respond breach at T0 + 24 h (passed only after its instant)


@pytest.mark.django_db
def test_a_failed_sweep_is_stamped_with_its_error_class(people, monkeypatch):
    def broken(now=None):
        raise ZeroDivisionError("case text must not be stored")

    monkeypatch.setattr("cases.deadlines.sweep", broken)
    with pytest.raises(ZeroDivisionError):
        heartbeat.run_sweep(T0)
    run = SweepRun.objects.get()
    assert run.error == "ZeroDivisionError"
    assert run.finished_at is not None
    assert heartbeat.engine_status(T0).last_run_id is None  # a failed run is no heartbeat


@pytest.mark.django_db
def test_engine_status_and_one_alert_per_outage(people, settings):
    settings.SWEEP_STALE_AFTER_SECONDS = 300
    settings.SWEEP_DUE_GRACE_SECONDS = 120
    assert heartbeat.engine_status(T0).as_dict() == {
        "healthy": True, "last_sweep_at": None, "last_sweep_seconds_ago": None, "last_sweep_duration_seconds": None,
        "stale": False, "due_backlog": 0, "oldest_due_at": None, "lag_seconds": 0,
    }
    SweepRun.objects.create(started_at=T0 - dt.timedelta(seconds=2), finished_at=T0, swept_at=T0, trigger="task")
    at = T0 + dt.timedelta(seconds=300)
    assert heartbeat.engine_status(at).stale is False  # exactly the limit: not yet
    assert heartbeat.check_engine(at) == []
    at = T0 + dt.timedelta(seconds=301)
    status = heartbeat.engine_status(at)
    assert (status.stale, status.seconds_since, status.last_duration_seconds) == (True, 301, 2.0)
    alerts = heartbeat.check_engine(at)
    assert sorted(n.recipient.username for n in alerts) == ["adam", "dora", "root"]
    assert {n.kind for n in alerts} == {NotificationKind.ENGINE_ALERT}
    assert alerts[0].title == "时限引擎已停止：5 分钟没有扫描"
    assert heartbeat.check_engine(at + dt.timedelta(minutes=10)) == []  # the same outage: alerted once

    # A case due 121 s ago and never swept: the backlog alert, once for that check time.
    case = dispatched(people, T0)
    Case.objects.filter(pk=case.pk).update(next_check_at=at - dt.timedelta(seconds=121))
    SweepRun.objects.create(started_at=at, finished_at=at, swept_at=at, trigger="task")  # sweeps run again
    status = heartbeat.engine_status(at)
    assert (status.stale, status.backlog, status.lag_seconds) == (False, 1, 121)
    alerts = heartbeat.check_engine(at)
    assert len(alerts) == 3
    assert alerts[0].title == "时限引擎积压：1 件诉求超过检查时间未处理"
    assert heartbeat.check_engine(at + dt.timedelta(seconds=30)) == []
    assert Notification.objects.filter(kind=NotificationKind.ENGINE_ALERT).count() == 6


@pytest.mark.django_db
def test_healthz_and_readyz_answer_json_without_login(client, people):
    SweepRun.objects.create(started_at=T0, finished_at=T0, swept_at=T0, trigger="task")
    with time_machine.travel(T0 + dt.timedelta(seconds=42), tick=False):
        live = client.get("/healthz")
        ready = client.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "broker": "ok", "cache": "ok"}
    assert body["engine"]["last_sweep_seconds_ago"] == 42
    assert body["engine"]["last_sweep_at"] == T0.astimezone(dt.UTC).isoformat()


@pytest.mark.django_db
def test_readyz_answers_503_naming_the_broker_when_it_is_down(client, monkeypatch):
    from xiji_grid.celery import app

    for name in ("broker_url", "broker_write_url"):  # nothing listens on port 1
        monkeypatch.setattr(app.conf, name, "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_stopping_beat_alerts_dispatchers_and_admins_on_the_next_request(people, client, celery_worker_process,
                                                                        tmp_path, settings):
    """Real beat and worker processes: beat's sweep stamps a run; with beat stopped, the next request
    after SWEEP_STALE_AFTER_SECONDS alerts dispatchers and admins (the web process, not beat)."""
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="sweep-deadlines", task="cases.sweep_deadlines", interval=every_minute,
                                last_run_at=timezone.now() - dt.timedelta(minutes=2))  # due at once
    log = tmp_path / "beat.log"
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "xiji_grid", "beat", "--loglevel", "INFO"],
                            cwd=ROOT, env=worker_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not SweepRun.objects.filter(finished_at__isnull=False).exists():
            assert beat.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        stop_process(beat)
    assert beat.returncode is not None
    run = SweepRun.objects.get()
    assert run.trigger == "task"

    settings.ENGINE_WATCH_INTERVAL_SECONDS = 60
    cache.delete("engine-watch")
    client.get("/login/")  # while the engine is fresh: no alert
    assert not Notification.objects.filter(kind=NotificationKind.ENGINE_ALERT).exists()

    cache.delete("engine-watch")
    with time_machine.travel(run.finished_at + dt.timedelta(minutes=6), tick=False):
        client.get("/login/")
    alerted = Notification.objects.filter(kind=NotificationKind.ENGINE_ALERT)
    assert sorted(alerted.values_list("recipient__username", flat=True)) == ["adam", "dora", "root"]
    assert alerted.first().title == "时限引擎已停止：6 分钟没有扫描"


@pytest.mark.django_db
def test_the_dashboard_shows_when_the_last_sweep_ran(client, people, settings):
    settings.SWEEP_STALE_AFTER_SECONDS = 300
    people["adam"].groups.add(Group.objects.get_or_create(name="supervisor")[0])
    client.force_login(people["adam"])
    SweepRun.objects.create(started_at=T0, finished_at=T0, swept_at=T0, trigger="task")
    with time_machine.travel(T0 + dt.timedelta(seconds=42), tick=False):
        page = client.get("/dashboard/?start=2025-01-01&end=2025-12-31").content.decode()
    assert "时限引擎：上次扫描 42 秒前" in page
    with time_machine.travel(T0 + dt.timedelta(seconds=400), tick=False):
        page = client.get("/dashboard/?start=2025-01-01&end=2025-12-31").content.decode()
    assert "时限引擎：上次扫描 400 秒前" in page and "msg-error" in page
