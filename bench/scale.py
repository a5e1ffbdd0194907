"""District-scale benchmark (issue 17): the deadline sweep, statistics, the daily-figure rebuild, the import
and the case list, measured on 1,000,000 generated cases in a PostgreSQL database of its own.

    .venv/bin/python bench/scale.py [--cases 1000000] [--only sweep,stats,rebuild,import,list,dashboard]
                                    [--due 1000] [--repeat 3] [--keep] [--reuse]

``DATABASE_URL`` names the server (its database is not touched); the data set lives in the database
``xiji_scale_bench`` (``--db``), created with ``COPY`` (``bench/scale_data.py``) and dropped at the end unless
``--keep``; ``--reuse`` takes a data set kept earlier instead of building one. Every measurement runs
``--repeat`` times (default 3); the median is printed beside the median of its baseline, run in the same
process on the same data, and their ratio:

* sweep: ``cases.deadlines.sweep`` with 0 and ``--due`` cases due (the clock moved forward until that many
  next checks have passed, as after an outage) against a per-case loop over every open case (the naive
  peer); the due cases' marks, events and notifications are rolled back between runs. Database time is the
  sum of the statements' own durations measured around each ``cursor.execute``; queries are counted.
* stats: ``cases.selectors.rates(group_by="village")`` over periods (all, a year, a month, an assessment
  month, a day) against one hand-written ``GROUP BY`` over the case table.
* rebuild: ``manage.py rebuild_stats`` in a child process: seconds and its peak RSS.
* import: ``manage.py import_cases`` of a generated 12345 hotline file in a child process (rows/s, peak RSS)
  against ``COPY`` of the same number of rows into a scratch table.
* list / dashboard: the case list API (p50/p95 over 200 requests) and the supervisor dashboard page,
  server time through Django's test client.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale_data  # noqa: E402

STEPS = ("sweep", "stats", "rebuild", "import", "list", "dashboard")


def log(*args):
    print(*args, flush=True)


class Timer:
    """Counts statements and their own durations (seconds) on a Django connection."""

    def __init__(self, connection):
        self.connection = connection
        self.queries = 0
        self.db = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.db += time.perf_counter() - started
            self.queries += 1

    @contextlib.contextmanager
    def measure(self):
        self.queries, self.db = 0, 0.0
        with self.connection.execute_wrapper(self):
            yield self


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_ms(seconds):
    return f"{seconds * 1000:,.1f} ms"


def report(name, runs, base_name=None, base_runs=None, *, unit=fmt_ms):
    line = f"  {name:<46} median {unit(median(runs)):>12}   runs {', '.join(unit(r) for r in runs)}"
    log(line)
    if base_runs:
        log(f"  {base_name:<46} median {unit(median(base_runs)):>12}   runs {', '.join(unit(r) for r in base_runs)}")
        log(f"  {'ratio baseline / measured':<46} {median(base_runs) / median(runs):>10.1f} ×")


# --- sweep ------------------------------------------------------------------------------------------------

MARK_COLUMNS = ("respond_warned_at", "respond_breached_at", "resolve_warned_at", "resolve_breached_at",
                "escalated_at", "next_check_at", "updated_at", "status")


def naive_sweep(now):
    """The naive peer: load every open case and check its deadlines in Python; record each due mark with its
    event and notifications in a transaction of its own (what a per-case loop without a stored next check
    and without a partial index does)."""
    from django.db import transaction

    from cases.choices import OPEN_STATES, Action, NotificationKind
    from cases.models import Case, CaseEvent
    from cases.notifications import case_recipients, notify

    marks = notes = 0
    spec = (("respond", "respond_warn_at", "respond_warned_at", "responded_at", Action.RESPOND_WARNING, False),
            ("respond", "respond_due_at", "respond_breached_at", "responded_at", Action.RESPOND_BREACH, True),
            ("resolve", "resolve_warn_at", "resolve_warned_at", "resolved_at", Action.RESOLVE_WARNING, False),
            ("resolve", "resolve_due_at", "resolve_breached_at", "resolved_at", Action.RESOLVE_BREACH, True))
    for case in Case.objects.filter(status__in=OPEN_STATES).select_related(
            "village__chief_grid_leader__user", "grid__leader__user", "handler__user").iterator(chunk_size=2000):
        due = []
        for deadline, point_f, mark_f, met_f, action, breach in spec:
            point, met = getattr(case, point_f), getattr(case, met_f)
            if point is None or point > now or getattr(case, mark_f) is not None:
                continue
            if (breach and met is not None and met <= point) or (not breach and met is not None):
                continue
            due.append((deadline, point, mark_f, action, breach))
        if not due:
            continue
        with transaction.atomic():
            case = Case.objects.select_for_update(of=("self",)).select_related(
                "village__chief_grid_leader__user", "grid__leader__user", "handler__user").get(pk=case.pk)
            for deadline, point, mark_f, action, breach in due:
                setattr(case, mark_f, point)
                CaseEvent.objects.create(case=case, action=action, from_status=case.status, to_status=case.status,
                                         at=point, data={"deadline": deadline, "point": point.isoformat()})
                marks += 1
                if breach and deadline == "resolve":
                    case.escalated_at = now
                    CaseEvent.objects.create(case=case, action=Action.ESCALATED, from_status=case.status,
                                             to_status=case.status, at=now, data={"automatic": True})
                notes += len(notify(case_recipients(case, supervisors_too=breach), kind=NotificationKind(action.value),
                                    title=f"{action}:{case.number}", body=case.title, case=case,
                                    dedupe_key=f"{action}:{case.pk}:{point.isoformat()}", now=now))
            case.next_check_at = case.compute_next_check_at()
            case.save()
    return marks, notes


class SweepState:
    """Snapshot the due cases' mark columns and the event/notification high-water marks; ``restore()`` puts
    them back after a run (so every run sees the same due cases)."""

    def __init__(self, at):
        from django.db import connection

        self.connection = connection
        with connection.cursor() as c:
            c.execute("SELECT coalesce(max(id), 0) FROM cases_caseevent")
            self.max_event = c.fetchone()[0]
            c.execute("SELECT coalesce(max(id), 0) FROM cases_notification")
            self.max_note = c.fetchone()[0]
            c.execute("DROP TABLE IF EXISTS bench_sweep_snapshot")
            c.execute(f"CREATE TABLE bench_sweep_snapshot AS SELECT id, {', '.join(MARK_COLUMNS)} FROM cases_case "
                      f"WHERE status IN ('received','dispatched','accepted','responded','returned','resolved') "
                      f"AND (next_check_at <= %s OR respond_warn_at <= %s OR resolve_warn_at <= %s "
                      f"OR respond_due_at <= %s OR resolve_due_at <= %s) "
                      f"AND received_at > %s", [at, at, at, at, at, at - dt.timedelta(days=40)])
        self.extra_tables = [t for t in ("cases_statdelta",) if t in connection.introspection.table_names()]

    def restore(self):
        with self.connection.cursor() as c:
            c.execute("DELETE FROM cases_notification WHERE id > %s", [self.max_note])
            c.execute("DELETE FROM cases_caseevent WHERE id > %s", [self.max_event])
            c.execute(f"UPDATE cases_case c SET {', '.join(f'{k} = s.{k}' for k in MARK_COLUMNS)} "
                      f"FROM bench_sweep_snapshot s WHERE c.id = s.id")

    def drop(self):
        with self.connection.cursor() as c:
            c.execute("DROP TABLE IF EXISTS bench_sweep_snapshot")


def clock_for_due(now, due: int):
    """The earliest time at which ``due`` cases have a next check at or before it (after ``now``)."""
    from cases.models import Case

    if due == 0:
        return now
    points = list(Case.objects.filter(next_check_at__gt=now).order_by("next_check_at")
                  .values_list("next_check_at", flat=True)[due - 1:due])
    return points[0]


def bench_sweep(args, now):
    from django.db import connection

    from cases.deadlines import sweep

    timer = Timer(connection)
    for due in [0, *args.due]:
        at = clock_for_due(now, due)
        log(f"\n== sweep with {due:,} cases due (clock {at.isoformat()}, {at - now} after the data set's now) ==")
        state = SweepState(at)
        try:
            runs, dbs, queries, figures = [], [], [], None
            for _ in range(args.repeat):
                with timer.measure():
                    started = time.perf_counter()
                    result = sweep(at)
                    runs.append(time.perf_counter() - started)
                dbs.append(timer.db)
                queries.append(timer.queries)
                figures = result.as_dict()
                state.restore()
            base_runs, base_q = [], []
            if not args.no_baseline:
                for _ in range(args.repeat):
                    with timer.measure():
                        started = time.perf_counter()
                        marks, notes = naive_sweep(at)
                        base_runs.append(time.perf_counter() - started)
                    base_q.append(timer.queries)
                    state.restore()
            log(f"  sweep figures: {figures}")
            log(f"  queries: sweep {median(queries):.0f}" + (f", per due case {median(queries) / due:.1f}" if due else "")
                + (f"; per-case loop {median(base_q):.0f} (marks {marks}, notifications {notes})" if base_q else ""))
            report("sweep wall", runs, "per-case loop over open cases (wall)", base_runs)
            report("sweep database time", dbs)
        finally:
            state.drop()


# --- statistics -------------------------------------------------------------------------------------------

def hand_group_by(start, end):
    """One hand-written GROUP BY over the case table: the static and open-late figures per village."""
    from django.db import connection

    from cases.selectors import day_start

    where, params = ["NOT excluded"], []
    if start:
        where.append("received_at >= %s")
        params.append(day_start(start))
    if end:
        where.append("received_at < %s")
        params.append(day_start(end + dt.timedelta(days=1)))
    now = dt.datetime.now(dt.UTC)
    with connection.cursor() as c:
        c.execute(f"""
            SELECT village_id, count(*), count(dispatched_at), count(responded_at), count(resolved_at),
                   count(*) FILTER (WHERE status = 'closed'),
                   count(*) FILTER (WHERE responded_at IS NOT NULL AND respond_due_at IS NOT NULL),
                   count(*) FILTER (WHERE responded_at <= respond_due_at),
                   count(*) FILTER (WHERE resolved_at IS NOT NULL AND resolve_due_at IS NOT NULL),
                   count(*) FILTER (WHERE resolved_at <= resolve_due_at),
                   count(*) FILTER (WHERE responded_at > respond_due_at OR resolved_at > resolve_due_at),
                   count(*) FILTER (WHERE satisfaction IN ('satisfied','basically_satisfied','unsatisfied')),
                   count(*) FILTER (WHERE satisfaction IN ('satisfied','basically_satisfied','unsatisfied')
                                    AND callback_contacted),
                   count(*) FILTER (WHERE satisfaction IN ('satisfied','basically_satisfied','unsatisfied')
                                    AND callback_solved),
                   count(*) FILTER (WHERE satisfaction = 'satisfied'),
                   count(*) FILTER (WHERE satisfaction = 'basically_satisfied'),
                   count(*) FILTER (WHERE status IN ('received','dispatched','accepted','responded','returned')
                                    AND responded_at IS NULL AND respond_due_at < %s)
            FROM cases_case WHERE {' AND '.join(where)} GROUP BY village_id""", [now, *params])
        return c.fetchall()


def periods(now):
    from cases.selectors import assessment_month, local_date

    today = local_date(now)
    yesterday = today - dt.timedelta(days=1)
    _name, a_first, a_last = assessment_month(today - dt.timedelta(days=40))
    month_first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    month_last = today.replace(day=1) - dt.timedelta(days=1)
    return [("all 5 years", None, None), ("last 365 days", today - dt.timedelta(days=365), today),
            ("last calendar month", month_first, month_last), ("an assessment month", a_first, a_last),
            ("yesterday", yesterday, yesterday), ("today", today, today)]


def bench_stats(args, now):
    from django.db import connection

    from cases.selectors import rates

    log("\n== rates(group_by='village') ==")
    timer = Timer(connection)
    for label, start, end in periods(now):
        runs, base, queries = [], [], []
        for _ in range(args.repeat):
            with timer.measure():
                started = time.perf_counter()
                rows = rates(group_by="village", start=start, end=end)
                runs.append(time.perf_counter() - started)
            queries.append(timer.queries)
            started = time.perf_counter()
            hand = hand_group_by(start, end)
            base.append(time.perf_counter() - started)
        log(f" period {label} ({start} … {end}): {len(rows)} villages, {sum(r['received'] for r in rows):,} cases, "
            f"{median(queries):.0f} queries (hand GROUP BY: {len(hand)} rows)")
        report("rates(group_by=village)", runs, "hand-written GROUP BY", base)
    for group_by in ("month", "category", "grid", None):
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            rates(group_by=group_by, start=now.date() - dt.timedelta(days=365))
            runs.append(time.perf_counter() - started)
        report(f"rates(group_by={group_by!r}), last 365 days", runs)


# --- child processes ------------------------------------------------------------------------------------------

def run_child(argv, env=None):
    """Run ``python manage.py …``; returns (seconds, peak RSS in MB of the child, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env or os.environ.copy(),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"{argv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: run the heaviest last, or read /usr/bin/time
    return seconds, max(peak, before) / 1024, proc.stdout


def rss_child(argv):
    """Like :func:`run_child` but reads the child's own peak RSS through GNU time."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        started = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name, sys.executable, "manage.py", *argv],
                              cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise RuntimeError(f"{argv} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        peak_kb = int(out.read().strip().splitlines()[-1])
    return seconds, peak_kb / 1024, proc.stdout


def bench_rebuild(args, now):
    log("\n== rebuild_stats (child process) ==")
    runs, peaks = [], []
    for _ in range(args.rebuild_repeat or args.repeat):
        seconds, peak, out = rss_child(["rebuild_stats"])
        runs.append(seconds)
        peaks.append(peak)
        log(f"  {out.strip()}  — {seconds:.1f} s, peak RSS {peak:.0f} MB")
    report("rebuild_stats", runs, unit=lambda s: f"{s:,.1f} s")
    log(f"  peak RSS median {median(peaks):.0f} MB")


def bench_import(args, now):
    import tempfile

    from django.db import connection

    log(f"\n== import_cases of a {args.import_rows:,}-row 12345 hotline file (child process) ==")
    with tempfile.TemporaryDirectory() as tmp:
        runs, peaks = [], []
        for k in range(args.import_repeat or args.repeat):
            path = scale_data.write_hotline_file(Path(tmp) / f"hotline_{k}.csv", args.import_rows, now=now,
                                                 seed=1000 + k)
            seconds, peak, out = rss_child(["import_cases", str(path), "--source", "hotline"])
            runs.append(seconds)
            peaks.append(peak)
            log(f"  run {k + 1}: {args.import_rows / seconds:,.0f} rows/s, {seconds:.1f} s, peak RSS {peak:.0f} MB; "
                f"{out.strip().splitlines()[-1][:220]}")
            _delete_hotline_cases(connection)  # the next run's file has other ids: remove this run's cases
        base = []
        path = scale_data.write_hotline_file(Path(tmp) / "hotline_copy.csv", args.import_rows, now=now, seed=999)
        for _ in range(args.repeat):
            with connection.cursor() as c:  # the case table's columns without its constraints, indexes, triggers
                c.execute("CREATE TEMP TABLE bench_copy (LIKE cases_case INCLUDING DEFAULTS INCLUDING IDENTITY)")
                c.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'bench_copy' "
                          "AND is_nullable = 'NO' AND column_name <> 'id'")
                for (column,) in c.fetchall():
                    c.execute(f'ALTER TABLE bench_copy ALTER COLUMN "{column}" DROP NOT NULL')
            started = time.perf_counter()
            raw = connection.connection
            with path.open(encoding="utf-8") as fh, raw.cursor() as cur:
                next(fh)
                import csv

                with cur.copy("COPY bench_copy (external_ref, number, received_at, title, description, kind, "
                              "source, urgency, village_id, status, complainant_name, complainant_phone, address, "
                              "result, satisfaction, extension_reason, exclusion_reason, excluded, updated_at) "
                              "FROM STDIN") as cp:
                    for i, row in enumerate(csv.reader(fh)):
                        cp.write_row((row[0], f"B{i}", row[1] + "+08", row[2], row[3], "complaint", "hotline",
                                      "general", 1, "received", row[7], row[8], row[9], row[13], "", "", "", False,
                                      now))
            base.append(time.perf_counter() - started)
            with connection.cursor() as c:
                c.execute("DROP TABLE bench_copy")
        # the careful path of the same lifecycle (each record through the services, ~49 queries a record), on
        # the first rows of such a file: rows/s to compare with the bulk fold's
        careful = []
        path = scale_data.write_hotline_file(Path(tmp) / "hotline_replay.csv", args.replay_rows, now=now, seed=998)
        for _ in range(args.repeat):
            seconds, _peak, out = rss_child(["import_cases", str(path), "--source", "hotline", "--replay"])
            careful.append(seconds)
            _delete_hotline_cases(connection)
    rate = lambda s: f"{args.import_rows / s:,.0f} rows/s"  # noqa: E731
    report("import_cases", runs, "COPY of the same rows (no checks, no lifecycle)", base, unit=rate)
    per_row = [s / args.replay_rows for s in careful]
    log(f"  {'import_cases --replay of ' + format(args.replay_rows, ',') + ' rows':<46} "
        f"{1 / median(per_row):>14,.0f} rows/s   bulk is {median(per_row) * args.import_rows / median(runs):.1f}x")
    log(f"  import peak RSS median {median(peaks):.0f} MB")


def _delete_hotline_cases(connection):
    """Remove the cases of the generated hotline files (ids ``BJ12345-…``), their events and notices."""
    with connection.cursor() as c:
        for table in ("cases_notification", "cases_caseevent"):
            c.execute(f"DELETE FROM {table} WHERE case_id IN (SELECT id FROM cases_case WHERE "
                      "external_ref LIKE 'BJ12345-%%')")
        c.execute("DELETE FROM cases_case WHERE external_ref LIKE 'BJ12345-%%'")


# --- list and dashboard -----------------------------------------------------------------------------------

def bench_list(args, now):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from grids.models import Village

    log("\n== case list API (Django test client, server time) ==")
    User = get_user_model()
    dispatcher = User.objects.get(username="dispatcher")
    leader = User.objects.get(username="gl222-1")
    tokens = {u.username: Token.objects.get_or_create(user=u)[0].key for u in (dispatcher, leader)}
    villages = list(Village.objects.order_by("code").values_list("pk", flat=True))
    client = Client()
    queries = [("dispatcher", "newest first, no filter", lambda k: {}),
               ("dispatcher", "status=dispatched&village_id", lambda k: {"status": "dispatched",
                                                                        "village_id": villages[k % len(villages)]}),
               ("dispatcher", "overdue=true", lambda k: {"overdue": "true"}),
               ("dispatcher", "q=路灯", lambda k: {"q": "路灯"}),
               ("gl222-1", "own grid, newest first", lambda k: {})]
    for who, label, params in queries:
        times = []
        for k in range(10 + args.requests):
            started = time.perf_counter()
            response = client.get("/api/v1/cases/", params(k), HTTP_AUTHORIZATION=f"Token {tokens[who]}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.content[:300]
            if k >= 10:
                times.append(elapsed)
        times.sort()
        p95 = times[int(0.95 * len(times)) - 1]
        log(f"  {who:<11} {label:<32} p50 {fmt_ms(median(times)):>10}  p95 {fmt_ms(p95):>10}  "
            f"(count {response.json()['count']:,})")


def bench_dashboard(args, now):
    from django.contrib.auth import get_user_model
    from django.test import Client

    log("\n== dashboard page (Django test client, server time) ==")
    client = Client()
    client.force_login(get_user_model().objects.get(username="supervisor"))
    for label, query in (("default period", ""), ("all", "?start=&end="), ("last month", None)):
        if query is None:
            p = periods(now)[2]
            query = f"?start={p[1]}&end={p[2]}"
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get("/dashboard/" + query)
            runs.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        report(f"GET /dashboard/{query} ({label})", runs)


# --- main --------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", default="xiji_scale_bench")
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated steps of {', '.join(STEPS)}")
    parser.add_argument("--due", type=int, nargs="*", default=[1000], help="due cases per sweep measurement")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild-repeat", type=int, default=0, help="runs of rebuild_stats (default --repeat)")
    parser.add_argument("--import-repeat", type=int, default=0, help="runs of the import (default --repeat)")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--replay-rows", type=int, default=1_000,
                        help="rows of the careful path's baseline (import_cases --replay)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow per-case loop of the sweep")
    parser.add_argument("--keep", action="store_true", help="keep the data set's database afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the data set kept by an earlier --keep run")
    parser.add_argument("--template", help="copy the data set from this database (kept by an earlier run)")
    args = parser.parse_args(argv)
    steps = [s for s in args.only.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {unknown}")

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (postgres://user@host:port/any)")
    if args.reuse and not scale_data.database_exists(url, args.db):
        parser.error(f"--reuse: no database {args.db}")
    if args.template:
        scale_data.create_database(url, args.db, template=args.template)
        args.reuse = True
    elif not args.reuse:
        scale_data.create_database(url, args.db)
    os.environ["DATABASE_URL"] = scale_data.server_dsn(url, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.test")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host is allowed; e-mail goes to memory

    try:
        log(f"PostgreSQL {connection.cursor().connection.info.server_version}, database {args.db}")
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        log(f"migrations applied in {time.perf_counter() - started:.1f} s")
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
            c.execute("SELECT count(*) FROM cases_caseevent")
            events = c.fetchone()[0]
            c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
            size = c.fetchone()[0]
        log(f"data set's now {now.isoformat()}: {total:,} cases ({open_:,} open), {events:,} events "
            f"({events / total:.1f} per case), database {size}")
        for step in steps:
            globals()[f"bench_{step}"](args, now)
    finally:
        connection.close()
        if not args.keep:
            scale_data.drop_database(url, args.db)
            log(f"\ndropped {args.db}")


if __name__ == "__main__":
    main()
