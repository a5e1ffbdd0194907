"""How the deadline sweep's cost grows with the number of open cases (issue 3).

Creates a throw-away PostgreSQL test database (``DATABASE_URL``, else a private pgserver), fills it with
N open dispatched cases whose next check lies in the future plus D cases that are due, and for each N
prints the query plan of the sweep's selection (``EXPLAIN (ANALYZE, BUFFERS)``) and the time of one full
sweep of the D due cases, with the ratio against the smallest N measured in the same run.

    .venv/bin/python bench/sweep_cost.py [--open 1000 100000] [--due 100]
"""
import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def fill(open_count: int, due_count: int, now: dt.datetime) -> None:
    from cases.models import Case, DailySequence
    from grids.models import Grid

    Case.objects.all().delete()
    DailySequence.objects.all().delete()
    grids = list(Grid.objects.select_related("village"))
    rng = random.Random(7)
    rows = []
    for i in range(open_count + due_count):
        grid = grids[i % len(grids)]
        received = now - dt.timedelta(hours=rng.uniform(0, 17)) if i < open_count else now - dt.timedelta(days=9)
        rows.append(Case(
            number=f"XJB-{i:07d}", kind="complaint", source="hotline", title="bench", village=grid.village,
            grid=grid, status="dispatched", urgency="general", received_at=received, dispatched_at=received,
            respond_due_at=received + dt.timedelta(hours=24), resolve_due_at=received + dt.timedelta(days=7),
            respond_warn_at=received + dt.timedelta(hours=18), resolve_warn_at=received + dt.timedelta(days=5.25),
        ))
    for case in rows:
        case.next_check_at = case.compute_next_check_at()
    Case.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE cases_case")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--due", type=int, default=100)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from cases.deadlines import sweep
        from cases.seeding import seed_sla_policies
        from grids.services import seed_xiji

        seed_xiji()
        seed_sla_policies()
        now = dt.datetime(2025, 4, 7, 12, 0, tzinfo=dt.UTC)
        baseline = None
        for n in args.open:
            fill(n, args.due, now)
            with connection.cursor() as cur:
                cur.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) SELECT id FROM cases_case WHERE next_check_at <= %s "
                    "ORDER BY next_check_at LIMIT 500", [now])
                plan = "\n".join(row[0] for row in cur.fetchall())
            started = time.perf_counter()
            report = sweep(now, notify=False) if "notify" in sweep.__code__.co_varnames else sweep(now)
            elapsed = time.perf_counter() - started
            baseline = baseline or elapsed
            print(f"\n== {n:,} open cases not due + {args.due} due ==\n{plan}")
            print(f"sweep: {elapsed * 1000:.1f} ms for {report.cases} due cases "
                  f"({report.respond_breaches} respond breaches); ratio to first size: {elapsed / baseline:.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
