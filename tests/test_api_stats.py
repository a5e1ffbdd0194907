"""Statistics endpoints (issue 5 §4): rates per group over the caller's scope, CSV / XLSX, overdue list."""
import csv
import datetime as dt
import io

import pytest
import time_machine
from openpyxl import load_workbook
from rest_framework.test import APIClient

from cases import services
from cases.api.stats import RATE_COLUMNS
from cases.choices import Satisfaction, Status
from grids.choices import Role

from . import factories

T0 = dt.datetime(2025, 4, 7, 1, 0, tzinfo=dt.UTC)  # 2025-04-07 09:00 Asia/Shanghai
NOW = T0 + dt.timedelta(hours=30)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    """Village a (all at grid a-1): two resolved cases called back satisfied and basically satisfied, one
    open case past its respond deadline at NOW. Village b: one received, undispatched case."""
    with factories.seeded_town(django_db_blocker) as town:
        actor = town.user(Role.DISPATCHER)
        resolved = [factories.make_case(grid=town.a1, actor=actor, state=Status.RESOLVED, now=T0) for _ in range(2)]
        for case, answer in zip(resolved, (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED), strict=True):
            services.callback(case, actor=actor, contacted=True, solved=True, satisfaction=answer, now=T0)
        town.late = factories.make_case(grid=town.a1, actor=actor, state=Status.DISPATCHED, now=T0)
        town.lone = factories.make_case(grid=town.b1, actor=actor, state=Status.RECEIVED, now=T0)
        town.late_b = factories.make_case(grid=town.b1, actor=actor, state=Status.DISPATCHED,
                                          now=T0 - dt.timedelta(days=2))
        yield town


def get(town, role, url, params=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    with time_machine.travel(NOW, tick=False):
        return client.get(url, params or {})


def by_key(rows):
    return {row["key"]: row for row in rows}


@pytest.mark.django_db
def test_rates_per_village_for_the_whole_town(town):
    response = get(town, Role.SUPERVISOR, "/api/v1/stats/rates/",
                   {"group_by": "village", "start": "2025-04-07", "end": "2025-04-07"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["group_by"], body["start"], body["end"], body["scope"]) == ("village", "2025-04-07", "2025-04-07",
                                                                          "assessed")
    rows = by_key(body["results"])
    assert set(rows) == {town.a.code, town.b.code}  # late_b was received on 04-05, outside the period
    a, b = rows[town.a.code], rows[town.b.code]
    assert (a["received"], a["dispatched"], a["resolved"], a["valid_callbacks"]) == (3, 3, 2, 2)
    assert a["closure_rate"] == pytest.approx(2 / 3)
    assert a["response_rate"] == a["resolution_rate"] == 1.0
    assert a["satisfaction_rate"] == pytest.approx((1 + 0.9) / 2)
    assert a["composite_score"] == pytest.approx(10 + 45 + 45 * 0.95)
    assert a["overdue"] == 1  # the open case, unresponded 30 h after receipt
    assert (b["received"], b["dispatched"], b["closure_rate"], b["satisfaction_rate"]) == (1, 0, None, None)
    assert list(body["results"][0]) == RATE_COLUMNS


@pytest.mark.django_db
def test_rates_count_only_the_callers_scope(town):
    rows = get(town, Role.GRID_LEADER, "/api/v1/stats/rates/", {"group_by": "village"}).json()["results"]
    assert [row["key"] for row in rows] == [town.a.code]
    town_row = get(town, Role.GRID_LEADER, "/api/v1/stats/rates/").json()["results"]
    assert [row["received"] for row in town_row] == [3]
    assert get(town, Role.DEPUTY, "/api/v1/stats/rates/").json()["results"][0]["received"] == 0


@pytest.mark.django_db
def test_rates_as_csv_and_xlsx(town):
    params = {"group_by": "village", "start": "2025-04-07", "end": "2025-04-07"}
    response = get(town, Role.DISPATCHER, "/api/v1/stats/rates/", {**params, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="rates.csv"'
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == RATE_COLUMNS
    a = next(r for r in rows if r["key"] == town.a.code)
    assert (a["received"], a["closure_rate"][:6]) == ("3", "0.6666")
    b = next(r for r in rows if r["key"] == town.b.code)
    assert b["satisfaction_rate"] == ""  # None → empty cell

    response = get(town, Role.DISPATCHER, "/api/v1/stats/rates/", {**params, "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0] == RATE_COLUMNS
    a = dict(zip(RATE_COLUMNS, next(r for r in table[1:] if r[0] == town.a.code), strict=True))
    assert (a["received"], a["label"]) == (3, town.a.short_name)
    assert a["satisfaction_rate"] == pytest.approx(0.95)


@pytest.mark.django_db
def test_bad_statistics_queries_answer_400_as_json_even_for_exports(town):
    response = get(town, Role.DISPATCHER, "/api/v1/stats/rates/", {"group_by": "planet"})
    assert response.status_code == 400 and list(response.json()) == ["group_by"]
    response = get(town, Role.DISPATCHER, "/api/v1/stats/rates/",
                   {"start": "2025-05-01", "end": "2025-04-01", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["end"]


@pytest.mark.django_db
def test_overdue_lists_cases_by_lateness_within_scope(town):
    response = get(town, Role.SUPERVISOR, "/api/v1/stats/overdue/", {"open_only": "true"})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    # late_b: received 48 h before T0, respond due 24 h later → 54 h late at NOW (T0 + 30 h); late: 6 h.
    # lone, received at T0 and never dispatched, is past its dispatch and respond deadlines (both 24 h from
    # receipt, issue 12 §4) by 6 h too; equal lateness and receipt: in id order.
    assert [(r["id"], r["lateness_seconds"]) for r in rows] == [(town.late_b.pk, 54 * 3600),
                                                                 (town.late.pk, 6 * 3600), (town.lone.pk, 6 * 3600)]
    mine = get(town, Role.GRID_LEADER, "/api/v1/stats/overdue/").json()["results"]
    assert [r["id"] for r in mine] == [town.late.pk]
    assert mine[0]["complainant_phone"] == "138****5678"
    export = get(town, Role.SUPERVISOR, "/api/v1/stats/overdue/", {"format": "csv"})
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert lines[0][:2] == ["lateness_seconds", "number"]
    assert [line[1] for line in lines[1:]] == [town.late_b.number, town.late.number, town.lone.number]
