"""The hotspot pages (高频难点, issue 11) in a real browser at 375 and 1280 px: a supervisor finds the street
lamp that four callers reported, sees its sparkline and cases, and watches it. Screenshots:
``test-artifacts/screenshots/hotspots-*``."""
import datetime as dt

import pytest

from cases.models import Category, Hotspot
from cases.text import hotspots
from grids.choices import Role
from tests import factories

from .conftest import DESKTOP, PHONE

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_a_supervisor_finds_watches_and_opens_a_hotspot(town, session, viewport, category_model):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=6)
    category = Category.objects.filter(parent__isnull=True).first()
    lamps = [factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), now=start + dt.timedelta(days=k),
                                 title=title, description="村口东侧的路灯晚上不亮，行人看不清路，请尽快维修路灯",
                                 category=category, complainant_phone=f"1380000000{k}")
             for k, title in enumerate(["村口路灯不亮", "村口的路灯坏了不亮", "村口路灯一直不亮", "村口路灯又不亮了"])]
    hotspots.find_hotspots()
    spot = Hotspot.objects.get()

    sue = session(viewport)
    page = sue.login(town.user(Role.SUPERVISOR).username)
    page = sue.go("/hotspots/")
    row = page.locator(f"tr[data-hotspot='{spot.pk}']")
    assert row.locator("svg.sparkline polyline").count() == 1
    assert "新发现" in row.inner_text()
    if sue.width == PHONE["width"]:
        assert sue.overflow() == 0, "the hotspot list scrolls sideways at 375 px"
    sue.shot("hotspots-list")
    with page.expect_navigation():
        row.locator("a").first.click()
    for case in lamps:
        page.locator(f"[data-testid=hotspot-cases] a[href='/cases/{case.pk}/']").wait_for()
    with page.expect_navigation():
        page.get_by_test_id("hotspot-watch").click()
    assert page.get_by_test_id("hotspot-status").inner_text() == "关注中"
    if sue.width == PHONE["width"]:
        assert sue.overflow() == 0, "the hotspot page scrolls sideways at 375 px"
    sue.shot("hotspots-detail")
    spot.refresh_from_db()
    assert spot.status == "watching"


@pytest.mark.django_db(transaction=True)
def test_a_proactive_case_is_raised_from_a_hotspot_spread_over_villages(town, session, category_model):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=6)
    category = Category.objects.filter(parent__isnull=True).first()
    for k, (grid, title) in enumerate([(town.a1, "村口路灯不亮"), (town.b1, "村口的路灯坏了不亮"),
                                       (town.a2, "村口路灯一直不亮"), (town.b1, "村口路灯又不亮了")]):
        factories.make_case(grid=grid, actor=town.user(Role.DISPATCHER), now=start + dt.timedelta(days=k), title=title,
                            description="村口东侧的路灯晚上不亮，行人看不清路，请尽快维修路灯", category=category,
                            complainant_phone=f"1380000000{k}")
    hotspots.find_hotspots()
    spot = Hotspot.objects.get()
    sue = session(DESKTOP)
    sue.login(town.user(Role.SUPERVISOR).username)
    page = sue.go(f"/hotspots/{spot.pk}/")
    page.locator("summary", has_text="未诉先办").click()
    page.select_option("select[name=village]", str(town.b.pk))
    with page.expect_navigation():
        page.get_by_test_id("hotspot-proactive").click()
    case = spot.proactive_links.get().case
    assert case.village_id == town.b.pk and case.source == "proactive"
    assert page.url.endswith(f"/cases/{case.pk}/")
