"""The whole loop across three people (issue 6, browser test b): a dispatcher logs and dispatches a
hotline case, the grid leader accepts, contacts the complainant and resolves it on a phone, the
dispatcher records the callback, and the supervisor's dashboard shows the changed figures."""
import datetime as dt

import pytest

from cases import selectors
from cases.choices import Action, Satisfaction, Status
from cases.models import Case
from grids.choices import Role
from tests import factories

from .conftest import DESKTOP, PHONE

TILES = ["received", "resolved", "valid_callbacks", "response_rate", "resolution_rate", "satisfaction_rate",
         "closure_rate", "composite_score"]


def tiles(page) -> dict[str, str]:
    return {name: page.get_by_test_id(name).inner_text() for name in TILES}


def open_action(page, name: str):
    """Unfold the action's form (the next step is shown unfolded already)."""
    details = page.locator(f"#act-{name}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def pct(numerator, denominator) -> str:
    return f"{numerator / denominator * 100:.1f}%"


@pytest.mark.django_db(transaction=True)
def test_dispatch_accept_resolve_callback_and_the_dashboard_follows(town, session):
    # Earlier this month: two cases called back (satisfied; unsatisfied and unsolved), one still open.
    dora_user = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(hours=3)
    factories.make_case(grid=town.b1, actor=dora_user, state=Status.CLOSED, now=earlier)
    unhappy = factories.make_case(grid=town.b1, actor=dora_user, state=Status.RESOLVED, now=earlier)
    from cases import services
    services.callback(unhappy, actor=dora_user, contacted=True, solved=False,
                      satisfaction=Satisfaction.UNSATISFIED, now=earlier)
    factories.make_case(grid=town.b1, actor=dora_user, state=Status.DISPATCHED, now=earlier)

    sam = session(DESKTOP)
    board = sam.login(town.user(Role.SUPERVISOR).username)
    assert board.url.endswith("/dashboard/")
    before = tiles(board)
    # Independently: 3 received, 2 resolved, 2 valid callbacks (1 satisfied, 1 unsatisfied and unsolved).
    assert before == {"received": "3", "resolved": "2", "valid_callbacks": "2", "response_rate": "100.0%",
                      "resolution_rate": "50.0%", "satisfaction_rate": "50.0%", "closure_rate": pct(2, 3),
                      "composite_score": f"{10 * 1 + 45 * 0.5 + 45 * 0.5:.1f}"}
    sam.shot("b-dashboard-before")

    # The dispatcher logs a hotline case (village only) and dispatches it to micro-grid a-2.
    dora = session(DESKTOP)
    page = dora.login(dora_user.username)
    assert page.url.endswith("/intake/")
    page.click("a[href='/cases/new/']")
    page.select_option("#id_village", str(town.a.pk))
    page.select_option("#id_grid", "")
    page.select_option("#id_kind", "complaint")
    page.fill("#id_title", "小区供暖不热")
    page.fill("#id_description", "三号楼室温只有十四度")
    if page.locator("details:has(summary:has-text('诉求人'))").get_attribute("open") is None:
        page.click("summary:has-text('诉求人')")  # open by default for the command centre
    page.fill("#id_complainant_name", "王女士")
    page.fill("#id_complainant_phone", "13812345678")
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    case = Case.objects.get(title="小区供暖不热")
    assert case.status == Status.RECEIVED and case.grid is None
    assert page.get_by_test_id("phone").inner_text() == "13812345678"  # dispatchers see it whole
    dora.shot("b-case-received")

    intake = dora.go("/intake/")
    assert intake.locator(f"[data-testid=to-dispatch] tr[data-case='{case.pk}']").count() == 1
    dora.shot("b-intake")
    page = dora.go(f"/cases/{case.pk}/")
    # Searchable: the village preset narrows the grids; typing a grid's code picks it.
    options = page.locator("#id_dispatch-grid option:not([hidden])")
    assert options.count() - 1 == town.a.grids.count()  # plus the empty choice
    open_action(page, "dispatch")
    page.fill(".grid-filter", town.a2.code)
    assert page.locator("#id_dispatch-grid").input_value() == str(town.a2.pk)
    page.fill("#id_dispatch-note", "请今天联系诉求人")
    dora.shot("b-dispatch-form")
    with page.expect_navigation():
        page.get_by_test_id("do-dispatch").click()
    assert page.get_by_test_id("status").inner_text() == "已派单"
    case.refresh_from_db()
    assert case.grid == town.a2 and case.handler == town.a2.leader and case.respond_due_at is not None

    # The grid leader of a-2 on a phone: accepts, contacts the complainant, resolves.
    leader = factories.UserFactory(username="gloria", roles=[Role.GRID_LEADER])
    town.a2.leader.user = leader
    town.a2.leader.save(update_fields=["user"])
    gloria = session(PHONE)
    page = gloria.login("gloria")
    assert page.url.endswith("/workbench/")
    card = page.locator(f".case-card[data-case='{case.pk}']")
    assert card.count() == 1 and "state-normal" in card.get_attribute("class")
    assert "联系时限 剩余" in card.get_by_test_id("countdown").inner_text()
    assert gloria.overflow() == 0
    gloria.shot("b-workbench")
    card.locator("a.case-link").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert page.get_by_test_id("phone").inner_text() == "138****5678"  # grid leaders see it masked
    assert sorted(page.locator("[data-action]").evaluate_all("els => els.map(e => e.dataset.action)")) == [
        "accept", "comment", "extend", "return"]
    gloria.shot("b-case-dispatched")
    with page.expect_navigation():
        page.get_by_test_id("do-accept").click()
    open_action(page, "respond")
    page.fill("#id_respond-note", "已电话联系王女士，约今天下午上门")
    with page.expect_navigation():
        page.get_by_test_id("do-respond").click()
    assert page.get_by_test_id("status").inner_text() == "已联系"
    open_action(page, "resolve")
    page.check("#id_resolve-solved_0")
    page.fill("#id_resolve-result", "更换了三号楼暖气阀门，室温回升到二十度")
    assert gloria.overflow() == 0
    gloria.shot("b-resolve-form")
    with page.expect_navigation():
        page.get_by_test_id("do-resolve").click()
    assert page.get_by_test_id("status").inner_text() == "已办结"
    gloria.shot("b-case-resolved")

    # The dispatcher calls back: contacted, solved, basically satisfied.
    page = dora.go("/intake/")
    row = page.locator(f"[data-testid=to-call] tr[data-case='{case.pk}']")
    assert row.count() == 1
    with page.expect_navigation():
        row.locator("a").click()
    open_action(page, "callback")
    page.check("input[name='callback-satisfaction'][value='basically_satisfied']")
    page.check("input[name='callback-contacted'][value='yes']")
    page.check("input[name='callback-solved'][value='yes']")
    dora.shot("b-callback-form")
    with page.expect_navigation():
        page.get_by_test_id("do-callback").click()
    assert "回访" in page.get_by_test_id("timeline").inner_text()
    assert sorted(page.locator("[data-action]").evaluate_all("els => els.map(e => e.dataset.action)")) == [
        "close", "comment"]
    dora.shot("b-case-called-back")
    case.refresh_from_db()
    assert [e.action for e in case.events.order_by("at", "id")] == [
        Action.CREATED, Action.DISPATCHED, Action.ACCEPTED, Action.RESPONDED, Action.RESOLVED, Action.CALLBACK]
    assert (case.satisfaction, case.callback_contacted, case.callback_solved) == (
        Satisfaction.BASICALLY_SATISFIED, True, True)

    # The supervisor's dashboard now counts it: 4 received, 3 resolved, 3 valid callbacks.
    board = sam.go("/dashboard/")
    after = tiles(board)
    assert after == {"received": "4", "resolved": "3", "valid_callbacks": "3", "response_rate": "100.0%",
                     "resolution_rate": pct(2, 3), "satisfaction_rate": pct(1 + 0.9, 3), "closure_rate": pct(3, 4),
                     "composite_score": f"{10 * 1 + 45 * 2 / 3 + 45 * 1.9 / 3:.1f}"}
    town_row = selectors.rates()[0]
    assert (town_row["received"], town_row["resolved"], town_row["valid_callbacks"]) == (4, 3, 3)
    village_row = board.locator(f"[data-testid=village-table] tr[data-key='{town.a.code}']")
    assert village_row.locator("td").nth(2).inner_text() == "1"  # received in village a
    sam.shot("b-dashboard-after")
