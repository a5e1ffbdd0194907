"""The supervisor's dashboard on imported real data (issue 6, browser test c): a slice of the real
message-board files (TipDM 2020 C, see ../shared/data/README.md) imported with ``cases.importing``, then
the charts are drawn by ECharts from the JSON the page embeds, and that JSON, the drawn series and the
statistics API (``/api/v1/stats/rates/``) agree with ``cases.selectors.rates``."""
import csv
import io
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from cases import selectors
from cases.importing import import_file
from cases.models import Case
from cases.seeding import seed_categories
from grids.choices import Role
from tests.conftest import SHARED_DATA

from .conftest import DESKTOP, PHONE, ROOT

REPLIES = ROOT / "seeds" / "messages_with_replies_2816.csv"  # the project's copy of the real file
LABELLED = SHARED_DATA / "complaints" / "tipdm2020c" / "messages_labelled_1842.csv"
REPLIED_ROWS, LABELLED_ROWS = 150, 60


def slice_of(source: Path, rows: int, target: Path) -> Path:
    """The header and ``rows`` records spread evenly over a CSV (cells may span lines), written to
    ``target``: every n-th record, so that the slice covers the file's years and categories."""
    with source.open(encoding="utf-8-sig", newline="") as fh:
        header, *records = list(csv.reader(fh))
    step = max(1, len(records) // rows)
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *records[::step][:rows]])
    return target


def month_series(rows: list[dict]) -> dict:
    """The chart's expectation, computed here: every month from the first to the last with cases."""
    by_key = {r["key"]: r for r in rows}
    first, last = min(by_key), max(by_key)
    months, (year, month) = [], (int(first[:4]), int(first[5:]))
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return {"months": months,
            "received": [by_key[m]["received"] if m in by_key else 0 for m in months],
            "resolved": [by_key[m]["resolved"] if m in by_key else 0 for m in months],
            "resolve_on_time": [by_key[m]["resolve_on_time"] if m in by_key else 0 for m in months]}


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_charts_imported_real_data_with_the_statistics_figures(town, session, tmp_path):
    seed_categories()
    now = timezone.now()
    for source, rows in ((REPLIES, REPLIED_ROWS), (LABELLED, LABELLED_ROWS)):
        report = import_file(slice_of(source, rows, tmp_path / source.name), now=now, skip_invalid=True)
        assert report.written, report.summary()
    total = Case.objects.count()
    assert total >= REPLIED_ROWS + LABELLED_ROWS - 5  # a few ids repeat across the two files

    sam = session(DESKTOP)
    sam.login(town.user(Role.SUPERVISOR).username)
    page = sam.go("/dashboard/?start=&end=&scope=assessed")  # the whole period: the data is 2010-2020
    page.wait_for_function("window.xijiCharts && window.xijiCharts.length === 2")

    # Drawn: ECharts put a canvas into both chart boxes.
    assert page.locator("#chart-trend canvas").count() >= 1
    assert page.locator("#chart-categories canvas").count() >= 1

    # Fed with the statistics: the embedded JSON = cases.selectors.rates = the API, and ECharts drew it.
    months = selectors.rates(group_by="month", scope="assessed")
    trend = page.evaluate("JSON.parse(document.getElementById('trend-data').textContent)")
    expected = month_series(months)
    assert {k: trend[k] for k in expected} == expected
    assert sum(trend["received"]) == Case.objects.filter(excluded=False).count() == total
    assert sum(trend["resolved"]) == Case.objects.filter(resolved_at__isnull=False).count() > 0
    api = page.request.get(sam.base_url + "/api/v1/stats/rates/?group_by=month&scope=assessed").json()
    assert {r["key"]: r["received"] for r in api["results"]} == {r["key"]: r["received"] for r in months}
    drawn = page.evaluate("window.xijiCharts[0].getOption()")
    assert drawn["xAxis"][0]["data"] == trend["months"]
    assert [s["data"] for s in drawn["series"][:3]] == [trend["received"], trend["resolved"],
                                                       trend["resolve_on_time"]]
    # The on-time rate: a month without a decided resolve deadline has none (null), drawn as a gap in the
    # line — never joined across, as if carried over.
    rates = {r["key"]: r["resolve_on_time_rate"] for r in months}
    assert trend["resolve_on_time_rate"] == [None if rates.get(m) is None else round(rates[m] * 100, 1)
                                             for m in trend["months"]]
    assert None in trend["resolve_on_time_rate"]  # the slice leaves months without cases
    assert drawn["series"][3]["data"] == trend["resolve_on_time_rate"]
    assert drawn["series"][3]["connectNulls"] is False

    categories = selectors.rates(group_by="category", scope="assessed")
    chart = page.evaluate("JSON.parse(document.getElementById('category-data').textContent)")
    assert chart["labels"] == [r["label"] for r in categories]
    assert chart["received"] == [r["received"] for r in categories]
    assert len(chart["labels"]) >= 3  # the labelled slice brings real top-level categories
    api = page.request.get(sam.base_url + "/api/v1/stats/rates/?group_by=category&scope=assessed").json()
    assert [r["received"] for r in api["results"]] == chart["received"]
    drawn = page.evaluate("window.xijiCharts[1].getOption()")
    assert drawn["yAxis"][0]["data"] == chart["labels"] and drawn["series"][0]["data"] == chart["received"]

    town_row = selectors.rates(scope="assessed")[0]
    assert page.get_by_test_id("received").inner_text() == str(town_row["received"])
    assert page.get_by_test_id("resolved").inner_text() == str(town_row["resolved"])
    sam.shot("c-dashboard-real-data")

    # The village table on screen, downloaded as XLSX, holds the same figures.
    villages = {r["key"]: r for r in selectors.rates(group_by="village", scope="assessed")}
    shown = page.locator("[data-testid=village-table] tbody tr")
    assert shown.count() == len(villages)
    with page.expect_download() as download:
        page.get_by_test_id("xlsx-villages").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    rows = list(sheet.values)
    assert {row[2]: row[3] for row in rows[1:]} == {code: r["received"] for code, r in villages.items()}

    phone = session(PHONE)
    phone.login(town.user(Role.SUPERVISOR).username)
    page = phone.go("/dashboard/?start=&end=&scope=assessed")
    page.wait_for_function("window.xijiCharts && window.xijiCharts.length === 2")
    assert page.locator("#chart-trend canvas").count() >= 1
    assert phone.overflow() == 0
    phone.shot("c-dashboard-real-data")
