"""A bounded load test (issue 18.6): Locust against gunicorn on 127.0.0.1 while the deadline sweep runs.

Usage (from the repository root; Locust in any virtualenv, e.g. ``python -m venv /tmp/locust && /tmp/locust/bin/pip
install locust==2.47.0``)::

    .venv/bin/python bench/load_test.py --locust /tmp/locust/bin/locust [--users 16] [--seconds 60] [--workers 2]

Needs ``DATABASE_URL`` (a PostgreSQL server; the script creates and drops a database of its own on it). Steps:
migrate and seed Xiji with the demo logins, log 300 dispatched cases in 大灰店村 (half of them already past their
warning point, so the sweep has work), start gunicorn (``--workers`` sync workers) on a free 127.0.0.1 port and a
loop that runs ``sweep_deadlines`` every 10 s, then run Locust headless for ``--seconds`` with ``--users``
users (3 grid leaders : 1 dispatcher, ``bench/locustfile.py``). Prints requests per second, p50/p95/p99 in ms
and the error count overall and per request name, and how many sweeps ran. Sends traffic to 127.0.0.1 only and
stops by itself.
"""
import argparse
import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SEED_CASES = """
import datetime as dt
from django.contrib.auth.models import User
from django.utils import timezone
from cases import services
from grids.models import Grid
dispatcher = User.objects.get(username="dispatcher")
grids = list(Grid.objects.filter(code__startswith="110112110222-").order_by("code"))
now = timezone.now()
for i in range(300):
    grid = grids[i % len(grids)]
    at = now - dt.timedelta(hours=20 if i % 2 else 1, minutes=i)
    case = services.create_case(actor=dispatcher, kind="complaint", source="hotline", title=f"积水{i}", grid=grid,
                                now=at)
    if case.status == "received":
        services.dispatch(case, actor=dispatcher, grid=grid, now=at)
print("seeded")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locust", default="locust")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    parts = urlsplit(url)
    db = f"xiji_load_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{db}")),
           "DJANGO_SETTINGS_MODULE": "xiji_grid.settings.test", "LOG_LEVEL": "WARNING", "ENGINE_WATCH_INTERVAL_SECONDS": "60"}
    env.pop("XIJI_DB_NAME", None)
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {db}"], check=True)
    procs = []
    out = Path(f"/tmp/xiji-load-{os.getpid()}")
    out.mkdir(exist_ok=True)
    try:
        def manage(*a, **kw):
            return subprocess.run([sys.executable, "manage.py", *a], cwd=ROOT, env=env, check=True, **kw)

        manage("migrate", "--no-input", "-v0")
        manage("seed_xiji", "--demo", stdout=subprocess.DEVNULL)
        manage("shell", "-c", SEED_CASES, stdout=subprocess.DEVNULL)
        port = free_port()
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "xiji_grid.wsgi", "--workers", str(args.workers),
                                "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                               stdout=(out / "gunicorn.log").open("wb"), stderr=subprocess.STDOUT)
        procs.append(web)
        sweeper = subprocess.Popen(["bash", "-c", f"for i in $(seq {args.seconds // 10 + 3}); do "
                                    f"{sys.executable} manage.py sweep_deadlines; sleep 10; done"], cwd=ROOT, env=env,
                                   stdout=(out / "sweeps.log").open("wb"), stderr=subprocess.STDOUT)
        procs.append(sweeper)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        subprocess.run([args.locust, "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--users",
                        str(args.users), "--spawn-rate", str(max(1, args.users // 4)), "--run-time",
                        f"{args.seconds}s", "--host", f"http://127.0.0.1:{port}", "--csv", str(out / "load"),
                        "--only-summary"], check=False, stdout=(out / "locust.log").open("wb"),
                       stderr=subprocess.STDOUT, timeout=args.seconds + 120)
        rows = list(csv.DictReader((out / "load_stats.csv").open()))
        print(f"{args.users} users, {args.seconds} s, gunicorn {args.workers} workers, sweep every 10 s "
              f"({(out / 'sweeps.log').read_text().count('cases=')} sweeps ran)")
        print(f"{'request':28} {'count':>6} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
        for r in rows:
            print(f"{r['Name'][:28]:28} {r['Request Count']:>6} {r['Failure Count']:>5} "
                  f"{float(r['Requests/s']):7.1f} {r['50%']:>6} {r['95%']:>6} {r['99%']:>6}")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)


if __name__ == "__main__":
    main()
