"""Server time of the dispatcher's intake page (``/intake/``) with 100,000 cases waiting, on PostgreSQL.

Usage (from the repository root)::

    .venv/bin/python bench/bench_intake_queue.py [--waiting 100000] [--baseline 1000] [--requests 100]

Uses ``DATABASE_URL`` when set, otherwise a private PostgreSQL from the virtualenv (``pgserver``), and works
in a fresh database of its own (Django's test database), created and dropped by this script.

Steps: migrate, seed Xiji (59 villages, 180 grids), a dispatcher login; insert ``--baseline`` waiting
cases (received or returned) plus a tenth as many resolved cases waiting for their callback (half of them
imported history) and measure; then grow to ``--waiting`` and measure again, in the same process. Each
measurement is ``--requests`` page requests through Django's test client (the whole stack: session,
scope, both queues with their counts, the filter and bulk-dispatch selects, template rendering; no
network) after 5 warm-ups, for four views of the page: the first page; filtered by village and urgency;
sorted by urgency; and a page half-way down the queue (a keyset cursor at the middle row — the cost of
``OFFSET`` paging would grow with it, keyset's does not). Prints p50 / p95 in milliseconds, the SQL time
and query count, and the ratio to the baseline. Target (issue 16): p95 ≤ 300 ms at 100,000 waiting.
"""
import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402


def make_cases(waiting: int, callback: int, *, start: int, grids: list, now: dt.datetime, rng: random.Random):
    """Insert ``waiting`` received/returned cases and ``callback`` resolved ones without a callback."""
    from cases.choices import CaseKind, Source, Status, Urgency
    from cases.models import Case

    kinds, sources, urgencies = list(CaseKind.values), list(Source.values), list(Urgency.values)
    batch = []
    for i in range(start, start + waiting + callback):
        grid = grids[i % len(grids)]
        received = now - dt.timedelta(seconds=rng.randrange(30 * 86400))
        fields = {}
        if i - start < waiting:
            status = Status.RETURNED if i % 20 == 0 else Status.RECEIVED
            if status == Status.RETURNED:
                fields.update(respond_due_at=received + dt.timedelta(hours=24),
                              resolve_due_at=received + dt.timedelta(days=7), dispatched_at=received)
        else:
            status = Status.RESOLVED
            fields.update(dispatched_at=received, respond_due_at=received + dt.timedelta(hours=24),
                          resolve_due_at=received + dt.timedelta(days=7), responded_at=received + dt.timedelta(hours=2),
                          resolved_at=received + dt.timedelta(days=1), solved=True, result="已办结",
                          imported=i % 2 == 0, handler_id=grid.leader_id)
        batch.append(Case(number=f"XJQ{i:09d}", kind=kinds[i % 5], source=sources[i % len(sources)],
                          urgency=urgencies[i % len(urgencies)], title=f"待派诉求 {i}", complainant_phone="13812345678",
                          village_id=grid.village_id, grid_id=None if status == Status.RECEIVED else grid.pk,
                          status=status, received_at=received, **fields))
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            batch = []
    if batch:
        Case.objects.bulk_create(batch)
    with connection.cursor() as cursor:  # the steady state autovacuum keeps: visibility map and statistics
        cursor.execute("VACUUM ANALYZE cases_case")


def measure(client: Client, query: dict, requests: int, show: bool = False) -> dict:
    times, sql, queries = [], [], []
    slowest = []
    for k in range(5 + requests):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/intake/", query)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        if k >= 5:
            times.append(elapsed * 1000)
            sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
            queries.append(len(captured.captured_queries))
            slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
    if show:
        for q in slowest:
            print(f"      {float(q['time']) * 1000:6.1f} ms  {q['sql'][:400]}")
    times.sort()
    return {"p50": statistics.median(times), "p95": times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)],
            "sql": statistics.median(sql), "queries": max(queries)}


def middle_cursor() -> str:
    """The keyset cursor of the middle row of the queue to dispatch (oldest first)."""
    from cases.choices import Status
    from cases.desk.queues import encode_cursor
    from cases.models import Case

    waiting = Case.objects.filter(status__in=(Status.RECEIVED, Status.RETURNED))
    row = waiting.order_by("received_at", "pk").values_list("received_at", "pk")[waiting.count() // 2]
    return encode_cursor(list(row))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--show-queries", action="store_true", help="print the three slowest queries of each view")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        print("This benchmark runs on PostgreSQL only.", file=sys.stderr)
        return 2
    setup_test_environment()
    from django.template import Template
    from django.test.utils import _TestState

    Template._render = _TestState.saved_data.template_render  # time the server, not the test client's capture
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from cases.seeding import seed_sla_policies
        from grids.choices import Role
        from grids.models import Grid, Village
        from grids.services import seed_xiji
        from tests.factories import UserFactory

        seed_sla_policies()
        seed_xiji()
        grids = list(Grid.objects.order_by("code"))
        village = Village.objects.order_by("code").values_list("pk", flat=True)[7]
        client = Client()
        client.force_login(UserFactory(username="bench-dispatcher", roles=[Role.DISPATCHER]))
        now = timezone.now()
        rng = random.Random(20251202)
        print(f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}")
        results, made = {}, 0
        for size in (args.baseline, args.waiting):
            clock = time.perf_counter()
            make_cases(size - made, (size - made) // 10, start=made + made // 10, grids=grids, now=now, rng=rng)
            made = size
            print(f"\n{size:,} waiting + {size // 10:,} awaiting callback (inserted in "
                  f"{time.perf_counter() - clock:.1f} s)")
            views = {"first page": {}, "village + urgency": {"village": village, "urgency": "emergency"},
                     "sorted by urgency": {"sort": "urgency"}, "half-way (keyset)": {"cursor": middle_cursor()}}
            for name, query in views.items():
                figures = measure(client, query, args.requests, show=args.show_queries and size == args.waiting)
                results[(size, name)] = figures
                print(f"  {name:<18} p50 {figures['p50']:6.1f} ms   p95 {figures['p95']:6.1f} ms   "
                      f"SQL (p50) {figures['sql']:5.1f} ms in {figures['queries']} queries")
        print(f"\nratio {args.waiting:,} / {args.baseline:,} waiting (p95):")
        worst = 0.0
        for name in ("first page", "village + urgency", "sorted by urgency", "half-way (keyset)"):
            big, small = results[(args.waiting, name)], results[(args.baseline, name)]
            worst = max(worst, big["p95"])
            print(f"  {name:<18} ×{big['p95'] / small['p95']:.2f}")
        print(f"\nworst p95 at {args.waiting:,}: {worst:.1f} ms (target ≤ 300 ms): {'PASS' if worst <= 300 else 'FAIL'}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
