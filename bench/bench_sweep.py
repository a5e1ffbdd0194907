"""The set-based deadline sweep against per-case loops, at district scale (issue 17 build 1).

    DATABASE_URL=postgres://USER@HOST:PORT/any .venv/bin/python bench/bench_sweep.py \\
        [--cases 1000000] [--due 1000] [--repeat 3] [--batch-size 500] [--no-naive] [--keep] [--reuse]

Builds ``--cases`` generated cases (default 1,000,000; ``--cases 100000`` for a quick run) with ``COPY`` in a
database of its own (``--db``, default ``xiji_sweep_bench``; ``bench/scale_data.py``), moves the clock forward
until ``--due`` cases (default 1,000) are due, as after an outage, and runs in the same process, ``--repeat``
times each (default 3), with every run's marks, events and notifications rolled back before the next:

* the set-based sweep: ``cases.deadlines.sweep(at)``, batches of ``--batch-size``;
* the per-case path of the same function (``sweep(at, per_case=True)``: each case claimed, written and
  notified in its own transaction, as the product did before);
* unless ``--no-naive``: the naive peer of ``bench/scale.py`` (a loop over every open case in Python).

It prints the medians, the database time (the statements' round trips, summed around each
``cursor.execute``: driver, network and server), the server's own time for the set-based sweep (its
statements replayed once under ``EXPLAIN ANALYZE``, foreign-key checks included), the queries per batch (a batch = one claiming ``SELECT … FOR UPDATE``; the last claim
finds nothing) with the statements by kind, and the ratios. The database is dropped at the end unless
``--keep``; ``--reuse`` takes one kept earlier. Targets (issue 17): 1,000 due cases in ≤ 250 ms wall and
≤ 100 ms of database time, ≥ 100 × the per-case loop, queries per batch constant.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402
import scale_data  # noqa: E402

log = scale.log
median = scale.median

#: Every column a sweep (either path, or the naive loop) may change on a case.
SWEPT = ("dispatch_warned_at", "dispatch_breached_at", "respond_warned_at", "respond_breached_at",
         "resolve_warned_at", "resolve_breached_at", "escalated_at", "next_check_at", "updated_at")


class Statements(scale.Timer):
    """:class:`scale.Timer` that also counts statements by their first word and the claims (``FOR UPDATE``)."""

    def __call__(self, execute, sql, params, many, context):
        self.kinds[sql.split(None, 1)[0].upper()] += 1
        self.claims += " FOR UPDATE" in sql
        return super().__call__(execute, sql, params, many, context)

    @contextlib.contextmanager
    def measure(self):
        self.kinds, self.claims = collections.Counter(), 0
        with super().measure() as timer:
            yield timer


class Snapshot:
    """The swept columns of every case a run may touch (due at ``at``, or open with a point at or before it),
    and the event / notification high-water marks; :meth:`restore` puts them back after each run."""

    def __init__(self, at):
        from django.db import connection

        self.connection = connection
        with connection.cursor() as c:
            c.execute("SELECT coalesce(max(id), 0) FROM cases_caseevent")
            self.max_event = c.fetchone()[0]
            c.execute("SELECT coalesce(max(id), 0) FROM cases_notification")
            self.max_note = c.fetchone()[0]
            c.execute("DROP TABLE IF EXISTS bench_sweep_snapshot")
            c.execute(f"CREATE TABLE bench_sweep_snapshot AS SELECT id, {', '.join(SWEPT)} FROM cases_case "
                      "WHERE next_check_at < %s OR (status IN ('received','dispatched','accepted','responded',"
                      "'returned') AND (respond_warn_at <= %s OR resolve_warn_at <= %s OR dispatch_warn_at <= %s "
                      "OR respond_due_at <= %s OR resolve_due_at <= %s OR dispatch_due_at <= %s))", [at] * 7)
            c.execute("SELECT count(*) FROM bench_sweep_snapshot")
            self.rows = c.fetchone()[0]

    def restore(self):
        with self.connection.cursor() as c:
            c.execute("DELETE FROM cases_notification WHERE id > %s", [self.max_note])
            c.execute("DELETE FROM cases_caseevent WHERE id > %s", [self.max_event])
            c.execute(f"UPDATE cases_case c SET {', '.join(f'{k} = s.{k}' for k in SWEPT)} "
                      f"FROM bench_sweep_snapshot s WHERE c.id = s.id")
            c.execute("VACUUM ANALYZE cases_case")  # each run starts from the same table statistics

    def drop(self):
        with self.connection.cursor() as c:
            c.execute("DROP TABLE IF EXISTS bench_sweep_snapshot")


def measure(timer, snapshot, repeat, run):
    """Run ``run()`` ``repeat`` times, restoring the snapshot after each. Returns (walls, dbs, queries,
    claims, kinds, last result)."""
    walls, dbs, queries, claims, kinds, result = [], [], [], [], None, None
    for _ in range(repeat):
        with timer.measure():
            started = time.perf_counter()
            result = run()
            walls.append(time.perf_counter() - started)
        dbs.append(timer.db)
        queries.append(timer.queries)
        claims.append(timer.claims)
        kinds = dict(timer.kinds)
        snapshot.restore()
    return walls, dbs, queries, claims, kinds, result


def server_time(run, snapshot) -> tuple[float, list[str]]:
    """Run ``run()`` once recording its statements, restore, then replay them in one rolled-back transaction
    under ``EXPLAIN (ANALYZE)`` with the foreign-key checks made immediate (they run at commit otherwise):
    the server's own planning + execution time in seconds, without the network or the driver, and a line
    per statement."""
    import re

    from django.db import connection, transaction

    recorded = []

    def record(execute, sql, params, many, context):
        recorded.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    snapshot.restore()
    total, lines = 0.0, []
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql, params in recorded:
            if sql.startswith(("SAVEPOINT", "RELEASE")):
                continue
            c.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) " + sql, params)
            plan = "\n".join(row[0] for row in c.fetchall())
            ms = sum(float(x) for x in re.findall(r"(?:Planning|Execution) Time: ([0-9.]+) ms", plan))
            total += ms / 1000
            lines.append(f"{ms:7.1f} ms  {' '.join(sql.split()[:3])[:60]}")
        transaction.set_rollback(True)
    return total, lines


def bench(args, now):
    from django.db import connection

    from cases.deadlines import sweep

    timer = Statements(connection)
    for due in args.due:
        at = scale.clock_for_due(now, due) + dt.timedelta(microseconds=1)  # its last point has passed
        log(f"\n== {due:,} cases due (clock {at.isoformat()}, {at - now} after the data set's now), "
            f"batches of {args.batch_size} ==")
        snapshot = Snapshot(at)
        try:
            log(f"  snapshot of {snapshot.rows:,} cases a run may touch")
            walls, dbs, queries, claims, kinds, report = measure(
                timer, snapshot, args.repeat, lambda at=at: sweep(at, batch_size=args.batch_size))
            log(f"  set-based sweep: {report.as_dict()}")
            batches = median(claims)
            log(f"  queries: {median(queries):.0f} in {batches:.0f} claims ({batches - 1:.0f} batches + the last, "
                f"empty claim): {median(queries) / batches:.1f} per claim; by kind {kinds}")
            scale.report("set-based sweep (wall)", walls)
            scale.report("set-based sweep (database time)", dbs)
            server, lines = server_time(lambda at=at: sweep(at, batch_size=args.batch_size), snapshot)
            log(f"  {'set-based sweep (server time, one replay)':<46} {scale.fmt_ms(server):>19}")
            for line in lines:
                log(f"      {line}")
            p_walls, p_dbs, p_queries, _c, _k, p_report = measure(
                timer, snapshot, args.repeat, lambda at=at: sweep(at, batch_size=args.batch_size, per_case=True))
            same = p_report.as_dict() == report.as_dict()
            log(f"  per-case path: {p_report.as_dict()} ({'same' if same else 'NOT the same'} figures)")
            log(f"  queries: {median(p_queries):.0f}, {median(p_queries) / max(report.cases, 1):.1f} per due case")
            scale.report("per-case path (wall)", p_walls, None, None)
            scale.report("per-case path (database time)", p_dbs)
            log(f"  {'ratio per-case / set-based, wall':<46} {median(p_walls) / median(walls):>10.1f} ×")
            log(f"  {'ratio per-case / set-based, database time':<46} {median(p_dbs) / median(dbs):>10.1f} ×")
            if not args.no_naive:
                n_walls, n_dbs, n_queries, _c, _k, (marks, notes) = measure(
                    timer, snapshot, args.repeat, lambda at=at: scale.naive_sweep(at))
                log(f"  naive loop over open cases: {marks} marks, {notes} notifications, "
                    f"{median(n_queries):.0f} queries")
                scale.report("naive loop over open cases (wall)", n_walls)
                log(f"  {'ratio naive / set-based, wall':<46} {median(n_walls) / median(walls):>10.1f} ×")
        finally:
            snapshot.drop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", default="xiji_sweep_bench")
    parser.add_argument("--due", type=int, nargs="+", default=[1000], help="due cases per measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop over every open case")
    parser.add_argument("--keep", action="store_true", help="keep the data set's database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the data set kept by an earlier --keep run")
    args = parser.parse_args(argv)

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (postgres://user@host:port/any)")
    if args.reuse and not scale_data.database_exists(url, args.db):
        parser.error(f"--reuse: no database {args.db}")
    if not args.reuse:
        scale_data.create_database(url, args.db)
    os.environ["DATABASE_URL"] = scale_data.server_dsn(url, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.test")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    from cases import notifications

    setup_test_environment()
    notifications.enqueue_delivery = lambda ids: None  # no worker here: deliveries are not part of the sweep
    try:
        log(f"PostgreSQL {connection.cursor().connection.info.server_version}, database {args.db}")
        call_command("migrate", verbosity=0)
        if not args.reuse:
            now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
            counts = scale_data.build(args.cases, now=now, progress=log)
            with connection.cursor() as c:
                c.execute("CREATE TABLE bench_meta (now timestamptz)")
                c.execute("INSERT INTO bench_meta VALUES (%s)", [now])
            log(f"data set: {counts}")
        with connection.cursor() as c:
            c.execute("SELECT now FROM bench_meta")
            now = c.fetchone()[0]
            c.execute("SELECT count(*), count(*) FILTER (WHERE status IN ('received','dispatched','accepted',"
                      "'responded','returned')) FROM cases_case")
            total, open_ = c.fetchone()
        log(f"data set's now {now.isoformat()}: {total:,} cases ({open_:,} open)")
        bench(args, now)
    finally:
        connection.close()
        if not args.keep:
            scale_data.drop_database(url, args.db)
            log(f"\ndropped {args.db}")


if __name__ == "__main__":
    main()
