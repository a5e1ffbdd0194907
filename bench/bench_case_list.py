"""Latency of ``GET /api/v1/cases/?status=dispatched&village_id=…`` with 100,000 cases on PostgreSQL.

Usage (from the repository root)::

    .venv/bin/python bench/bench_case_list.py [--cases 100000] [--baseline 1000] [--requests 200]

Uses ``DATABASE_URL`` when set, otherwise starts a private PostgreSQL from the virtualenv (``pgserver``,
as the tests do). Either way it works in a fresh database of its own (Django's test database,
``test_<name>``), created and dropped by this script, so it never touches existing data.

Steps: migrate, seed Xiji (59 villages, 180 grids), log in a dispatcher and a grid leader with tokens,
insert ``--baseline`` cases with ``bulk_create`` and measure, then grow the table to ``--cases`` and
measure again, in the same process. Cases are spread evenly over the grids, received over the two years
before now, in a realistic mix of states (mostly closed, about 5 % dispatched). Each measurement is
``--requests`` requests through Django's test client (the whole Django stack: token authentication,
scope, filters, pagination, serialisation; no network), after 10 warm-up requests, rotating over the
villages. Prints p50 / p95 / mean in milliseconds, the time spent in SQL and the number of queries, the
matching row count (a page holds at most 50 of them), and the ratio of the large table's figures to the
baseline's. Deterministic data (fixed random seed).
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

STATE_MIX = [  # (status, share) of a town's case table after a couple of years
    ("closed", 0.80), ("resolved", 0.05), ("dispatched", 0.05), ("accepted", 0.03), ("responded", 0.03),
    ("received", 0.01), ("returned", 0.01), ("cancelled", 0.02),
]


def make_cases(count: int, *, start_index: int, grids: list, now: dt.datetime, rng: random.Random) -> int:
    """Insert ``count`` cases with ``bulk_create`` in batches; returns the number inserted."""
    from cases.choices import CaseKind, Satisfaction, Source, Status
    from cases.models import Case

    statuses = [s for s, _ in STATE_MIX]
    weights = [w for _, w in STATE_MIX]
    kinds, sources = list(CaseKind.values), list(Source.values)
    respond, resolve = dt.timedelta(hours=24), dt.timedelta(days=7)
    batch, made = [], 0
    for i in range(start_index, start_index + count):
        grid = grids[i % len(grids)]
        received = now - dt.timedelta(seconds=rng.randrange(2 * 365 * 86400))
        status = rng.choices(statuses, weights)[0]
        fields = {}
        if status not in (Status.RECEIVED, Status.CANCELLED):
            fields.update(dispatched_at=received + dt.timedelta(minutes=20), respond_due_at=received + respond,
                          resolve_due_at=received + resolve, respond_warn_at=received + respond * 0.75,
                          resolve_warn_at=received + resolve * 0.75, handler_id=grid.leader_id)
        if status in (Status.RESPONDED, Status.RESOLVED, Status.CLOSED):
            fields.update(accepted_at=received + dt.timedelta(hours=1), responded_at=received + dt.timedelta(hours=3))
        if status in (Status.RESOLVED, Status.CLOSED):
            fields.update(resolved_at=received + dt.timedelta(days=2), solved=True, result="已办结")
        if status == Status.CLOSED:
            fields.update(closed_at=received + dt.timedelta(days=3), callback_at=received + dt.timedelta(days=3),
                          callback_contacted=True, callback_solved=True, satisfaction=Satisfaction.SATISFIED)
        if status == Status.CANCELLED:
            fields.update(cancelled_at=received + dt.timedelta(hours=1))
        batch.append(Case(
            number=f"XJB{i:09d}", kind=kinds[i % len(kinds)], source=sources[i % len(sources)],
            title=f"测试诉求 {i}", description="基准测试数据", complainant_phone="13812345678",
            village_id=grid.village_id, grid_id=grid.pk, status=status, received_at=received, **fields,
        ))
        if len(batch) == 5000:
            Case.objects.bulk_create(batch)
            made += len(batch)
            batch = []
    if batch:
        Case.objects.bulk_create(batch)
        made += len(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_case")
    return made


def measure(client: Client, token: str, village_ids: list[int], requests: int) -> dict:
    """Time ``requests`` list requests (after 10 warm-ups), rotating over ``village_ids``."""
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    times, matched, sql, queries = [], [], [], []
    for k in range(10 + requests):
        village = village_ids[k % len(village_ids)]
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/api/v1/cases/", {"status": "dispatched", "village_id": village}, **headers)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        if k >= 10:
            times.append(elapsed * 1000)
            matched.append(response.json()["count"])
            sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
            queries.append(len(captured.captured_queries))
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)],
        "mean": statistics.fmean(times),
        "rows": statistics.fmean(matched),
        "sql": statistics.median(sql),
        "queries": max(queries),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the large table (default 100000)")
    parser.add_argument("--baseline", type=int, default=1_000, help="cases in the baseline table (default 1000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measurement (default 200)")
    args = parser.parse_args(argv)
    if connection.vendor != "postgresql":
        print("This benchmark runs on PostgreSQL only (set DATABASE_URL or leave it unset).", file=sys.stderr)
        return 2

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from rest_framework.authtoken.models import Token

        from cases.seeding import seed_sla_policies
        from grids.choices import Role
        from grids.models import Grid, Village
        from grids.services import seed_xiji
        from tests.factories import UserFactory

        clock = time.perf_counter()
        seed_sla_policies()
        seed_xiji()
        grids = list(Grid.objects.order_by("code"))
        village_ids = list(Village.objects.order_by("code").values_list("pk", flat=True))
        dispatcher = UserFactory(username="bench-dispatcher", roles=[Role.DISPATCHER])
        leader = UserFactory(username="bench-grid-leader", roles=[Role.GRID_LEADER])
        grids[0].leader.user = leader
        grids[0].leader.save(update_fields=["user"])
        tokens = {name: Token.objects.create(user=user).key
                  for name, user in (("dispatcher", dispatcher), ("grid leader", leader))}
        now = timezone.now()
        rng = random.Random(20250407)
        client = Client()
        print(f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}; "
              f"seeded in {time.perf_counter() - clock:.1f} s")
        results = {}
        total = 0
        for size in (args.baseline, args.cases):
            clock = time.perf_counter()
            total += make_cases(size - total, start_index=total, grids=grids, now=now, rng=rng)
            print(f"\n{total:,} cases (inserted in {time.perf_counter() - clock:.1f} s)")
            for who, villages in (("dispatcher", village_ids), ("grid leader", [grids[0].village_id])):
                figures = measure(client, tokens[who], villages, args.requests)
                results[(size, who)] = figures
                print(f"  {who:<12} p50 {figures['p50']:6.1f} ms   p95 {figures['p95']:6.1f} ms   "
                      f"mean {figures['mean']:6.1f} ms   of which SQL (p50) {figures['sql']:5.1f} ms in "
                      f"{figures['queries']} queries   matching rows {figures['rows']:.0f}")
        print(f"\nratio {args.cases:,} / {args.baseline:,} cases:")
        for who in ("dispatcher", "grid leader"):
            big, small = results[(args.cases, who)], results[(args.baseline, who)]
            print(f"  {who:<12} p50 ×{big['p50'] / small['p50']:.2f}   p95 ×{big['p95'] / small['p95']:.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
