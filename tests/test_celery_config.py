"""The Celery app's configuration in a fresh process (issue 19.2) and the embedded default's supervisor."""
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT

SEND = "import django; django.setup(); from grids.tasks import registry_summary as t; t.apply_async(expires=1); print('sent')"


def _fresh_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"XIJI_DB_NAME"}}
    env.update(extra)
    return env


def test_a_process_that_is_not_a_worker_sends_a_task_without_recursion_error():
    """Before the fix, the ``on_configure`` handler read ``sender.conf`` while the configuration loaded and
    logged ``RecursionError`` in every such process (the task was sent all the same)."""
    out = subprocess.run([sys.executable, "-c", SEND], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=_fresh_env(DJANGO_SETTINGS_MODULE="xiji_grid.settings.test"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "sent"
    assert "RecursionError" not in out.stderr
    assert "Signal handler" not in out.stderr


def test_the_filesystem_broker_folders_are_made_by_the_first_process_that_sends(tmp_path):
    env = {k: v for k, v in _fresh_env().items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}}
    env.update(DJANGO_SETTINGS_MODULE="xiji_grid.settings.dev", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CELERY_BROKER_FOLDER=str(tmp_path / "broker"))
    out = subprocess.run([sys.executable, "-c", SEND], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RecursionError" not in out.stderr
    assert sorted(p.name for p in (tmp_path / "broker").iterdir()) == ["control", "processed", "queue", "results"]
    assert len(list((tmp_path / "broker" / "queue").iterdir())) == 1  # the message itself


def test_respawn_starts_a_command_again_and_stops_on_sigterm(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([str(ROOT / "bin" / "respawn"), "sh", "-c", f"echo run >> {runs}; exit 3"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not runs.exists() or len(runs.read_text().splitlines()) < 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert len(runs.read_text().splitlines()) >= 2  # exited with 3, started again after 1 s
    assert "exited with status 3; starting it again in 1s" in proc.stderr.read()


def test_procfile_runs_worker_and_beat_under_respawn():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines["worker"].startswith("bin/respawn celery -A xiji_grid worker")
    assert lines["beat"].startswith("bin/respawn celery -A xiji_grid beat")
    for unit in ("xiji-worker@.service", "xiji-worker-queue@.service", "xiji-beat.service", "xiji-web.service"):
        assert "Restart=always" in (ROOT / "deploy" / "systemd" / unit).read_text()
