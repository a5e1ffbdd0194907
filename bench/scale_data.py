"""The district-scale data set of the benchmarks (issue 17): a database of its own, filled with PostgreSQL
``COPY`` (psycopg 3), and a hotline export file for the import benchmark.

The cases are generated, deterministic for a seed and a clock: ``N`` cases received over five years before
``now`` (volume growing each year, daytime-heavy), spread over Xiji's 59 villages and 180 micro-grids with
uneven weights, over the 517-row taxonomy (15 % without a category), the eight sources and the four
urgencies. Each case lives the lifecycle the services would have written: created, dispatched, accepted,
responded, resolved, called back and closed as far as its (random) milestone times lie before ``now``, with
its deadlines from the seeded SlaPolicy windows, the warnings and breaches a sweep running every minute
would have recorded (events stamped with their points, resolve breaches escalated) and the notifications
that go with them. About 2 % are cancelled as invalid (excluded). Milestones later than ``now`` are not
reached, so the newest cases are open (~1.2 % of them: 12,000 of 1,000,000) and their next checks lie ahead.

Used by ``bench/scale.py``; the functions here need Django set up on the data set's database.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
import time
from pathlib import Path

import psycopg
from psycopg import sql

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
YEAR_WEIGHTS = (0.14, 0.17, 0.20, 0.23, 0.26)  # oldest → newest of the five years
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 13, 12, 9, 10, 12, 12, 11, 10, 8, 7, 5, 4, 2, 1)
SOURCES = (("hotline", 55), ("online", 15), ("patrol", 15), ("visit", 5), ("deputy", 2), ("proactive", 4),
           ("enterprise", 2), ("walk_in", 2))
KINDS = (("complaint", 40), ("help", 25), ("enquiry", 15), ("report", 10), ("suggestion", 10))
URGENCIES = (("general", 80), ("complex", 8), ("utilities", 8), ("emergency", 4))
SATISFACTION = (("satisfied", 78), ("basically_satisfied", 12), ("unsatisfied", 5), ("unreachable", 5))
TITLES = ("路灯不亮", "楼道积水", "垃圾清运不及时", "噪音扰民", "道路破损", "供暖不热", "停水", "违章搭建",
          "占道经营", "下水道堵塞", "绿化带缺损", "宠物扰民", "油烟污染", "电线老化", "井盖缺失", "拖欠工资",
          "物业服务差", "农田灌溉", "村道积雪", "公交站牌损坏")
TEXT = ("村民反映{t}，已持续数日，影响正常生活，希望有关部门尽快到现场查看并处理，处理结果请及时反馈。"
        "地点在村委会东侧约两百米处。")


def server_dsn(url: str, dbname: str) -> str:
    """``url`` (a postgres:// URL) with its database replaced by ``dbname``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def create_database(url: str, name: str, *, template: str | None = None) -> None:
    """``CREATE DATABASE name`` (dropping an old one of that name) on the server of ``url``; from
    ``template`` (a file-level copy: seconds for a gigabyte) when given."""
    with psycopg.connect(server_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                          sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(server_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_exists(url: str, name: str) -> bool:
    with psycopg.connect(server_dsn(url, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _weighted(rng: random.Random, pairs):
    values = [v for v, _ in pairs]
    cum, total = [], 0
    for _, w in pairs:
        total += w
        cum.append(total)
    return lambda: values[_bisect(cum, rng.random() * total)]


def _bisect(cum, x):
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


class _Ids:
    def __init__(self):
        self.next = 0

    def __call__(self):
        self.next += 1
        return self.next


def build(n_cases: int, *, now: dt.datetime, seed: int = 17, flood: int = 5500, progress=print) -> dict:
    """Seed the registry, taxonomy, policies and demo logins, then COPY ``n_cases`` cases with their events
    and notifications into the current Django database (PostgreSQL). Returns counts and seconds.

    The last ``flood`` of them are an hour at district volume just before an outage: general cases received
    17–18 h before ``now`` (their respond warnings, at 18 h, fall due in the hour after ``now``) and, one in
    ten, emergencies received 1–2 h before (respond breach at 2 h), all dispatched and accepted, none
    responded yet: the sweep benchmark moves the clock forward into that hour."""
    from django.db import connection

    from cases.choices import OPEN_STATES
    from cases.models import Case, CaseEvent, Category, Notification, SlaPolicy
    from cases.seeding import seed_categories, seed_sla_policies
    from grids.choices import Role
    from grids.models import Grid, Village
    from grids.services import seed_xiji

    started = time.monotonic()
    seed_xiji(demo=True)
    seed_sla_policies()
    seed_categories()
    progress(f"  seeded in {time.monotonic() - started:.1f} s")
    rng = random.Random(seed)
    policies = {p.urgency: p for p in SlaPolicy.objects.all()}
    grids = list(Grid.objects.select_related("leader", "village__chief_grid_leader").order_by("code"))
    villages = list(Village.objects.order_by("code"))
    village_weight = {v.pk: rng.uniform(0.3, 3.0) for v in villages}
    grid_pick = _weighted(rng, [(g, village_weight[g.village_id] / len([x for x in grids if x.village_id == g.village_id]))
                                for g in grids])
    categories = list(Category.objects.select_related("parent__parent").order_by("pk"))
    top_of = {}
    for c in categories:
        node = c
        while node.parent_id is not None:
            node = node.parent
        top_of[c.pk] = node.pk
    category_pick = _weighted(rng, [(None, 15)] + [(c, 85 / len(categories)) for c in categories])
    urgency_of_category = {c.pk: c.effective_urgency() for c in categories}
    source_pick, kind_pick = _weighted(rng, SOURCES), _weighted(rng, KINDS)
    urgency_pick, satisfaction_pick = _weighted(rng, URGENCIES), _weighted(rng, SATISFACTION)
    hour_pick = _weighted(rng, list(enumerate(HOUR_WEIGHTS)))
    from django.contrib.auth import get_user_model

    User = get_user_model()
    supervisors = list(User.objects.filter(groups__name=Role.SUPERVISOR).values_list("pk", flat=True))
    dispatchers = list(User.objects.filter(groups__name=Role.DISPATCHER).values_list("pk", flat=True))

    year = dt.timedelta(days=365)
    start = now - 5 * year
    case_fields = [f for f in Case._meta.concrete_fields]
    case_cols = [f.column for f in case_fields]
    # columns the generator leaves out take their model default ("" for text, False, …), as the ORM would
    defaults = {f.column: f.get_default() for f in case_fields if not f.null and not f.primary_key}
    event_cols = ["id", "case_id", "actor_id", "action", "from_status", "to_status", "at", "note", "data"]
    note_cols = ["id", "recipient_id", "kind", "title", "body", "case_id", "dedupe_key", "created_at", "read_at",
                 "emailed_at"]
    event_id, note_id = _Ids(), _Ids()
    counts = {"cases": 0, "open": 0, "events": 0, "notifications": 0}
    # received times sorted so that ids follow received order (as a live system's would)
    progress(f"  generating {n_cases:,} received times …")
    times = []
    for _ in range(n_cases):
        y = _bisect(_cum(YEAR_WEIGHTS), rng.random() * sum(YEAR_WEIGHTS))
        day = start + y * year + dt.timedelta(days=rng.randrange(365))
        local = day.astimezone(SHANGHAI).replace(hour=hour_pick(), minute=rng.randrange(60),
                                                 second=rng.randrange(60), microsecond=0)
        t = local.astimezone(dt.UTC)
        if t < now:
            times.append(t)
    times = sorted(rng.sample(times, min(len(times), n_cases - flood)))
    while len(times) < n_cases - flood:  # the few drawn after now: put them in the last hour
        times.append(now - dt.timedelta(seconds=rng.randrange(3600)))
    times.sort()
    flooded = []
    for k in range(flood):
        emergency = k % 10 == 0
        back = dt.timedelta(hours=2 if emergency else 18) - dt.timedelta(seconds=rng.randrange(3600))
        flooded.append((now - back, "emergency" if emergency else "general"))
    flooded.sort()
    times = [(t, None) for t in times] + flooded
    per_day: dict = {}

    with connection.cursor():
        pass  # opens the connection
    raw = connection.connection  # the psycopg 3 connection under Django's
    cur = raw.cursor()
    # Consistent by construction: skip the foreign-key triggers while loading (superuser session setting),
    # and build the secondary indexes once at the end instead of row by row.
    cur.execute("SET session_replication_role = replica")
    tables = [Case._meta.db_table, CaseEvent._meta.db_table, Notification._meta.db_table]
    restore = _drop_secondary_indexes(cur, tables)
    progress("  COPY cases, events, notifications in batches of 50,000 cases …")
    case_rows, ev_rows, note_rows = [], [], []

    def flush():
        _copy(cur, Case._meta.db_table, case_cols, case_rows)
        _copy(cur, CaseEvent._meta.db_table, event_cols, ev_rows)
        _copy(cur, Notification._meta.db_table, note_cols, note_rows)
        counts["events"] += len(ev_rows)
        counts["notifications"] += len(note_rows)
        case_rows.clear()
        ev_rows.clear()
        note_rows.clear()

    for i, (received, flood_urgency) in enumerate(times, start=1):
        row, events, notes = _case(i, received, now=now, rng=rng, grid_pick=grid_pick, flood=flood_urgency,
                                   category_pick=category_pick, top_of=top_of,
                                   urgency_of_category=urgency_of_category, source_pick=source_pick,
                                   kind_pick=kind_pick, urgency_pick=urgency_pick,
                                   satisfaction_pick=satisfaction_pick, policies=policies,
                                   supervisors=supervisors, dispatchers=dispatchers, per_day=per_day,
                                   open_states=OPEN_STATES)
        case_rows.append([row[c] if c in row else defaults.get(c) for c in case_cols])
        counts["cases"] += 1
        counts["open"] += row["status"] in OPEN_STATES
        for e in events:
            ev_rows.append((event_id(), i, None, *e))
        for n in notes:
            note_rows.append((note_id(), *n[:4], i, *n[4:]))
        if i % 50_000 == 0:
            flush()
            if i % 200_000 == 0:
                progress(f"    {i:,} cases ({time.monotonic() - started:.0f} s)")
    flush()
    cur.execute("SET session_replication_role = DEFAULT")
    progress(f"  copied in {time.monotonic() - started:.1f} s; building {len(restore)} indexes …")
    cur.execute("SET maintenance_work_mem = '256MB'")
    for statement in restore:
        cur.execute(statement)
    progress(f"  indexed in {time.monotonic() - started:.1f} s")
    with connection.cursor() as c:
        for table in (Case._meta.db_table, CaseEvent._meta.db_table, Notification._meta.db_table):
            c.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        c.execute("INSERT INTO cases_dailysequence (day, last) VALUES " + ", ".join(["(%s, %s)"] * len(per_day)),
                  [v for item in sorted(per_day.items()) for v in item])
        c.execute("VACUUM ANALYZE")
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts


def _drop_secondary_indexes(cur, tables) -> list[str]:
    """Drop the unique constraints (but primary keys) and plain indexes of ``tables``; return the statements
    that recreate them."""
    restore = []
    for table in tables:
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'u'", [table])
        for name, definition in cur.fetchall():
            restore.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
            cur.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table])
        for name, definition in cur.fetchall():
            restore.append(definition)
            cur.execute(f'DROP INDEX "{name}"')
    return restore


def _cum(weights):
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def _copy(cur, table, cols, rows):
    if not rows:
        return
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols)))) as cp:
        for r in rows:
            cp.write_row(r)


def _iso(t):
    return t.isoformat()


def _case(pk, received, *, now, rng, flood, grid_pick, category_pick, top_of, urgency_of_category, source_pick,
          kind_pick, urgency_pick, satisfaction_pick, policies, supervisors, dispatchers, per_day, open_states):
    """One case row (dict by column), its events (action, from, to, at, note, data) and notifications
    (recipient, kind, title, body, dedupe_key, created_at, read_at, emailed_at)."""
    grid = grid_pick()
    category = category_pick()
    source, kind = source_pick(), kind_pick()
    urgency = urgency_of_category[category.pk] if category is not None else "general"
    if urgency == "general":
        urgency = urgency_pick()
    if flood:
        urgency = flood
    policy = policies[urgency]
    day = received.astimezone(SHANGHAI).date()
    seq = per_day[day] = per_day.get(day, 0) + 1
    number = f"XJ{day:%Y%m%d}-{seq:04d}"
    title = rng.choice(TITLES)
    row = {
        "id": pk, "number": number, "external_ref": "", "kind": kind, "source": source,
        "category_id": category.pk if category else None, "urgency": urgency, "title": title,
        "description": TEXT.format(t=title), "complainant_name": "王女士" if source == "hotline" else "",
        "complainant_phone": f"138{rng.randrange(10**8):08d}" if source == "hotline" else "", "address": "",
        "village_id": grid.village_id, "grid_id": grid.pk, "lng": None, "lat": None, "handler_id": None,
        "created_by_id": None, "received_at": received, "extension_reason": "", "result": "", "satisfaction": "",
        "excluded": False, "exclusion_reason": "", "duplicate_of_id": None, "visit_id": None,
    }
    events = [("created", "", "received", received, "", json.dumps({"source": source, "received_at": _iso(received)}))]
    notes = []
    leader = grid.leader
    chief = grid.village.chief_grid_leader
    holder_user = leader.user_id if leader else None
    chief_user = chief.user_id if chief else None

    if rng.random() < 0.02 and not flood:  # cancelled as invalid
        at = received + dt.timedelta(minutes=rng.uniform(10, 600))
        if at < now:
            row.update(status="cancelled", cancelled_at=at, excluded=True, exclusion_reason="无效诉求",
                       updated_at=at, grid_id=None if rng.random() < 0.5 else grid.pk)
            events.append(("cancelled", "received", "cancelled", at, "无效诉求", json.dumps({"excluded": True})))
            return row, events, notes

    respond_due = received + policy.respond_within
    resolve_due = received + policy.resolve_within
    share = float(policy.warning_share)
    respond_warn = received + policy.respond_within * share
    resolve_warn = received + policy.resolve_within * share
    dispatched = received + dt.timedelta(minutes=rng.expovariate(1 / 25))
    accepted = dispatched + dt.timedelta(minutes=rng.expovariate(1 / 50))
    scale = policy.respond_within.total_seconds() / 24 / 3600  # 1 for 24 h windows, 1/12 for 2 h
    responded = accepted + dt.timedelta(hours=rng.lognormvariate(math.log(4 * scale), 1.0))
    hard = rng.random() < 0.12
    resolve_median = (40 if hard else 3) * policy.resolve_within.total_seconds() / (7 * 86400)
    resolved = responded + dt.timedelta(days=rng.lognormvariate(math.log(resolve_median), 1.0))
    if flood:  # dispatched and accepted within the hour, not responded yet
        accepted = min(accepted, now - dt.timedelta(minutes=1))
        dispatched = min(dispatched, accepted)
        responded = resolved = now + dt.timedelta(days=30)
    callback = resolved + dt.timedelta(hours=rng.uniform(2, 72))
    closed = callback + dt.timedelta(hours=rng.uniform(1, 48))
    status = "received"
    last = received
    row.update(respond_due_at=None, resolve_due_at=None)
    if dispatched < now:
        status = "dispatched"
        last = dispatched
        row.update(dispatched_at=dispatched, handler_id=leader.pk if leader else None, respond_due_at=respond_due,
                   resolve_due_at=resolve_due, respond_warn_at=respond_warn, resolve_warn_at=resolve_warn)
        events.append(("dispatched", "received", "dispatched", dispatched, "",
                       json.dumps({"grid": grid.code, "previous_grid_id": grid.pk, "handler_id": row["handler_id"]})))
        if holder_user:
            notes.append((holder_user, "dispatched", f"新派单：{number}", title, f"dispatched:{pk}:{_iso(dispatched)}",
                          dispatched, dispatched + dt.timedelta(hours=1), None))
    if status == "dispatched" and accepted < now:
        status, last = "accepted", accepted
        row["accepted_at"] = accepted
        events.append(("accepted", "dispatched", "accepted", accepted, "", "{}"))
    if status == "accepted" and responded < now:
        status, last = "responded", responded
        row["responded_at"] = responded
        events.append(("responded", "accepted", "responded", responded, "", "{}"))
    if status == "responded" and resolved < now:
        status, last = "resolved", resolved
        row.update(resolved_at=resolved, solved=True, result="已处理，诉求人认可。")
        events.append(("resolved", "responded", "resolved", resolved, "", json.dumps({"solved": True})))
    if status == "accepted" and rng.random() < 0.03:
        status = "returned"
        last = accepted + dt.timedelta(minutes=30)
        if last > now:
            status, last = "accepted", accepted
        else:
            events.append(("returned", "accepted", "returned", last, "非本网格事项", "{}"))
    # marks a sweep running every minute would have recorded by now
    holder = [holder_user] if status not in ("received", "returned") and holder_user else list(dispatchers)
    if status != "received":
        for deadline, point, met, mark, action, breach in (
                ("respond", respond_warn, row.get("responded_at"), "respond_warned_at", "respond_warning", False),
                ("respond", respond_due, row.get("responded_at"), "respond_breached_at", "respond_breach", True),
                ("resolve", resolve_warn, row.get("resolved_at"), "resolve_warned_at", "resolve_warning", False),
                ("resolve", resolve_due, row.get("resolved_at"), "resolve_breached_at", "resolve_breach", True)):
            if point > now or (met is not None and met <= point):
                continue  # not due yet, or met in time (a warning needs the deadline unmet at its point)
            row[mark] = point
            swept = point + dt.timedelta(seconds=rng.uniform(0, 60))
            events.append((action, status, status, point, "", json.dumps(
                {"deadline": deadline, "point": _iso(point), "swept_at": _iso(swept)})))
            who = [u for u in holder + [chief_user] if u] + (list(supervisors) if breach else [])
            label = {"respond_warning": "响应预警", "respond_breach": "响应超时", "resolve_warning": "办结预警",
                     "resolve_breach": "办结超时"}[action]
            for user in dict.fromkeys(who):
                notes.append((user, action, f"{label}：{number}", title, f"{action}:{pk}:{_iso(point)}", swept,
                              swept + dt.timedelta(hours=2) if swept + dt.timedelta(hours=2) < now else None, None))
            if breach and deadline == "resolve" and (met is None or met > point):
                row["escalated_at"] = swept
                events.append(("escalated", status, status, swept, "办结超时，自动提请督办。",
                               json.dumps({"automatic": True, "deadline": _iso(point)})))
    if status == "resolved" and callback < now:
        satisfaction = satisfaction_pick()
        reachable = satisfaction != "unreachable"
        row.update(callback_at=callback, satisfaction=satisfaction, callback_contacted=reachable,
                   callback_solved=(satisfaction != "unsatisfied") if reachable else None)
        last = callback
        events.append(("callback", "resolved", "resolved", callback, "", json.dumps({"satisfaction": satisfaction})))
        if reachable and closed < now:
            status, last = "closed", closed
            row["closed_at"] = closed
            events.append(("closed", "resolved", "closed", closed, "", "{}"))
    row["status"] = status
    row["updated_at"] = max(last, *(e[3] for e in events))
    if status in open_states or status == "resolved":
        pending = []
        for met, due, warn, warned, breached in (
                (row.get("responded_at"), respond_due, respond_warn, row.get("respond_warned_at"),
                 row.get("respond_breached_at")),
                (row.get("resolved_at"), resolve_due, resolve_warn, row.get("resolve_warned_at"),
                 row.get("resolve_breached_at"))):
            if row.get("respond_due_at") is None:
                continue
            if met is None and warned is None:
                pending.append(warn)
            if breached is None and (met is None or met > due):
                pending.append(due)
        row["next_check_at"] = min(pending) if pending else None
    # events: (action, from, to, at, note, data) in time order
    events.sort(key=lambda e: e[3])
    return row, events, notes


HOTLINE_HEADER = ["工单编号", "受理时间", "标题", "诉求内容", "诉求类型", "分类", "紧急程度", "诉求人", "联系电话", "地址",
                  "村/社区", "响应时间", "办结时间", "办理结果", "是否解决"]


def write_hotline_file(path: Path, rows: int, *, now: dt.datetime, seed: int = 12345) -> Path:
    """A 12345 hotline export (the importer's hotline column set) of ``rows`` work orders received over the
    year before ``now``: 90 % resolved with a response and a resolution time, the rest still open; written
    row by row (constant memory). Returns ``path``."""
    from cases.models import Category
    from grids.models import Village

    rng = random.Random(seed)
    villages = list(Village.objects.order_by("code").values_list("code", flat=True))
    tops = list(Category.objects.filter(parent=None).order_by("name").values_list("name", flat=True))
    kinds = ("投诉", "求助", "咨询", "举报", "建议")
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HOTLINE_HEADER)
        for i in range(rows):
            received = now - dt.timedelta(days=365) + dt.timedelta(seconds=int(i * 365 * 86400 / rows))
            received = received.astimezone(SHANGHAI)
            title = rng.choice(TITLES)
            line = [f"BJ12345-{i:08d}", f"{received:%Y-%m-%d %H:%M:%S}", title, TEXT.format(t=title),
                    rng.choice(kinds), rng.choice(tops + [""]), "", "李先生", f"139{rng.randrange(10**8):08d}",
                    "西集镇", rng.choice(villages), "", "", "", ""]
            if rng.random() < 0.9:
                responded = received + dt.timedelta(hours=rng.lognormvariate(math.log(4), 1.0))
                resolved = responded + dt.timedelta(days=rng.lognormvariate(math.log(3), 1.0))
                if resolved.astimezone(dt.UTC) < now:
                    line[11] = f"{responded:%Y-%m-%d %H:%M:%S}"
                    line[12] = f"{resolved:%Y-%m-%d %H:%M:%S}"
                    line[13] = "已处理，诉求人认可。"
                    line[14] = "是" if rng.random() < 0.95 else "否"
            writer.writerow(line)
    return path
