"""Statistics (DESIGN §6, issue 4): a hand-built set of cases whose every figure is worked out below,
period boundaries in Asia/Shanghai, snapshots equal to direct counts, the snapshot task in a real worker."""
import collections
import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import F, Sum
from django.utils import timezone

from cases import services
from cases.choices import Satisfaction, Source
from cases.models import Case, Category, DailyStat, StatFillState
from cases.seeding import seed_categories, seed_sla_policies
from cases.selectors import (
    GROUP_BYS,
    SCOPES,
    assessment_month,
    overdue_cases,
    period_bounds,
    rates,
)
from cases.tasks import refresh_today_stats, snapshot_daily_stats
from grids.models import Grid
from grids.services import seed_xiji

SH = ZoneInfo("Asia/Shanghai")
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=SH)  # the reading time of the hand-built set


def at(month, day, hour=0, minute=0, year=2025):
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


def make(grid, received, *, respond=None, resolve=None, callback=None, close=False, category=None,
         source=Source.HOTLINE, exclude=False):
    """One case through the real services: dispatched and accepted at receipt, then as asked."""
    case = services.create_case(actor=None, kind="complaint", source=source, title="测试诉求", grid=grid,
                                category=category, urgency="general", received_at=received, now=received)
    if exclude:
        return services.cancel(case, actor=None, reason="无效诉求", now=received + H)
    services.dispatch(case, actor=None, grid=grid, now=received)
    services.accept(case.pk, actor=None, now=received)
    if respond is not None:
        services.respond(case.pk, actor=None, now=received + respond)
    if resolve is not None:
        services.resolve(case.pk, actor=None, solved=True, result="已处理", now=received + resolve)
    if callback is not None:
        contacted, solved, satisfaction = callback
        services.callback(case.pk, actor=None, contacted=contacted, solved=solved, satisfaction=satisfaction,
                          now=received + resolve + H)
    if close:
        services.close(case.pk, actor=None, now=received + resolve + 2 * H)
    return Case.objects.get(pk=case.pk)


@pytest.fixture
def town(db):
    seed_xiji()
    seed_sla_policies()
    seed_categories()


@pytest.fixture
def hand_set(town):
    """Village A = 大灰店村 (grid -01), village B = 运潮馨苑社区 (grid -01); general policy: respond 24 h,
    resolve 7 days. Read at NOW = 2025-03-10 12:00 Asia/Shanghai.

    A  c1 03-01 09:00 respond +2 h,  resolve +2 d, callback contacted, solved,   satisfied; closed; 城乡建设
       c2 03-01 10:00 respond +30 h (late), resolve +5 d, callback contacted, unsolved, basically satisfied; 城乡建设
       c3 03-02 08:00 respond +1 h,  resolve +8 d (late, 03-10 08:00), callback not contacted, unsolved,
          unsatisfied; a 3rd-level category under 环境保护; source patrol
       c4 03-03 09:00 respond +3 h,  resolve +1 d, callback unreachable (not valid); patrol
       c5 03-08 09:00 open, never responded: respond due 03-09 09:00 has passed at NOW; online
       c6 03-10 09:00 open (today), nothing due yet; online
       c7 03-05 10:00 cancelled as invalid before dispatch: excluded (only in the full scope)
    B  c8 03-04 09:00 respond +1 h, resolve +1 d, callback contacted, solved, satisfied
       c9 03-04 10:00 respond +1 h, resolve +2 d, callback contacted, solved, basically satisfied
    """
    a = Grid.objects.get(code="110112110222-01")
    b = Grid.objects.get(code="110112110001-01")
    urban = Category.objects.get(name="城乡建设", parent=None)
    env3 = Category.objects.filter(level=3, parent__parent__name="环境保护").order_by("name").first()
    S, B, U, X = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.UNSATISFIED,
                  Satisfaction.UNREACHABLE)
    with time_machine.travel(NOW, tick=False):
        cases = {
            "c1": make(a, at(3, 1, 9), respond=2 * H, resolve=2 * D, callback=(True, True, S), close=True,
                       category=urban),
            "c2": make(a, at(3, 1, 10), respond=30 * H, resolve=5 * D, callback=(True, False, B), category=urban),
            "c3": make(a, at(3, 2, 8), respond=H, resolve=8 * D, callback=(False, False, U), category=env3,
                       source=Source.PATROL),
            "c4": make(a, at(3, 3, 9), respond=3 * H, resolve=D, callback=(False, None, X), source=Source.PATROL),
            "c5": make(a, at(3, 8, 9), source=Source.ONLINE),
            "c6": make(a, at(3, 10, 9), source=Source.ONLINE),
            "c7": make(a, at(3, 5, 10), exclude=True),
            "c8": make(b, at(3, 4, 9), respond=H, resolve=D, callback=(True, True, S)),
            "c9": make(b, at(3, 4, 10), respond=H, resolve=2 * D, callback=(True, True, B)),
        }
    return cases


def by_key(rows):
    return {row["key"]: row for row in rows}


def test_every_figure_of_the_hand_built_set(hand_set, settings):
    settings.STATS_MIN_VALID_CALLBACKS = 2
    villages = by_key(rates(group_by="village", now=NOW))
    assert list(villages) == ["110112110001", "110112110222"]  # ordered by code
    a = villages["110112110222"]
    assert a["label"] == "大灰店村"
    assert {k: a[k] for k in ("received", "dispatched", "responded", "resolved", "closed", "overdue")} == {
        "received": 6, "dispatched": 6, "responded": 4, "resolved": 4, "closed": 1,
        "overdue": 3,  # c2 responded late, c3 resolved late, c5 open past its respond deadline
    }
    assert (a["respond_on_time"], a["respond_decided"]) == (3, 5)  # c1 c3 c4 of c1..c4 + c5 (open, past due)
    assert a["respond_on_time_rate"] == pytest.approx(3 / 5)
    assert (a["resolve_on_time"], a["resolve_decided"]) == (3, 4)  # c1 c2 c4 of c1..c4; c5, c6 not yet due
    assert a["resolve_on_time_rate"] == pytest.approx(3 / 4)
    assert a["closure_rate"] == pytest.approx(4 / 6)
    assert a["valid_callbacks"] == 3  # c1 c2 c3; c4 unreachable is not valid
    assert a["response_rate"] == pytest.approx(2 / 3)  # contacted: c1 c2
    assert a["resolution_rate"] == pytest.approx(1 / 3)  # solved: c1
    assert a["satisfaction_rate"] == pytest.approx((1 + 0.9 * 1) / 3)  # c1 satisfied, c2 basically
    assert a["composite_score"] == pytest.approx(10 * 2 / 3 + 45 * 1 / 3 + 45 * 1.9 / 3)  # 50.1667
    b = villages["110112110001"]
    assert {k: b[k] for k in ("received", "dispatched", "responded", "resolved", "closed", "overdue",
                              "respond_on_time", "resolve_on_time", "valid_callbacks")} == {
        "received": 2, "dispatched": 2, "responded": 2, "resolved": 2, "closed": 0, "overdue": 0,
        "respond_on_time": 2, "resolve_on_time": 2, "valid_callbacks": 2}
    assert (b["respond_on_time_rate"], b["resolve_on_time_rate"], b["closure_rate"]) == (1.0, 1.0, 1.0)
    assert (b["response_rate"], b["resolution_rate"]) == (1.0, 1.0)
    assert b["satisfaction_rate"] == pytest.approx((1 + 0.9) / 2)
    assert b["composite_score"] == pytest.approx(10 + 45 + 45 * 0.95)  # 97.75
    assert (b["rank"], a["rank"]) == (1, 2)

    town = rates(now=NOW)
    assert len(town) == 1 and (town[0]["key"], town[0]["label"]) == ("110112110000", "西集镇")
    t = town[0]
    assert (t["received"], t["dispatched"], t["responded"], t["resolved"], t["closed"], t["overdue"]) == (
        8, 8, 6, 6, 1, 3)
    assert t["respond_on_time_rate"] == pytest.approx(5 / 7)
    assert t["resolve_on_time_rate"] == pytest.approx(5 / 6)
    assert t["closure_rate"] == pytest.approx(6 / 8)
    assert (t["valid_callbacks"], t["response_rate"], t["resolution_rate"]) == (5, pytest.approx(4 / 5),
                                                                                pytest.approx(3 / 5))
    assert t["satisfaction_rate"] == pytest.approx((2 + 0.9 * 2) / 5)
    assert t["composite_score"] == pytest.approx(10 * 0.8 + 45 * 0.6 + 45 * 0.76)  # 69.2

    # the full scope (全口径) adds the excluded c7: received, not dispatched
    full_a = by_key(rates(group_by="village", scope="all", now=NOW))["110112110222"]
    assert (full_a["received"], full_a["dispatched"], full_a["closure_rate"]) == (7, 6, pytest.approx(4 / 6))
    assert rates(scope="all", now=NOW)[0]["received"] == 9

    categories = by_key(rates(group_by="category", now=NOW))
    assert {k: r["received"] for k, r in categories.items()} == {"城乡建设": 2, "环境保护": 1, None: 5}
    assert categories[None]["label"] == "未分类"
    sources = rates(group_by="source", now=NOW)
    assert [(r["key"], r["label"], r["received"]) for r in sources] == [
        ("hotline", "12345热线", 4), ("online", "网上留言", 2), ("patrol", "网格巡查", 2)]
    handlers = by_key(rates(group_by="handler", now=NOW))
    assert {handlers[k]["label"]: handlers[k]["received"] for k in handlers} == {
        Grid.objects.get(code="110112110222-01").leader.name: 6, Grid.objects.get(code="110112110001-01").leader.name: 2}
    grids = by_key(rates(group_by="grid", now=NOW))
    assert grids["110112110222-01"]["received"] == 6 and grids["110112110222-01"]["label"].startswith("大灰店村·")

    assert [(r["key"], r["received"]) for r in rates(group_by="day", now=NOW)] == [
        ("2025-03-01", 2), ("2025-03-02", 1), ("2025-03-03", 1), ("2025-03-04", 2), ("2025-03-08", 1),
        ("2025-03-10", 1)]
    assert [(r["key"], r["received"]) for r in rates(group_by="week", now=NOW)] == [
        ("2025-W09", 3), ("2025-W10", 4), ("2025-W11", 1)]
    assert [(r["key"], r["received"]) for r in rates(group_by="month", now=NOW)] == [("2025-03", 8)]
    assert [(r["key"], r["label"], r["received"]) for r in rates(group_by="assessment_month", now=NOW)] == [
        ("2025-03", "2025-03（02-19至03-18）", 8)]

    # a pre-scoped queryset (a village leader's view) gives that village's row
    scoped = rates(cases=Case.objects.filter(village__code="110112110222"), now=NOW)
    assert {k: scoped[0][k] for k in ("received", "overdue", "composite_score")} == {
        k: a[k] for k in ("received", "overdue", "composite_score")}


def test_ranking_needs_the_minimum_of_valid_callbacks(hand_set, settings):
    settings.STATS_MIN_VALID_CALLBACKS = 3
    villages = by_key(rates(group_by="village", now=NOW))
    assert villages["110112110222"]["rank"] == 1  # 3 valid callbacks
    assert villages["110112110001"]["rank"] is None  # 2 < 3, however high its score
    settings.STATS_WEIGHTS = (0, 0, 100)  # weights are settings: satisfaction alone
    villages = by_key(rates(group_by="village", now=NOW))
    assert villages["110112110222"]["composite_score"] == pytest.approx(100 * 1.9 / 3)


def test_zero_denominators_are_no_data(hand_set):
    today = by_key(rates(group_by="day", now=NOW))["2025-03-10"]  # c6 alone: dispatched, nothing due
    assert (today["received"], today["dispatched"], today["resolved"]) == (1, 1, 0)
    assert today["closure_rate"] == 0.0  # 0 of 1: a real zero
    for key in ("respond_on_time_rate", "resolve_on_time_rate", "response_rate", "resolution_rate",
                "satisfaction_rate", "composite_score", "rank"):
        assert today[key] is None
    empty = rates(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31), now=NOW)
    assert len(empty) == 1 and empty[0]["key"] == "110112110000" and empty[0]["received"] == 0
    assert all(empty[0][k] is None for k in ("closure_rate", "respond_on_time_rate", "satisfaction_rate"))
    assert rates(group_by="village", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31), now=NOW) == []


def test_overdue_cases_are_listed_most_late_first(hand_set):
    listed = list(overdue_cases(now=NOW))
    assert [(c.pk, c.lateness) for c in listed] == [
        (hand_set["c5"].pk, 27 * H),  # open: respond due 03-09 09:00, now 03-10 12:00
        (hand_set["c3"].pk, 24 * H),  # resolved 8 days after receipt: 1 day late
        (hand_set["c2"].pk, 6 * H),  # responded after 30 h: 6 h late
    ]
    assert [(c.pk, c.lateness) for c in overdue_cases(now=NOW, open_only=True)] == [(hand_set["c5"].pk, 27 * H)]
    village_b = Case.objects.filter(village__code="110112110001")
    assert not overdue_cases(now=NOW, cases=village_b).exists()


def test_month_and_assessment_month_boundaries_in_shanghai_time(town, settings):
    grid = Grid.objects.get(code="110112110222-01")
    times = {"a": at(1, 31, 23, 59), "b": at(2, 1, 0, 0), "c": at(2, 18, 23, 59), "d": at(2, 19, 0, 0)}
    for name, received in times.items():
        services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title=name, grid=grid,
                             received_at=received, now=received)
    assert times["a"].astimezone(dt.UTC) == dt.datetime(2025, 1, 31, 15, 59, tzinfo=dt.UTC)
    assert times["b"].astimezone(dt.UTC) == dt.datetime(2025, 1, 31, 16, 0, tzinfo=dt.UTC)
    now = at(3, 1, 12)
    months = [(r["key"], r["received"]) for r in rates(group_by="month", now=now)]
    assert months == [("2025-01", 1), ("2025-02", 3)]
    assessment = [(r["key"], r["received"]) for r in rates(group_by="assessment_month", now=now)]
    assert assessment == [("2025-02", 3), ("2025-03", 1)]  # 01-19…02-18 holds a b c; d opens 02-19…03-18
    assert [r["received"] for r in rates(start=dt.date(2025, 2, 1), end=dt.date(2025, 2, 18), now=now)] == [2]
    assert [r["received"] for r in rates(start=dt.date(2025, 2, 19), now=now)] == [1]
    assert [r["received"] for r in rates(end=dt.date(2025, 1, 31), now=now)] == [1]
    settings.STATS_ASSESSMENT_MONTH_FIRST_DAY = 1  # configurable: the first day 1 is the calendar month
    assert [(r["key"], r["received"]) for r in rates(group_by="assessment_month", now=now)] == months


def test_handling_times_per_period_in_sql_equal_the_python_buckets(town, settings):
    """The handling times of time groups are bucketed in SQL on PostgreSQL (cases.selectors._period_sql);
    at every Asia/Shanghai boundary of day, ISO week, month and assessment month (first day 19, and 1) they
    equal the per-day Python buckets. By hand: a (01-31 23:59) dispatched after 600 s and b (02-01 00:00)
    after 1800 s fall in months 2025-01 and 2025-02 but one assessment month, 2025-02 (mean 1200 s)."""
    from django.db.models.functions import TruncDate

    from cases.durations import durations_python
    from cases.selectors import TIME_GROUPS, _period_key

    grid = Grid.objects.get(code="110112110222-01")
    waits = {at(1, 31, 23, 59): 600, at(2, 1, 0, 0): 1800, at(2, 2, 23, 59): 60, at(2, 3, 0, 0): 120,
             at(2, 18, 23, 59): 3600, at(2, 19, 0, 0): 7200, at(1, 18, 23, 59): 30, at(1, 19, 0, 0): 90}
    for received, seconds in waits.items():
        case = services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title="用时", grid=grid,
                                    urgency="general", received_at=received, now=received)
        services.dispatch(case, actor=None, grid=grid, now=received + dt.timedelta(seconds=seconds))
    now = at(3, 1, 12)
    for first_day in (19, 1):
        settings.STATS_ASSESSMENT_MONTH_FIRST_DAY = first_day
        for group_by in TIME_GROUPS:
            rows = {r["key"]: r["dispatch_mean_seconds"] for r in rates(group_by=group_by, now=now)}
            python = durations_python(Case.objects.filter(excluded=False), TruncDate("received_at", tzinfo=SH),
                                      key=lambda day, g=group_by, f=first_day: _period_key(g, day, f)[0])
            assert rows == {k: v["dispatch_mean_seconds"] for k, v in python.items()}, (group_by, first_day)
    settings.STATS_ASSESSMENT_MONTH_FIRST_DAY = 19
    months = {r["key"]: r["dispatch_mean_seconds"] for r in rates(group_by="month", now=now)}
    assert (months["2025-01"], months["2025-02"]) == ((600 + 30 + 90) / 3, (1800 + 60 + 120 + 3600 + 7200) / 5)
    assessed = {r["key"]: r["dispatch_mean_seconds"] for r in rates(group_by="assessment_month", now=now)}
    assert assessed == {"2025-01": 30, "2025-02": (90 + 600 + 1800 + 60 + 120 + 3600) / 6, "2025-03": 7200}


def test_period_bounds_are_shanghai_midnights():
    utc = dt.UTC
    assert period_bounds("day", dt.date(2025, 2, 1)) == (dt.datetime(2025, 1, 31, 16, tzinfo=utc),
                                                         dt.datetime(2025, 2, 1, 16, tzinfo=utc))
    assert period_bounds("week", dt.date(2025, 3, 5)) == (dt.datetime(2025, 3, 2, 16, tzinfo=utc),  # Mon 03-03
                                                          dt.datetime(2025, 3, 9, 16, tzinfo=utc))
    assert period_bounds("month", dt.date(2025, 2, 10)) == (dt.datetime(2025, 1, 31, 16, tzinfo=utc),
                                                            dt.datetime(2025, 2, 28, 16, tzinfo=utc))
    assert period_bounds("assessment_month", dt.date(2025, 2, 18), 19) == (
        dt.datetime(2025, 1, 18, 16, tzinfo=utc), dt.datetime(2025, 2, 18, 16, tzinfo=utc))
    assert period_bounds("assessment_month", dt.date(2025, 2, 19), 19) == (
        dt.datetime(2025, 2, 18, 16, tzinfo=utc), dt.datetime(2025, 3, 18, 16, tzinfo=utc))
    assert assessment_month(dt.date(2025, 12, 20), 19) == ("2026-01", dt.date(2025, 12, 19), dt.date(2026, 1, 18))
    assert assessment_month(dt.date(2025, 1, 5), 19) == ("2025-01", dt.date(2024, 12, 19), dt.date(2025, 1, 18))
    assert assessment_month(dt.date(2025, 2, 28), 1) == ("2025-02", dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    with pytest.raises(ValueError):
        period_bounds("year", dt.date(2025, 1, 1))
    with pytest.raises(ValueError):
        assessment_month(dt.date(2025, 1, 1), 31)


def direct_counts():
    """The test's own count per (local day, village code): received and valid callbacks, from the rows."""
    out = collections.Counter()
    for case in Case.objects.select_related("village"):
        day = case.received_at.astimezone(SH).date()
        out[(day, case.village.code, "received")] += 1
        if case.satisfaction in ("satisfied", "basically_satisfied", "unsatisfied"):
            out[(day, case.village.code, "valid")] += 1
    return out


def stored_counts():
    out = collections.Counter()
    for row in DailyStat.objects.values("day", "village__code").annotate(r=Sum("received"), v=Sum("valid_callbacks")):
        if row["r"]:
            out[(row["day"], row["village__code"], "received")] += row["r"]
        if row["v"]:
            out[(row["day"], row["village__code"], "valid")] += row["v"]
    return out


def assert_snapshots_equal_direct_counts(now):
    for group_by in GROUP_BYS:
        for scope in SCOPES:
            assert rates(group_by=group_by, scope=scope, now=now) == rates(
                group_by=group_by, scope=scope, cases=Case.objects.all(), now=now), (group_by, scope)


def test_snapshots_equal_direct_counts_after_rebuild_and_stay_equal_when_cases_change(hand_set):
    later = NOW + H  # the cases were written at NOW: an hour later they are older than the margin (15 min)
    with time_machine.travel(later, tick=False):
        out = io.StringIO()
        call_command("rebuild_stats", stdout=out)
        assert out.getvalue().startswith("daily statistics rebuilt: 7 days, ")
    assert stored_counts() == direct_counts()
    assert StatFillState.objects.get().clean_until == later - dt.timedelta(minutes=15)
    assert_snapshots_equal_direct_counts(later)
    # the readings really come from the snapshots for closed days: a tampered row shows through
    DailyStat.objects.filter(day=dt.date(2025, 3, 1)).update(received=F("received") + 100)
    assert rates(now=later)[0]["received"] == 108
    with time_machine.travel(later, tick=False):
        call_command("rebuild_stats", "--since", "2025-03-01", stdout=io.StringIO())
    assert rates(now=later)[0]["received"] == 8
    assert_snapshots_equal_direct_counts(later)

    # a case of a closed day changes after the refresh: that day is read live until the next refresh
    changed = NOW + 2 * H
    with time_machine.travel(changed, tick=False):
        services.close(hand_set["c8"].pk, actor=None, now=changed)
    assert DailyStat.objects.filter(day=dt.date(2025, 3, 4)).aggregate(c=Sum("closed"))["c"] == 0
    assert by_key(rates(group_by="village", now=changed))["110112110001"]["closed"] == 1
    assert_snapshots_equal_direct_counts(changed)
    # the nightly task stores it
    with time_machine.travel(changed + H, tick=False):
        summary = snapshot_daily_stats()
        assert summary["full"] is False and summary["days"] >= 1
        assert refresh_today_stats()["full"] is False
    assert DailyStat.objects.filter(day=dt.date(2025, 3, 4)).aggregate(c=Sum("closed"))["c"] == 1
    assert stored_counts() == direct_counts()
    assert_snapshots_equal_direct_counts(changed + H)
    # and the open case c5 becomes later with time, without any change to it: still equal
    assert_snapshots_equal_direct_counts(changed + 10 * D)


def test_stats_command_prints_and_exports(hand_set, tmp_path):
    with time_machine.travel(NOW, tick=False):
        out = io.StringIO()
        call_command("stats", "--group-by", "village", stdout=out)
        lines = out.getvalue().splitlines()
        assert lines[0].split()[:3] == ["key", "名称", "受理"]
        assert lines[2].split()[:3] == ["110112110222", "大灰店村", "6"] and "60.0%" in lines[2]
        out = io.StringIO()
        call_command("stats", "--group-by", "month", "--scope", "all", "--format", "csv", stdout=out)
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert [(r["编码 key"], r["受理 received"], r["满意率 satisfaction_rate"]) for r in rows] == [
            ("2025-03", "9", "0.7600")]
        call_command("stats", "--group-by", "source", "--format", "xlsx", "--output", str(tmp_path / "s.xlsx"),
                     stdout=io.StringIO(), stderr=io.StringIO())
        sheet = openpyxl.load_workbook(tmp_path / "s.xlsx").active
        values = list(sheet.iter_rows(values_only=True))
        assert values[1][:3] == ("hotline", "12345热线", 4) and len(values) == 4
        with pytest.raises(CommandError, match="needs --output"):
            call_command("stats", "--format", "xlsx")
        with pytest.raises(CommandError, match="--start"):
            call_command("stats", "--start", "2025/03/01")
        with pytest.raises(CommandError, match="start is after end"):
            call_command("stats", "--start", "2025-03-02", "--end", "2025-03-01")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_snapshot_task_runs_in_a_real_worker(celery_worker_process):
    seed_xiji()
    seed_sla_policies()
    grid = Grid.objects.get(code="110112110222-02")
    now = timezone.now()
    base = now - 3 * D
    make(grid, base, respond=H, resolve=D, callback=(True, True, Satisfaction.SATISFIED))
    make(grid, base + H, respond=30 * H, resolve=2 * D, callback=(True, False, Satisfaction.BASICALLY_SATISFIED))
    make(grid, base + 2 * H)
    Case.objects.update(updated_at=now - D)  # last changed a day ago: the refresh will count them as clean
    summary = snapshot_daily_stats.delay(window_days=10).get(timeout=120)
    assert summary["rows"] == DailyStat.objects.count() >= 1
    assert DailyStat.objects.aggregate(r=Sum("received"))["r"] == 3
    assert stored_counts() == direct_counts()
    state = StatFillState.objects.get()
    assert now - D < state.clean_until < timezone.now()
    reading = timezone.now()
    assert_snapshots_equal_direct_counts(reading)
    assert refresh_today_stats.delay().get(timeout=120)["full"] is False


def test_wilson_lower_bound_known_answers():
    """Wilson 1927, 95 % (z = 1.96), worked by hand: 5/5 → (1 + 0.38416) − 1.96·√(0 + 0.038416))/1.76832 …"""
    from cases.selectors import wilson_lower_bound
    assert round(wilson_lower_bound(1.0, 5), 6) == 0.565509
    assert round(wilson_lower_bound(38 / 40, 40), 6) == 0.834958
    assert wilson_lower_bound(None, 0) is None and wilson_lower_bound(0.5, 0) is None


def test_ranking_orders_by_the_wilson_lower_bound(town, settings):
    """Village A: 5 valid callbacks all satisfied (rate 1.0, bound 0.565509); village B: 40, 38 satisfied
    and 2 unsatisfied (rate 0.95, bound 0.834958). The minimum (5) lets both be ranked; B ranks first."""
    settings.STATS_MIN_VALID_CALLBACKS = 5
    a = Grid.objects.get(code="110112110222-01")
    b = Grid.objects.get(code="110112110001-01")
    S, U = Satisfaction.SATISFIED, Satisfaction.UNSATISFIED
    with time_machine.travel(NOW, tick=False):
        for i in range(5):
            make(a, at(3, 1, 9, i), respond=H, resolve=D, callback=(True, True, S))
        for i in range(40):
            make(b, at(3, 2, 9, i), respond=H, resolve=D, callback=(True, True, S if i < 38 else U))
    villages = by_key(rates(group_by="village", now=NOW))
    va, vb = villages["110112110222"], villages["110112110001"]
    assert (va["satisfaction_rate"], vb["satisfaction_rate"]) == (1.0, pytest.approx(0.95))
    assert round(va["satisfaction_lower_bound"], 6) == 0.565509
    assert round(vb["satisfaction_lower_bound"], 6) == 0.834958
    assert (vb["rank"], va["rank"]) == (1, 2)
    settings.STATS_MIN_VALID_CALLBACKS = 6  # the minimum still applies
    villages = by_key(rates(group_by="village", now=NOW))
    assert (villages["110112110001"]["rank"], villages["110112110222"]["rank"]) == (1, None)


def test_handling_times_mean_median_p90_from_milestones_in_sql_and_python(town):
    """Village A, five cases received 2025-03-01 09:00 + i h and dispatched 600, 1200, 1800, 3600, 7200 s
    later, responded at twice and resolved at three times that: by hand (linear interpolation,
    percentile_cont) dispatch mean 2880, median 1800, p90 3600 + 0.6 × 3600 = 5760; respond ×2 (5760,
    3600, 11520); resolve ×3 (8640, 5400, 17280). A sixth case, never dispatched, counts in no figure.
    SQL (PostgreSQL) and Python give the same figures; the month grouping (Python) too."""
    from cases.durations import durations_python, durations_sql, percentile, summarise

    assert summarise([600, 1200, 1800, 3600, 7200]) == {"mean": 2880, "median": 1800, "p90": pytest.approx(5760)}
    assert percentile([7200, 600], 0.5) == 3900 and percentile([], 0.9) is None
    a = Grid.objects.get(code="110112110222-01")
    with time_machine.travel(NOW, tick=False):
        for i, seconds in enumerate((600, 1200, 1800, 3600, 7200)):
            received = at(3, 1, 9 + i)
            step = dt.timedelta(seconds=seconds)
            case = services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title="测试诉求",
                                        grid=a, urgency="general", received_at=received, now=received)
            services.dispatch(case, actor=None, grid=a, now=received + step)
            services.accept(case.pk, actor=None, now=received + step)
            services.respond(case.pk, actor=None, now=received + 2 * step)
            services.resolve(case.pk, actor=None, solved=True, result="已处理", now=received + 3 * step)
        services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title="未派单", village=a.village,
                             urgency="general", received_at=at(3, 2, 9), now=at(3, 2, 9))
    expected = {
        "dispatch_mean_seconds": 2880, "dispatch_median_seconds": 1800, "dispatch_p90_seconds": 5760,
        "respond_mean_seconds": 5760, "respond_median_seconds": 3600, "respond_p90_seconds": 11520,
        "resolve_mean_seconds": 8640, "resolve_median_seconds": 5400, "resolve_p90_seconds": 17280,
    }
    row = by_key(rates(group_by="village", now=NOW))["110112110222"]
    assert {k: row[k] for k in expected} == pytest.approx(expected)
    qs, group = Case.objects.filter(excluded=False), F("village_id")
    sql, py = durations_sql(qs, group), durations_python(qs, group)
    assert sql.keys() == py.keys() and all(sql[k] == pytest.approx(py[k]) for k in sql)
    assert py[a.village_id] == pytest.approx(expected)
    month = by_key(rates(group_by="month", now=NOW))["2025-03"]
    assert {k: month[k] for k in expected} == pytest.approx(expected)
    assert rates(group_by="source", now=NOW, scope="all")[0]["dispatch_median_seconds"] == pytest.approx(1800)
