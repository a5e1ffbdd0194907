"""Column-map import profiles on the real city exports (issue 13 §3–§5): NYC 311 (CSV and the open-data
API's JSON), Boston 311 (its own deadline and on-time verdict), San Francisco's Open311 requests, profile
files, and faults with row and column. The Chinese column sets are tested in test_import.py."""
import csv
import dataclasses
import datetime as dt
import functools
import http.server
import io
import json
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.choices import DeadlineSource, Source, Status
from cases.importing import ImportRefused, import_file, plan_import
from cases.interop.profiles import ProfileError, load_profile, parse_profile, shipped_ids
from cases.models import Case, Category
from cases.seeding import seed_categories, seed_sla_policies
from tests.conftest import SHARED_DATA

OPEN311 = SHARED_DATA / "open311"
BOSTON = OPEN311 / "boston311_100_2022.csv"
NYC = OPEN311 / "nyc311_1000_2014-2019.csv"
SF = OPEN311 / "sf_open311_500_2011_fixture.json"
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


@pytest.fixture
def town(xiji):
    seed_sla_policies()
    seed_categories()
    return xiji


def rows_of(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def path_of(category):
    names, node = [], category
    while node is not None:
        names.insert(0, node.name)
        node = node.parent
    return "/".join(names)


def test_shipped_profiles_load_and_every_category_map_names_a_real_category(town):
    assert shipped_ids() == ["boston311", "hotline", "message_board", "nyc311", "nyc311_api", "open311"]
    paths = {path_of(c) for c in Category.objects.select_related("parent__parent")}
    for name in shipped_ids():
        profile = load_profile(name)
        assert not set(profile.category_map.values()) - paths, name
    assert load_profile("nyc311_api").category_map == load_profile("nyc311").category_map


def test_boston_deadlines_come_from_the_file_and_the_on_time_verdict_agrees_with_its_own(town):
    report = import_file(BOSTON)
    assert report.written and report.plan.faults == [] and report.plan.system == "boston311"
    cases = {c.external_ref: c for c in Case.objects.filter(source_system="boston311")}
    assert len(cases) == 100
    # One row worked by hand: opened 2022-01-01 21:11 EST, due 2022-01-04 08:30 EST, closed 09:30:03 EST.
    pothole = cases["101004113717"]
    assert pothole.received_at == dt.datetime(2022, 1, 2, 2, 11, tzinfo=UTC)
    assert pothole.resolve_due_at == dt.datetime(2022, 1, 4, 13, 30, tzinfo=UTC)
    assert pothole.resolved_at == dt.datetime(2022, 1, 4, 14, 30, 3, tzinfo=UTC)
    assert pothole.deadline_source == DeadlineSource.EXTERNAL and pothole.respond_due_at is None
    assert pothole.resolved_on_time is False and pothole.resolve_breached_at == pothole.resolve_due_at
    # A row without target_dt has no resolve deadline (Boston counts it ONTIME): it can never be late.
    needle = cases["101004130437"]
    assert (needle.resolve_due_at, needle.resolved_on_time, needle.status) == (None, None, Status.RESOLVED)
    # Every closed row: the product's verdict (late = resolved after its deadline) against the file's `ontime`.
    now = timezone.now()
    agree = disagree = 0
    tally = {"ONTIME": 0, "OVERDUE": 0, "no deadline": 0}
    for row in rows_of(BOSTON):
        case = cases[row["case_enquiry_id"]]
        if row["case_status"] == "Closed":
            late = case.resolved_on_time is False
            tally["no deadline" if case.resolve_due_at is None else row["ontime"]] += 1
        else:  # still open at the export: late once past a deadline it has not met
            assert case.status == Status.ACCEPTED
            late = case.resolve_due_at is not None and case.resolve_due_at < now
        if late == (row["ontime"] == "OVERDUE"):
            agree += 1
        else:
            disagree += 1
    assert (agree, disagree) == (100, 0)
    assert tally == {"ONTIME": 72, "OVERDUE": 5, "no deadline": 8}  # 85 closed rows, counted by hand
    # and the figures the statistics give agree: 72 of the 77 decided closed rows on time, 12 open past due.
    from cases.selectors import rates

    row = rates(cases=Case.objects.filter(source_system="boston311"), now=now)[0]
    assert (row["resolve_on_time"], row["resolve_decided"]) == (72, 77 + 12)


def test_nyc_csv_imports_with_its_times_zone_due_dates_and_reimport_is_a_no_op(town):
    err = io.StringIO()
    out = io.StringIO()
    call_command("import_cases", str(NYC), stdout=out, stderr=err)
    assert err.getvalue() == ""
    summary = out.getvalue()
    assert summary.startswith("1000 rows (csv, nyc311, source hotline, system nyc311); 1000 imported; "
                              "0 already present; 0 bad rows (0 faults); 311 without a mapped category; ")
    assert Case.objects.filter(source_system="nyc311").count() == 1000
    # 969 rows say Closed (all with a Closed Date); the other 31 stay open whatever their Closed Date says.
    assert Case.objects.filter(source_system="nyc311", status=Status.RESOLVED).count() == 969
    first = Case.objects.get(source_system="nyc311", external_ref="39573567")
    # 06/26/2018 10:58:54 AM EDT (UTC−4) → 14:58:54 UTC; closed 12:50:01 PM; due 06:58:54 PM.
    assert first.received_at == dt.datetime(2018, 6, 26, 14, 58, 54, tzinfo=UTC)
    assert first.resolved_at == dt.datetime(2018, 6, 26, 16, 50, 1, tzinfo=UTC)
    assert first.resolve_due_at == dt.datetime(2018, 6, 26, 22, 58, 54, tzinfo=UTC)
    assert first.resolved_on_time is True and first.category is None  # "Non-Emergency Police Matter": unmapped
    assert first.title == "Non-Emergency Police Matter: Other (complaint details)"
    assert (first.lat, first.lng) == (Decimal("40.690092"), Decimal("-73.846428"))
    assert first.result.startswith("The Police Department responded")
    lamp = Case.objects.filter(source_system="nyc311", title__startswith="Street Light Condition").first()
    assert path_of(lamp.category) == "城乡建设/城市建设和市政管理/城市公共设施"
    out = io.StringIO()
    call_command("import_cases", str(NYC), stdout=out, stderr=io.StringIO())
    assert "0 imported; 1000 already present" in out.getvalue()
    assert Case.objects.count() == 1000


def nyc_api_json(rows):
    """The rows as NYC's open-data API returns them: lower-case names, ISO times, empty fields left out."""
    def iso(text):
        return dt.datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").strftime("%Y-%m-%dT%H:%M:%S.000")

    names = {"Unique Key": "unique_key", "Created Date": "created_date", "Closed Date": "closed_date",
             "Due Date": "due_date", "Status": "status", "Complaint Type": "complaint_type",
             "Descriptor": "descriptor", "Location Type": "location_type",
             "Resolution Description": "resolution_description", "Incident Address": "incident_address",
             "Latitude": "latitude", "Longitude": "longitude", "Agency": "agency"}
    out = []
    for row in rows:
        obj = {}
        for column, key in names.items():
            if row[column]:
                obj[key] = iso(row[column]) if column.endswith("Date") else row[column]
        out.append(obj)
    return out


def test_nyc_api_json_gives_the_same_records_as_the_csv_and_counts_as_the_same_system(town, tmp_path):
    rows = rows_of(NYC)[:60]
    path = tmp_path / "erm2-nwe9.json"
    path.write_text(json.dumps(nyc_api_json(rows)), encoding="utf-8")
    csv_path = tmp_path / "nyc60.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    from_json = plan_import(path)
    from_csv = plan_import(csv_path)
    assert (from_json.file_format, from_json.column_set, from_json.system) == ("json", "nyc311_api", "nyc311")

    def comparable(plan):
        return [{k: v for k, v in dataclasses.asdict(r).items() if k != "row"} for r in plan.records]

    assert len(from_csv.records) == 60 and comparable(from_json) == comparable(from_csv)
    import_file(csv_path)
    again = plan_import(path)
    assert (len(again.records), again.existing) == (0, 60)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    """A static HTTP server on 127.0.0.1 serving ``tmp_path``: yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_san_francisco_open311_requests_with_the_mapping_file_from_a_file_and_from_a_url(town, tmp_path, file_server):
    plan = plan_import(SF, file_format="open311", mapping="sf_open311_services")
    assert (plan.file_format, plan.column_set, plan.system, plan.rows) == ("json", "open311", "sfgov.org", 500)
    # The fixture's other models (city, geography, street) are not records; 38 requests were "updated" hours
    # before they were requested (their 12-hour clock lost its PM): each is a fault of its row and column.
    assert len(plan.faults) == 38 and {f.column for f in plan.faults} == {"updated_datetime"}
    assert {f.fault for f in plan.faults} == {"closed before received"}
    assert plan.faults[0].row == 135  # the 135th object of the fixture: request 909722
    assert len(plan.records) == 462
    out = io.StringIO()
    with pytest.raises(CommandError, match="38 bad rows: nothing written"):
        call_command("import_cases", "--format", "open311", "--mapping", "sf_open311_services", str(SF),
                     stdout=out, stderr=io.StringIO())
    assert Case.objects.count() == 0
    (tmp_path / "requests.json").write_bytes(SF.read_bytes())
    out = io.StringIO()
    call_command("import_cases", "--format", "open311", "--mapping", "sf_open311_services", "--skip-invalid",
                 f"{file_server}/requests.json", stdout=out, stderr=io.StringIO())
    assert "462 imported" in out.getvalue() and "system sfgov.org" in out.getvalue()
    vehicle = Case.objects.get(source_system="sfgov.org", external_ref="909923")
    # requested 2011-06-28 05:14 PDT (UTC−7), updated (closed) 2011-07-05 05:30, expected 2011-07-07 08:30
    assert vehicle.received_at == dt.datetime(2011, 6, 28, 12, 14, tzinfo=UTC)
    assert vehicle.resolved_at == dt.datetime(2011, 7, 5, 12, 30, tzinfo=UTC)
    assert vehicle.resolve_due_at == dt.datetime(2011, 7, 7, 15, 30, tzinfo=UTC)
    assert path_of(vehicle.category) == "政法/交通管理/机动车和驾驶员管理"
    assert (vehicle.source, vehicle.title, vehicle.status) == (Source.ONLINE, "Abandoned Vehicle", Status.RESOLVED)
    assert vehicle.lat == Decimal("37.744545") and vehicle.resolved_on_time is True


def test_bad_rows_of_a_foreign_export_name_row_and_column_and_nothing_is_written(town, tmp_path):
    header = ["case_enquiry_id", "open_dt", "target_dt", "closed_dt", "ontime", "case_status", "case_title",
              "type", "latitude", "longitude"]
    path = tmp_path / "boston.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([
            ["1", "2022-01-01 10:00:00", "2022-01-03 10:00:00", "2022-01-02 10:00:00", "ONTIME", "Closed", "a", "x",
             "42.1", "-71.1"],                                                                    # row 2: good
            ["2", "2022-01-01 10:00:00", "2021-12-31 10:00:00", "", "OVERDUE", "Open", "b", "x", "", ""],  # row 3
            ["3", "2022-01-01 10:00:00", "", "", "ONTIME", "Closed", "c", "x", "", ""],            # row 4
            ["4", "2022-01-01 10:00:00", "", "", "ONTIME", "Open", "d", "x", "north", "-71.1"],    # row 5
            ["5", "2022-01-01 10:00:00", "", "2021-12-01 10:00:00", "ONTIME", "Closed", "e", "x", "", ""],  # row 6
        ])
    err = io.StringIO()
    with pytest.raises(CommandError, match="4 bad rows: nothing written"):
        call_command("import_cases", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "row 3, column target_dt: deadline before the received time",
        "row 4, column closed_dt: status 'Closed' but no closed time",
        "row 5, column latitude: not a number 'north'",
        "row 6, column closed_dt: closed before received",
    ]
    assert Case.objects.count() == 0


def test_a_profile_file_maps_columns_votes_and_refuses_what_it_cannot_read(town, tmp_path):
    profile = tmp_path / "village.toml"
    profile.write_text('''
id = "village_board"
system = "xiji-board"
source = "online"
required = ["编号", "时间"]
[columns]
id = "编号"
received = "时间"
title = "内容"
votes_up = "点赞数"
votes_down = "反对数"
''', encoding="utf-8")
    path = tmp_path / "board.csv"
    path.write_text("编号,时间,内容,点赞数,反对数\nA1,2024/5/1 8:00,路灯不亮,12,1\nA2,2024/5/1 9:00,垃圾,x,\n",
                    encoding="utf-8")
    plan = plan_import(path, profile=str(profile))
    assert (plan.column_set, plan.system, plan.source) == ("village_board", "xiji-board", Source.ONLINE)
    assert [(r.external_ref, r.votes_up, r.votes_down) for r in plan.records] == [("A1", 12, 1)]
    assert [str(f) for f in plan.faults] == ["row 3, column 点赞数: not a whole number of votes: 'x'"]
    with pytest.raises(ProfileError, match="unknown role columns.colour"):
        parse_profile({"id": "x", "columns": {"id": "a", "received": "b", "colour": "c"}})
    with pytest.raises(ImportRefused, match="no profile 'nowhere'"):
        plan_import(path, profile="nowhere")
    with pytest.raises(ImportRefused, match="unknown column set"):
        plan_import(path)
