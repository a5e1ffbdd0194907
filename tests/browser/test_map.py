"""Maps in the browser (issue 14): the dashboard and the case page draw case pins and village points with
every tile request blocked (a township intranet without the tile server, or no network at all), overdue
cases in red; a grid leader sets a case's place by tapping the map. Screenshots at 375 and 1280 px."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from cases.choices import Status
from cases.maps import DEFAULT_CENTER
from cases.models import Case
from grids import geo
from grids.choices import Role
from tests import factories

from .conftest import DESKTOP, PHONE, SCREENSHOTS, Session

TILE_HOSTS = re.compile(r"autonavi\.com|tianditu\.gov\.cn|openstreetmap|/tiles/")


def placed_cases(town):
    """Two open cases placed in village a (one overdue: received 3 days ago, emergency) and one resolved."""
    actor = town.user(Role.DISPATCHER)
    long_ago = timezone.now() - dt.timedelta(days=3)
    overdue = factories.make_case(grid=town.a1, actor=actor, state=Status.DISPATCHED, urgency="emergency",
                                  title="路口积水", now=long_ago, lng=Decimal("116.900000"), lat=Decimal("39.800000"))
    fresh = factories.make_case(grid=town.a1, actor=actor, state=Status.DISPATCHED, title="路灯不亮",
                                lng=Decimal("116.880000"), lat=Decimal("39.810000"))
    unplaced = factories.make_case(grid=town.a1, actor=actor, state=Status.DISPATCHED, title="井盖缺失")
    return overdue, fresh, unplaced


def blocked(session):
    """Abort every tile request; count them."""
    hits = []

    def abort(route):
        hits.append(route.request.url)
        route.abort()

    session.context.route(TILE_HOSTS, abort)
    return hits


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
@override_settings(MAP_TILES="amap")
def test_the_dashboard_map_draws_pins_with_tiles_blocked(browser, live_server, town, viewport):
    overdue, fresh, _unplaced = placed_cases(town)
    s = Session(browser, live_server.url, viewport)
    hits = blocked(s)
    s.login(town.user(Role.SUPERVISOR).username)
    page = s.go("/dashboard/")
    page.wait_for_function("document.querySelector('#dashboard-map').dataset.pins === '2'")
    page.wait_for_function("document.querySelector('#dashboard-map').dataset.villages === '23'")
    assert page.locator("#dashboard-map path.case-pin").count() == 2
    assert page.locator("#dashboard-map path.case-pin-overdue").count() == 1
    assert page.locator("#dashboard-map path.case-pin-overdue").get_attribute("fill") == "#d62728"
    assert page.locator("#dashboard-map path.village-point").count() == 23
    assert hits, "the page asked for tiles and every request was blocked"
    assert page.locator("[data-testid='dashboard-map-note']").is_visible()  # says the base map is missing
    page.locator("#map-section").scroll_into_view_if_needed()
    page.locator("#dashboard-map path.case-pin-overdue").dispatch_event("click")  # Leaflet opens its popup
    assert page.locator(".leaflet-popup-content").inner_text().startswith(overdue.number)
    assert s.errors == []
    s.shot("map-dashboard")
    page.locator("#map-section").screenshot(path=str(SCREENSHOTS / f"map-dashboard-section-{s.width}.png"))
    s.context.close()


@pytest.mark.django_db(transaction=True)
@override_settings(MAP_TILES="none")
def test_a_grid_leader_places_a_case_by_tapping_the_map(browser, live_server, town):
    _overdue, _fresh, unplaced = placed_cases(town)
    s = Session(browser, live_server.url, PHONE)
    s.login(town.user(Role.GRID_LEADER).username)
    page = s.go(f"/cases/{unplaced.pk}/")
    assert page.locator("[data-testid='no-place']").is_visible()
    page.wait_for_function("document.querySelector('#case-map').dataset.loaded === '1'")  # the village points
    page.locator("#case-map").scroll_into_view_if_needed()
    box = page.locator("#case-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.locator("[data-pick='save']").click()
    page.wait_for_function("document.querySelector('[data-testid=map-pick]').dataset.saved")
    unplaced.refresh_from_db()
    assert unplaced.lng is not None and unplaced.lat is not None
    assert geo.distance_m(float(unplaced.lng), float(unplaced.lat), *DEFAULT_CENTER) < 20_000
    saved = page.locator("[data-testid=map-pick]").get_attribute("data-saved")
    assert saved == f"{unplaced.lng},{unplaced.lat}"
    page.reload()
    page.wait_for_selector("#case-map path.case-pin-own")
    assert page.locator("#case-map path.case-pin-own").count() == 1
    assert not page.locator("[data-testid='no-place']").is_visible()
    assert Case.objects.get(pk=unplaced.pk).events.filter(action="edited", note="地图选点").count() == 1
    s.shot("map-case")
    assert s.errors == []
    s.context.close()


@pytest.mark.django_db(transaction=True)
@override_settings(MAP_TILES="amap")
def test_a_grid_leader_places_a_case_from_the_phones_location(browser, live_server, town):
    """The browser reports WGS-84; the page sends it as such and the case stores it unchanged (to 1e-6°),
    while the pin is drawn in the AMap tiles' GCJ-02."""
    _overdue, _fresh, unplaced = placed_cases(town)
    s = Session(browser, live_server.url, PHONE)
    blocked(s)
    s.context.grant_permissions(["geolocation"])
    s.context.set_geolocation({"longitude": 116.871234, "latitude": 39.805678, "accuracy": 8})
    s.login(town.user(Role.GRID_LEADER).username)
    page = s.go(f"/cases/{unplaced.pk}/")
    with page.expect_navigation():  # saved, then the page reloads with the pin
        page.locator("[data-pick='gps']").click()
    unplaced.refresh_from_db()
    assert (unplaced.lng, unplaced.lat) == (Decimal("116.871234"), Decimal("39.805678"))
    config = page.evaluate("JSON.parse(document.getElementById('case-map-config').textContent)")
    gcj = geo.wgs84_to_gcj02(116.871234, 39.805678)
    assert config["crs"] == "gcj02" and config["point"] == [round(gcj[0], 6), round(gcj[1], 6)]
    assert Case.objects.get(pk=unplaced.pk).events.filter(action="edited", note="手机定位（精度约 8 米）").count() == 1
    assert s.errors == []
    s.context.close()
