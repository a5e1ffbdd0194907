"""Tasks round-trip through a real broker and a real worker process (never eager mode)."""
import os
import subprocess
import sys

import pytest
from django.conf import settings

from grids.services import seed_xiji
from grids.tasks import registry_summary
from tests.conftest import ROOT, start_worker, stop_process

pytestmark = pytest.mark.integration


def test_the_test_run_uses_postgresql_and_redis():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "redis+socket://", "rediss://"))
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)


@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_a_real_worker(celery_worker_process):
    seed_xiji()
    result = registry_summary.delay()
    assert result.get(timeout=60) == {"villages": 59, "grids": 180}


def test_embedded_default_migrates_seeds_and_runs_a_task(tmp_path):
    """SQLite + the filesystem broker + a real worker: what README command 1 runs on."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "XIJI_DB_NAME"}}
    env.update(
        DJANGO_SETTINGS_MODULE="xiji_grid.settings.dev",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
    )

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True)

    manage("migrate", "--no-input", "-v0")
    manage("seed_xiji")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        out = manage("shell", "-c", "from grids.tasks import registry_summary as t; "
                                    "print(t.delay().get(timeout=90))")
    finally:
        stop_process(worker)
    assert out.stdout.strip().splitlines()[-1] == "{'villages': 59, 'grids': 180}"
    assert (tmp_path / "broker" / "queue").is_dir()
