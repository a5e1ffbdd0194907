"""The stats API per liaison station and per deputy (issue 8 §5): ``GET /api/v1/stats/rates/?group_by=
station|deputy``, as JSON, CSV and XLSX, with figures worked out by hand below.

Deputies with logins: alice (LS01-1) and bob (LS01-2) of 西集村站 LS01, carol (LS02-1) of 大灰店村站 LS02.
Cases, all received at T0 (Wednesday 2025-04-09 09:30 in Xiji) unless said otherwise:

====  ======  ===========================  ==============================================================
case  deputy  place                        what happens
====  ======  ===========================  ==============================================================
A1    alice   大灰店村 grid (LS02's area)  resolved at T0+2d (on time: general, 7 days), alice rates it
                                           contacted, solved, satisfied
A2    alice   西集村 grid                  stays received
B1    bob     西集村 grid                  resolved at T0+8d (late), bob rates it contacted, not solved,
                                           basically satisfied
B2    bob     西集村 grid                  cancelled as a duplicate of B1, excluded (剔除)
C1    carol   大灰店村 grid                resolved at T0+1d, called back by the dispatcher (not a deputy's
                                           evaluation)
C2    carol   大灰店村 grid                received 2025-04-09 00:30 in Xiji (2025-04-08 16:30 UTC), open
====  ======  ===========================  ==============================================================

Assessed scope: LS01 collected 3 (A1 A2 B1), dispatched 2, resolved 2, on time 1, valid evaluations 2
(contacted 2, solved 1, satisfied 1, basically 1): closure 2/2, on time 1/2, response 2/2, resolution 1/2,
satisfaction (1 + 0.9)/2 = 0.95. LS02 collected 2, dispatched 1, resolved 1, on time 1, no evaluation:
closure 1, on time 1, the three rates null — alice's rating of A1, raised in LS02's area, counts in LS01
only. LS03–LS05: nothing, every rate null. Full scope adds B2 to LS01's collected (4).
"""
import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases import services as cs
from grids.choices import Role
from grids.models import Grid
from reps import services
from reps.api.stats import DEPUTY_COLUMNS, STATION_COLUMNS
from reps.models import Deputy
from reps.seeding import seed_stations

from . import factories

SH = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2025, 4, 9, 9, 30, tzinfo=SH)
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)
NOW = T0 + 30 * D
URL = "/api/v1/stats/rates/"

FIGURES = ["collected", "dispatched", "resolved", "resolved_on_time", "valid_evaluations", "contacted", "solved",
           "satisfied", "basically_satisfied"]
RATES = ["closure_rate", "on_time_rate", "response_rate", "resolution_rate", "satisfaction_rate"]


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        with django_db_blocker.unblock():
            seed_stations()
            dispatcher, leader = town.user(Role.DISPATCHER), town.user(Role.GRID_LEADER)
            deputies = {}
            for name, code in (("alice", "LS01-1"), ("bob", "LS01-2"), ("carol", "LS02-1")):
                user = factories.UserFactory(username=name, roles=[Role.DEPUTY])
                deputies[name] = services.link_login(Deputy.objects.get(code=code), user)
                town.tokens[name] = Token.objects.get_or_create(user=user)[0].key
            xiji = Grid.objects.get(code="110112110201-01")  # 西集村, served by LS01
            dahuidian = Grid.objects.get(code="110112110222-01")  # 大灰店村, LS02's own village

            def raise_(name, grid, title, now=T0):
                return services.raise_demand(actor=deputies[name].user, kind="complaint", title=title, grid=grid,
                                             now=now)

            def walk(case, grid, resolve_at):
                case = cs.dispatch(case, actor=dispatcher, grid=grid, now=T0 + H)
                case = cs.accept(case, actor=leader, now=T0 + 2 * H)
                case = cs.respond(case, actor=leader, now=T0 + 3 * H)
                return cs.resolve(case, actor=leader, solved=True, result="已处理", now=resolve_at)

            a1 = walk(raise_("alice", dahuidian, "路灯不亮"), dahuidian, T0 + 2 * D)
            services.evaluate(a1, actor=deputies["alice"].user, contacted=True, solved=True, satisfaction="satisfied",
                              now=T0 + 3 * D)
            raise_("alice", xiji, "垃圾清运不及时")
            b1 = walk(raise_("bob", xiji, "排水沟堵塞"), xiji, T0 + 8 * D)
            services.evaluate(b1, actor=deputies["bob"].user, contacted=True, solved=False,
                              satisfaction="basically_satisfied", now=T0 + 9 * D)
            b2 = raise_("bob", xiji, "排水沟堵塞（重复）")
            cs.cancel(b2, actor=dispatcher, reason="重复诉求", duplicate_of=b1, now=T0 + H)
            c1 = walk(raise_("carol", dahuidian, "噪音扰民"), dahuidian, T0 + D)
            cs.callback(c1, actor=dispatcher, contacted=True, solved=True, satisfaction="satisfied", now=T0 + 2 * D)
            raise_("carol", dahuidian, "夜间施工", now=dt.datetime(2025, 4, 9, 0, 30, tzinfo=SH))
            town.deputies = deputies
        yield town


def get(town, who, params):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[who]}")
    with time_machine.travel(NOW, tick=False):
        return client.get(URL, params)


def rows_of(response) -> dict:
    assert response.status_code == 200, response.content
    return {row["key"]: row for row in response.json()["results"]}


LS01 = {"collected": 3, "dispatched": 2, "resolved": 2, "resolved_on_time": 1, "valid_evaluations": 2,
        "contacted": 2, "solved": 1, "satisfied": 1, "basically_satisfied": 1}
LS02 = {"collected": 2, "dispatched": 1, "resolved": 1, "resolved_on_time": 1, "valid_evaluations": 0,
        "contacted": 0, "solved": 0, "satisfied": 0, "basically_satisfied": 0}


@pytest.mark.django_db
def test_rates_per_station_worked_by_hand(town):
    response = get(town, Role.SUPERVISOR, {"group_by": "station"})
    body = response.json()
    assert (body["group_by"], body["start"], body["end"], body["scope"]) == ("station", None, None, "assessed")
    rows = rows_of(response)
    assert list(rows) == ["LS01", "LS02", "LS03", "LS04", "LS05"]
    assert list(body["results"][0]) == STATION_COLUMNS
    ls01, ls02 = rows["LS01"], rows["LS02"]
    assert (ls01["label"], ls01["station_code"], ls01["theme"]) == ("西集村代表联络站（演示）", "LS01", "respond_at_once")
    assert {k: ls01[k] for k in FIGURES} == LS01
    assert (ls01["closure_rate"], ls01["on_time_rate"], ls01["response_rate"], ls01["resolution_rate"]) == (
        1.0, 0.5, 1.0, 0.5)
    assert ls01["satisfaction_rate"] == pytest.approx(0.95)
    # Alice's rating of A1 (raised in LS02's own village) counts in LS01, not in LS02.
    assert {k: ls02[k] for k in FIGURES} == LS02
    assert (ls02["closure_rate"], ls02["on_time_rate"]) == (1.0, 1.0)
    assert (ls02["response_rate"], ls02["resolution_rate"], ls02["satisfaction_rate"]) == (None, None, None)
    for code in ("LS03", "LS04", "LS05"):
        assert {k: rows[code][k] for k in FIGURES} == dict.fromkeys(FIGURES, 0)
        assert [rows[code][k] for k in RATES] == [None] * 5


@pytest.mark.django_db
def test_rates_per_deputy_worked_by_hand(town):
    response = get(town, Role.DISPATCHER, {"group_by": "deputy"})
    rows = rows_of(response)
    assert list(response.json()["results"][0]) == DEPUTY_COLUMNS
    assert len(rows) == 15
    alice, bob, carol = (rows[str(town.deputies[n].pk)] for n in ("alice", "bob", "carol"))
    assert (alice["label"], alice["deputy"], alice["station_id"]) == (
        "西集站代表甲（演示）", "西集站代表甲（演示）", town.deputies["alice"].station_id)
    assert [alice[k] for k in ("collected", "dispatched", "resolved", "valid_evaluations", "satisfied")] == [2, 1, 1,
                                                                                                            1, 1]
    assert [alice[k] for k in RATES] == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert [bob[k] for k in ("collected", "resolved_on_time", "valid_evaluations", "basically_satisfied")] == [
        1, 0, 1, 1]
    assert (bob["on_time_rate"], bob["resolution_rate"]) == (0.0, 0.0)  # 0 of 1: zero, not "no data"
    assert bob["satisfaction_rate"] == pytest.approx(0.9)
    assert (carol["collected"], carol["valid_evaluations"], carol["satisfaction_rate"]) == (2, 0, None)
    others = [row for key, row in rows.items() if key not in {alice["key"], bob["key"], carol["key"]}]
    assert {row["collected"] for row in others} == {0}
    assert {row["closure_rate"] for row in others} == {None}


@pytest.mark.django_db
def test_full_scope_and_periods_in_xiji_dates(town):
    assert rows_of(get(town, Role.SUPERVISOR, {"group_by": "station", "scope": "all"}))["LS01"]["collected"] == 4
    # C2 was received at 00:30 on the 9th in Xiji (16:30 UTC on the 8th): it belongs to the 9th.
    ninth = rows_of(get(town, Role.SUPERVISOR, {"group_by": "station", "start": "2025-04-09", "end": "2025-04-09"}))
    assert (ninth["LS01"]["collected"], ninth["LS02"]["collected"]) == (3, 2)
    eighth = rows_of(get(town, Role.SUPERVISOR, {"group_by": "station", "end": "2025-04-08"}))
    assert sum(row["collected"] for row in eighth.values()) == 0
    tenth = rows_of(get(town, Role.SUPERVISOR, {"group_by": "deputy", "start": "2025-04-10"}))
    assert sum(row["collected"] for row in tenth.values()) == 0
    wide = rows_of(get(town, Role.SUPERVISOR, {"group_by": "station", "start": "0001-01-02", "end": "9999-12-30"}))
    assert {k: wide["LS01"][k] for k in FIGURES} == LS01
    for params in ({"start": "0001-01-01"}, {"end": "9999-12-31"}):  # their bounds in UTC overflow a datetime
        for group_by in ("station", "village"):
            response = get(town, Role.SUPERVISOR, {"group_by": group_by, **params})
            assert (response.status_code, list(response.json())) == (400, list(params)), (group_by, params)
    response = get(town, Role.SUPERVISOR, {"group_by": "station", "start": "2025-05-01", "end": "2025-04-01"})
    assert (response.status_code, list(response.json())) == (400, ["end"])


@pytest.mark.django_db
def test_who_sees_which_stations(town):
    assert list(rows_of(get(town, "alice", {"group_by": "station"}))) == ["LS01"]
    assert list(rows_of(get(town, "carol", {"group_by": "station"}))) == ["LS02"]
    mine = rows_of(get(town, "alice", {"group_by": "deputy"}))
    assert {row["station_id"] for row in mine.values()} == {town.deputies["alice"].station_id}
    assert len(mine) == 3
    assert {k: rows_of(get(town, "alice", {"group_by": "station"}))["LS01"][k] for k in FIGURES} == LS01
    assert len(rows_of(get(town, Role.GRID_LEADER, {"group_by": "station"}))) == 5
    assert rows_of(get(town, Role.DEPUTY, {"group_by": "station"})) == {}  # a deputy login with no Deputy row


@pytest.mark.django_db
def test_station_and_deputy_rates_as_csv_and_xlsx(town):
    response = get(town, Role.SUPERVISOR, {"group_by": "station", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="rates.csv"'
    table = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(table[0]) == STATION_COLUMNS
    by_code = {row["key"]: row for row in table}
    assert (by_code["LS01"]["collected"], by_code["LS01"]["satisfaction_rate"][:4]) == ("3", "0.95")
    assert (by_code["LS02"]["closure_rate"], by_code["LS02"]["satisfaction_rate"]) == ("1.0", "")  # None → empty

    response = get(town, Role.SUPERVISOR, {"group_by": "deputy", "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="rates.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == DEPUTY_COLUMNS
    bob = dict(zip(DEPUTY_COLUMNS, next(r for r in table[1:] if r[0] == str(town.deputies["bob"].pk)), strict=True))
    assert (bob["label"], bob["collected"], bob["resolution_rate"]) == ("西集站代表乙（演示）", 1, 0)
    assert bob["satisfaction_rate"] == pytest.approx(0.9)
    assert len(table) == 16
