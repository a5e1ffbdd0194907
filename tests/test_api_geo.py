"""Maps API (issue 14): cases by bounding box, GeoJSON of cases and villages, setting a case's place."""
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from cases.choices import Action, Status
from cases.models import CaseEvent
from grids import geo
from grids.choices import Role
from grids.models import Village
from tests import factories

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 5, 12, 10, 0, tzinfo=SH)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def client_for(town, role) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    return client


@pytest.fixture
def placed(town, db):
    """Three cases in village a's grid 1: two placed inside Xiji, one placed far away, one unplaced."""
    actor = town.user(Role.DISPATCHER)
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        east = factories.make_case(grid=town.a1, actor=actor, state=Status.DISPATCHED, title="东边积水，电话13812345678",
                                   lng=Decimal("116.900000"), lat=Decimal("39.800000"), urgency="emergency")
        west = factories.make_case(grid=town.a1, actor=actor, state=Status.RESOLVED, title="西边路灯",
                                   lng=Decimal("116.830000"), lat=Decimal("39.790000"))
        far = factories.make_case(grid=town.b1, actor=actor, state=Status.RECEIVED, title="远处",
                                  lng=Decimal("117.500000"), lat=Decimal("40.500000"))
        none = factories.make_case(grid=town.a1, actor=actor, state=Status.RECEIVED, title="没有位置")
    return {"east": east, "west": west, "far": far, "none": none}


@pytest.mark.django_db
def test_cases_filter_by_a_bounding_box_in_wgs84_or_a_maps_system(town, placed):
    api = client_for(town, Role.DISPATCHER)
    with time_machine.travel(NOW, tick=False):
        got = api.get("/api/v1/cases/", {"bbox": "116.8,39.7,116.95,39.85"})
        assert got.status_code == 200, got.content
        assert sorted(c["number"] for c in got.json()["results"]) == sorted([placed["east"].number, placed["west"].number])
        # the same box read off an AMap (GCJ-02) map sits ~500 m north-east: a box that holds only east in GCJ-02
        glng, glat = geo.wgs84_to_gcj02(116.9, 39.8)
        box = f"{glng - 0.001},{glat - 0.001},{glng + 0.001},{glat + 0.001}"
        got = api.get("/api/v1/cases/", {"bbox": box, "bbox_crs": "gcj02"})
        assert [c["number"] for c in got.json()["results"]] == [placed["east"].number]
        assert api.get("/api/v1/cases/", {"bbox": box}).json()["results"] == []  # read as WGS-84 it misses
        for bad in ("1,2,3", "a,b,c,d", "117,39,116,40", "116,39,190,40"):
            answer = api.get("/api/v1/cases/", {"bbox": bad})
            assert answer.status_code == 400 and "bbox" in answer.json(), bad


@pytest.mark.django_db
def test_case_geojson_is_scoped_marks_overdue_and_converts_on_request(town, placed):
    with time_machine.travel(NOW, tick=False):
        body = client_for(town, Role.DISPATCHER).get("/api/v1/cases/geojson/").json()
        assert body["type"] == "FeatureCollection" and body["crs"] == "wgs84" and body["truncated"] is False
        by_number = {f["properties"]["number"]: f for f in body["features"]}
        assert set(by_number) == {placed["east"].number, placed["west"].number, placed["far"].number}
        east = by_number[placed["east"].number]
        assert east["geometry"] == {"type": "Point", "coordinates": [116.9, 39.8]}
        assert east["properties"]["overdue"] is True  # emergency, dispatched 3 days ago, never responded
        assert east["properties"]["title"] == "东边积水，电话138****5678"
        assert east["properties"]["url"] == f"/cases/{placed['east'].pk}/"
        assert by_number[placed["west"].number]["properties"]["overdue"] is False  # resolved

        gcj = client_for(town, Role.DISPATCHER).get("/api/v1/cases/geojson/", {"crs": "gcj02", "overdue": "true"}).json()
        # far, received 3 days ago and never dispatched, is past its dispatch and respond deadlines (issue 12 §4)
        gcj_by_number = {f["properties"]["number"]: f for f in gcj["features"]}
        assert set(gcj_by_number) == {placed["east"].number, placed["far"].number}
        x, y = gcj_by_number[placed["east"].number]["geometry"]["coordinates"]
        assert (x, y) == (round(geo.wgs84_to_gcj02(116.9, 39.8)[0], 6), round(geo.wgs84_to_gcj02(116.9, 39.8)[1], 6))
        assert client_for(town, Role.DISPATCHER).get("/api/v1/cases/geojson/", {"crs": "mars"}).status_code == 400

        # the grid leader of a1 sees only a1's placed cases
        mine = client_for(town, Role.GRID_LEADER).get("/api/v1/cases/geojson/").json()
        assert {f["properties"]["number"] for f in mine["features"]} == {placed["east"].number, placed["west"].number}


@pytest.mark.django_db
def test_village_geojson_has_the_23_placed_units_stored_as_wgs84(town):
    body = client_for(town, Role.SUPERVISOR).get("/api/v1/villages/geojson/").json()
    assert len(body["features"]) == 23 == Village.objects.filter(lng__isnull=False).count()
    hgz = next(f for f in body["features"] if f["properties"]["code"] == "110112110204")  # 侯各庄村
    # seeds/villages.csv gives 116.911304, 39.839796 in GCJ-02; stored and answered in WGS-84
    wlng, wlat = geo.gcj02_to_wgs84(116.911304, 39.839796)
    assert hgz["geometry"]["coordinates"] == [round(wlng, 6), round(wlat, 6)]
    back = client_for(town, Role.SUPERVISOR).get("/api/v1/villages/geojson/", {"crs": "gcj02"}).json()
    hgz_gcj = next(f for f in back["features"] if f["properties"]["code"] == "110112110204")
    assert geo.distance_m(*hgz_gcj["geometry"]["coordinates"], 116.911304, 39.839796) < 0.2
    assert len(client_for(town, Role.GRID_LEADER).get("/api/v1/villages/geojson/").json()["features"]) <= 1


@pytest.mark.django_db
def test_a_grid_leader_sets_a_place_by_tap_or_phone_and_it_is_audited(town, placed):
    case = placed["none"]
    api = client_for(town, Role.GRID_LEADER)
    with time_machine.travel(NOW, tick=False):
        glng, glat = geo.wgs84_to_gcj02(116.88, 39.81)
        answer = api.post(f"/api/v1/cases/{case.pk}/place/", {"lng": glng, "lat": glat, "crs": "gcj02"}, format="json")
        assert answer.status_code == 200, answer.content
        assert (answer.json()["lng"], answer.json()["lat"]) == ("116.880000", "39.810000")
        gps = api.post(f"/api/v1/cases/{case.pk}/place/", {"lng": 116.8812345, "lat": 39.8100001, "source": "gps",
                                                          "accuracy_m": 12}, format="json")
        assert gps.status_code == 200 and gps.json()["lng"] == "116.881235"
    events = list(CaseEvent.objects.filter(case=case, action=Action.EDITED).order_by("at", "pk"))
    assert [e.note for e in events] == ["地图选点", "手机定位（精度约 12 米）"]
    assert events[0].data["changes"] == {"lng": {"old": None, "new": "116.880000"}, "lat": {"old": None, "new": "39.810000"}}
    assert api.post(f"/api/v1/cases/{placed['far'].pk}/place/", {"lng": 116.9, "lat": 39.8}, format="json").status_code == 404
    assert api.post(f"/api/v1/cases/{case.pk}/place/", {"lng": 200, "lat": 39.8}, format="json").status_code == 400
    deputy = client_for(town, Role.DEPUTY)
    assert deputy.post(f"/api/v1/cases/{case.pk}/place/", {"lng": 116.9, "lat": 39.8}, format="json").status_code == 404
    resolved = placed["west"]
    closed = client_for(town, Role.DISPATCHER).post(f"/api/v1/cases/{resolved.pk}/place/", {"lng": 116.9, "lat": 39.8},
                                                    format="json")
    assert closed.status_code == 409  # a resolved case is no longer open


@pytest.mark.django_db
def test_hotspots_geojson_puts_each_active_hotspot_at_its_village_point(town):
    from cases.models import Hotspot

    placed_village = Village.objects.filter(lng__isnull=False).order_by("code").first()
    at = NOW - dt.timedelta(days=1)
    common = {"category": town.cat_top, "window_start": at - dt.timedelta(days=30), "window_end": at,
              "first_seen_at": at, "last_seen_at": at}
    hot = Hotspot.objects.create(title="积水反复，电话13812345678", village=placed_village, heat=7.5, case_count=6, **common)
    Hotspot.objects.create(title="未定位", village=town.a, heat=3.0, **common)  # village a has no point
    Hotspot.objects.create(title="已不在", village=placed_village, heat=2.0, active=False, **common)
    body = client_for(town, Role.SUPERVISOR).get("/api/v1/hotspots/geojson/", {"crs": "gcj02"}).json()
    assert [f["id"] for f in body["features"]] == [hot.pk]
    feature = body["features"][0]
    assert feature["properties"] == {"id": hot.pk, "title": "积水反复，电话138****5678", "heat": 7.5, "cases": 6,
                                     "village": placed_village.short_name}
    gcj = geo.wgs84_to_gcj02(float(placed_village.lng), float(placed_village.lat))
    assert feature["geometry"]["coordinates"] == [round(gcj[0], 6), round(gcj[1], 6)]
    from cases.maps import map_context

    assert map_context(cases_query="")["hotspots_url"] == f"/api/v1/hotspots/geojson/?crs={map_context()['crs']}"
