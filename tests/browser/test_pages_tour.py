"""Every page at phone (375 px) and desktop (1280 px) width, saved as screenshots under
``test-artifacts/screenshots/`` (issue 6): nothing scrolls sideways on a phone, no JavaScript error, the
countdowns are coloured normal / warned / breached, and the English switch. Also a lost race seen in the
browser: the page says so and shows the case as it now is."""
import datetime as dt

import pytest

from cases import services
from cases.choices import Action, Status
from grids.choices import Role
from grids.models import VillageAssignment
from reps import visits as gv
from reps.models import Visit
from tests import factories

from .conftest import DESKTOP, PHONE


@pytest.fixture
def scene(town):
    """Open cases of grid a-1 at each countdown state, a resolved one waiting for its callback, a
    notification, this week's visit of the cadre persona."""
    dora = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    breached = factories.make_case(grid=town.a1, actor=dora, state=Status.DISPATCHED, now=now - dt.timedelta(days=2),
                                   title="路灯不亮已两天", complainant_name="李先生")
    warned = factories.make_case(grid=town.a1, actor=dora, state=Status.ACCEPTED, now=now - dt.timedelta(hours=20),
                                 title="楼道堆物影响通行")
    normal = factories.make_case(grid=town.a1, actor=dora, state=Status.RESPONDED, now=now - dt.timedelta(hours=1),
                                 title="绿地缺少垃圾桶", urgency="general")
    resolved = factories.make_case(grid=town.a1, actor=dora, state=Status.RESOLVED, now=now - dt.timedelta(hours=5),
                                   title="井盖松动")
    factories.make_case(grid=town.a2, actor=dora, state=Status.RECEIVED, now=now, title="供暖不热（待派单）")
    services.escalate(breached, actor=town.user(Role.SUPERVISOR), note="请今天办结")
    gv.plan_week(gv.current_week(now), now=now)
    visit = Visit.objects.filter(cadre=VillageAssignment.objects.get(village=town.a).cadre).first()
    return {"breached": breached, "warned": warned, "normal": normal, "resolved": resolved, "visit": visit}


def tour(s, pages: list[tuple[str, str]]):
    for name, path in pages:
        page = s.go(path)
        if "dashboard" in path and "villages" not in path:
            page.wait_for_function("window.xijiCharts !== undefined")
        assert page.locator("main").count() == 1
        if s.width == PHONE["width"]:
            assert s.overflow() == 0, f"{path} scrolls sideways at 375 px"
        s.shot(name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_every_page_at_phone_and_desktop_width(town, scene, session, viewport):
    visitor = session(viewport)
    page = visitor.go("/login/")
    visitor.shot("login")

    gus = session(viewport)
    gus.login(town.user(Role.GRID_LEADER).username)
    tour(gus, [("workbench", "/workbench/"), ("case-form", "/cases/new/"),
               ("case-detail", f"/cases/{scene['breached'].pk}/"), ("notifications", "/notifications/"),
               ("case-list", "/cases/")])
    page = gus.go("/workbench/")
    states = page.locator(".case-card").evaluate_all(
        "els => els.map(e => [e.dataset.case, ['normal','warned','breached'].find(s => e.classList.contains('state-' + s))])")
    assert states == [[str(scene["breached"].pk), "breached"], [str(scene["warned"].pk), "warned"],
                      [str(scene["normal"].pk), "normal"]]
    assert page.locator(".case-card .cd-text").first.inner_text().startswith("已超时 1天")

    cai = session(viewport)
    cai.login(town.user(Role.CADRE).username)
    tour(cai, [("visits", "/visits/"), ("visit-record", f"/visits/{scene['visit'].pk}/record/"),
               ("visit-case-form", f"/cases/new/?visit={scene['visit'].pk}")])

    dora = session(viewport)
    dora.login(town.user(Role.DISPATCHER).username)
    tour(dora, [("intake", "/intake/"), ("case-callback", f"/cases/{scene['resolved'].pk}/")])

    sam = session(viewport)
    sam.login(town.user(Role.SUPERVISOR).username)
    tour(sam, [("dashboard", "/dashboard/"), ("village", f"/dashboard/villages/{town.a.pk}/"),
               ("village-cases", f"/cases/?grid={town.a1.pk}")])

    dev = session(viewport)
    dev.login(town.user(Role.DEPUTY).username)
    tour(dev, [("deputy-demands", "/demands/"), ("deputy-cases", "/cases/")])

    nobody = factories.UserFactory(username="newcomer")
    new = session(viewport)
    new.login(nobody.username)
    tour(new, [("no-role", "/no-role/")])


@pytest.mark.django_db(transaction=True)
def test_the_english_switch_on_a_phone(town, scene, session):
    gus = session(PHONE)
    page = gus.login(town.user(Role.GRID_LEADER).username)
    assert page.locator("h1").inner_text() == "我的待办"
    with page.expect_navigation():
        page.get_by_test_id("lang-en").click()
    assert page.url.endswith("/workbench/")
    assert page.locator("h1").inner_text() == "My open cases"
    assert page.locator(".case-card .cd-text").first.inner_text().startswith("overdue by 1d")
    gus.shot("workbench-english")
    page = gus.go(f"/cases/{scene['warned'].pk}/")
    assert page.get_by_test_id("status").inner_text() == "Accepted"
    gus.shot("case-detail-english")
    page = gus.go("/cases/new/")
    page.fill("#id_description", "")
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    assert page.locator("#field-description .error").inner_text() == "Give a title or a description."
    gus.shot("case-form-error-english")


@pytest.mark.django_db(transaction=True)
def test_a_lost_race_in_the_browser_shows_the_case_as_it_now_is(town, scene, session):
    gus = session(PHONE)
    gus.login(town.user(Role.GRID_LEADER).username)
    case = scene["breached"]
    page = gus.go(f"/cases/{case.pk}/")
    # Meanwhile the village leader signs for it from another phone.
    services.accept(case, actor=town.user(Role.VILLAGE_LEADER))
    with page.expect_navigation():
        page.get_by_test_id("do-accept").click()
    assert page.url.endswith(f"/cases/{case.pk}/")
    assert "已被他人更改（现为“已签收”）" in page.locator(".msg").inner_text()
    assert page.get_by_test_id("status").inner_text() == "已签收"
    assert page.get_by_test_id("do-accept").count() == 0 and page.get_by_test_id("do-respond").count() == 1
    gus.shot("lost-race")
    assert case.events.filter(action=Action.ACCEPTED).count() == 1  # only the village leader's
