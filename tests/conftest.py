"""Shared fixtures: personas, the seeded town, and a real Celery worker process."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
#: The project's shared real data (../shared/data beside the checkout; XIJI_SHARED_DATA to point elsewhere).
SHARED_DATA = Path(os.environ.get("XIJI_SHARED_DATA", ROOT.parent / "shared" / "data"))


def worker_env(**extra) -> dict[str, str]:
    """Environment for a child process that must use this test run's database and broker."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "xiji_grid.settings.test"
    env["XIJI_DB_NAME"] = connection.settings_dict["NAME"]
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``celery worker`` as a separate process (not eager mode); its output goes to ``log_path``."""
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "xiji_grid", "worker", "--loglevel", "INFO", "--pool", "solo",
         "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


_TASK_RECEIVED = re.compile(r"Task \S+\[[0-9a-f-]+\] received")
_TASK_ENDED = re.compile(r"Task \S+\[[0-9a-f-]+\] (?:succeeded|failed|raised|retry)")


def wait_until_idle(worker: subprocess.Popen, timeout: float = 30) -> None:
    """Wait (up to ``timeout`` seconds) until every task ``worker`` has received has ended, read from its log
    (``worker.log_path``), and stays so for half a second: the tasks a task enqueued after its commit (the
    deliveries of a sweep's notifications) must not run while the test's database is being flushed (a
    TRUNCATE that deadlocks against their row locks). Raises AssertionError with the log's tail on timeout."""
    deadline, quiet_since = time.monotonic() + timeout, None
    while True:
        text = worker.log_path.read_text(errors="replace")
        if len(_TASK_RECEIVED.findall(text)) <= len(_TASK_ENDED.findall(text)):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 0.5:
                return
        else:
            quiet_since = None
        assert time.monotonic() < deadline, f"worker still busy after {timeout} s:\n{text[-2000:]}"
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def webhook_stand_in():
    """One local chat-vendor stand-in (tests/standin.py) for the session; the session's worker sends to it."""
    from tests.standin import WebhookStandIn

    server = WebhookStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory, webhook_stand_in):
    """A real Celery worker process on the configured broker and the test database, for the session.

    Tests that use it must commit what the worker reads (``@pytest.mark.django_db(transaction=True)``).
    Its DingTalk and WeCom plugins post to ``webhook_stand_in``; a failed delivery is retried after 1 s, once.
    ``worker.log_path`` is its output.
    """
    import json

    base = webhook_stand_in.base_url
    with django_db_blocker.unblock():
        env = worker_env(NOTIFY_VENDOR_BASE_URLS=json.dumps({"dingtalk": base, "wecombot": base}),
                         NOTIFY_RETRY_BACKOFF_SECONDS="1")
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(env, log_path)
    from grids.tasks import registry_summary

    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            registry_summary.apply_async(expires=30).get(timeout=10)
            break
        except Exception:
            if time.monotonic() > deadline:
                stop_process(proc)
                raise RuntimeError(f"worker did not answer in 90 s:\n{log_path.read_text()[-3000:]}") from None
    proc.log_path = log_path
    yield proc
    stop_process(proc)


@pytest.fixture(autouse=True)
def delivery_queue(request, monkeypatch):
    """Notification deliveries enqueued after commit, recorded here (lists of notification ids) instead of
    going to the broker, where no worker of this test would take them. A test marked ``real_delivery``
    keeps the real enqueue (a worker process delivers); ``deliver_inline`` runs them in-process."""
    if request.node.get_closest_marker("real_delivery"):
        yield None
        return
    from cases import notifications

    queue: list[list[int]] = []
    monkeypatch.setattr(notifications, "enqueue_delivery", queue.append)
    yield queue


@pytest.fixture
def deliver_inline(delivery_queue, monkeypatch):
    """Deliveries run in this process right after the commit, as the worker's task would run them
    (``cases.channels.delivery.deliver``); the ids are still recorded in ``delivery_queue``."""
    from cases import notifications
    from cases.channels.delivery import deliver

    def run(ids):
        delivery_queue.append(ids)
        deliver(ids)

    monkeypatch.setattr(notifications, "enqueue_delivery", run)
    return delivery_queue


@pytest.fixture
def xiji(db):
    """The seeded town (no logins) and the SLA policies: returns the SeedReport.

    The policies come from a data migration, but tests with ``transaction=True`` flush the tables after
    themselves, so they are seeded here again (idempotent).
    """
    from cases.seeding import seed_sla_policies
    from grids.services import seed_xiji

    seed_sla_policies()
    return seed_xiji()


@pytest.fixture(scope="module")
def taxonomy_town(django_db_setup, django_db_blocker):
    """The personas' town (``tests.factories.seeded_town``) with the whole real taxonomy (650 nodes) seeded
    too, once per test module."""
    from cases.seeding import seed_categories

    from . import factories

    with factories.seeded_town(django_db_blocker) as town:
        with django_db_blocker.unblock():
            seed_categories()
        yield town


@pytest.fixture(scope="session")
def category_model():
    """The category model trained once per test session from the data in ``seeds/`` (a fresh clone has it;
    no saved model file is needed) and made the process's current model. Returns the CategoryModel."""
    from cases.text import classifier

    model = classifier.train()
    classifier.use_model(model)
    yield model
    classifier.use_model(None)
