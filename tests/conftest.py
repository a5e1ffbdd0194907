"""Shared fixtures: personas, the seeded town, and a real Celery worker process."""
import os
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


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on the configured broker and the test database, for the session.

    Tests that use it must commit what the worker reads (``@pytest.mark.django_db(transaction=True)``).
    """
    with django_db_blocker.unblock():
        env = worker_env()
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
    yield proc
    stop_process(proc)


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
