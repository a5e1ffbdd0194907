"""No formula injection in any export the product has (issue 18.1): pages, API and the stats command.

A case whose title, category, grid leader and village carry spreadsheet formulas is exported through every
export; no CSV cell and no XLSX cell may begin with ``= + - @``, tab or CR, no XLSX cell may be a formula,
and the hostile texts must be there (neutralised with a leading apostrophe), so the test cannot pass on an
empty file.
"""
import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from cases.choices import Status
from cases.exports import FORMULA_START, cell, csv_bytes, xlsx_bytes
from cases.models import Category
from grids.choices import Role

from . import factories

HYPERLINK = '=HYPERLINK("http://x","y")'
CMD = "=cmd|' /C calc'!A0"
RECEIVED = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

API_EXPORTS = [f"/api/v1/stats/rates/?group_by={g}&start=2025-01-01&end=2025-12-31" for g in (
    "village", "grid", "category", "source", "handler", "day", "week", "month", "assessment_month")] + [
    "/api/v1/stats/overdue/?open_only=true", "/api/v1/stats/overdue/"]
PAGE_EXPORTS = [f"/dashboard/export/{t}.{{fmt}}?start=2025-01-01&end=2025-12-31" for t in (
    "villages", "grids", "months", "categories", "overdue")] + ["/cases/export.{fmt}?q="]  # the desk's case list


@pytest.fixture
def hostile(db):
    town = factories.build_town()
    category = Category.objects.create(name=CMD[:30], level=1)
    leader = town.a1.leader
    leader.name = "@SUM(1+1)*cmd"
    leader.save()
    village = town.a
    village.name = "+1+1村委会"  # short name +1+1村
    village.save()
    factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED, now=RECEIVED,
                        title=HYPERLINK, category=category)
    factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.ACCEPTED, now=RECEIVED,
                        title="-2+3", category=category)
    return town


def csv_cells(body: bytes) -> list[str]:
    text = body.decode("utf-8-sig")
    return [value for row in csv.reader(io.StringIO(text)) for value in row]


def xlsx_cells(body: bytes) -> list:
    book = load_workbook(io.BytesIO(body))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "formula cells in the XLSX"
    return [c.value for c in cells if c.value is not None]


def assert_neutral(values, expected_texts):
    texts = [v for v in values if isinstance(v, str)]
    live = [v for v in texts if v.startswith(FORMULA_START)]
    assert not live, live[:5]
    for text in expected_texts:
        assert f"'{text}" in texts, (text, texts[:40])


def test_cell_neutralises_every_formula_start_and_keeps_numbers():
    for start in FORMULA_START:
        assert cell(f"{start}1") == f"'{start}1"
    assert cell(-1.5) == -1.5 and cell(3) == 3
    assert cell(None) == "" and cell(True) == "true"
    assert cell("西集镇") == "西集镇"
    assert csv_cells(csv_bytes(["a"], [["=1+1"], ["\t=2"], ["\r=3"]])) == ["a", "'=1+1", "'\t=2", "'\r=3"]
    assert xlsx_cells(xlsx_bytes(["a"], [["=1+1"], [-2]])) == ["a", "'=1+1", -2]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_api_export_neutralises_formulas(client, hostile, fmt):
    headers = hostile.auth(Role.ADMIN)
    for url in API_EXPORTS:
        response = client.get(f"{url}{'&' if '?' in url else '?'}format={fmt}", **headers)
        assert response.status_code == 200, (url, response.status_code)
        values = csv_cells(response.content) if fmt == "csv" else xlsx_cells(response.content)
        expected = {"overdue": [HYPERLINK, "-2+3"], "category": [CMD[:30]], "handler": ["@SUM(1+1)*cmd"],
                    "village": ["+1+1村"]}
        key = next((k for k in expected if f"group_by={k}&" in url or f"/{k}/" in url), None)
        assert key or "group_by=" in url
        assert_neutral(values, expected.get(key, []))


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_dashboard_download_neutralises_formulas(client, hostile, fmt):
    client.force_login(hostile.user(Role.ADMIN))
    expected = {"overdue": [HYPERLINK, "-2+3"], "categories": [CMD[:30]], "villages": ["+1+1村"]}
    for url in PAGE_EXPORTS:
        response = client.get(url.format(fmt=fmt) + "&scope=all")
        assert response.status_code == 200, url
        values = csv_cells(response.content) if fmt == "csv" else xlsx_cells(response.content)
        table = url.split("/")[3].split(".")[0] if url.startswith("/dashboard/") else "overdue"
        assert_neutral(values, expected.get(table, []))


@pytest.mark.django_db
def test_the_stats_command_neutralises_formulas(hostile, tmp_path):
    out = io.StringIO()
    call_command("stats", "--group-by", "category", "--start", "2025-01-01", "--end", "2025-12-31", "--format", "csv",
                 stdout=out)
    assert_neutral(csv_cells(out.getvalue().encode()), [CMD[:30]])
    call_command("stats", "--group-by", "handler", "--start", "2025-01-01", "--end", "2025-12-31", "--format", "xlsx",
                 "--output", str(tmp_path / "s.xlsx"), stderr=io.StringIO())
    assert_neutral(xlsx_cells((tmp_path / "s.xlsx").read_bytes()), ["@SUM(1+1)*cmd"])
