"""A grid leader on a phone (375 px): logs a case found on patrol and resolves it on the spot (issue 6,
browser test a), with the form's errors shown next to the field first."""
import re

import pytest

from cases.choices import Action, Source, Status
from cases.models import Case
from grids.choices import Role

from .conftest import PHONE


@pytest.mark.django_db(transaction=True)
def test_a_grid_leader_logs_a_case_at_375px_and_resolves_it_on_the_spot(town, session):
    gus = session(PHONE)
    page = gus.login(town.user(Role.GRID_LEADER).username)
    assert page.url.endswith("/workbench/")
    assert page.get_by_text("暂无未办结的诉求").is_visible()
    gus.shot("a-workbench-empty")

    page.get_by_test_id("log-case").click()
    page.wait_for_url("**/cases/new/")
    # The grid is preset to mine; the three-level picker narrows level by level.
    assert page.locator("#id_grid").input_value() == str(town.a1.pk)
    assert page.locator("select.cat-level[data-level='2']").is_disabled()
    page.select_option("select.cat-level[data-level='1']", label="城乡建设")
    page.select_option("select.cat-level[data-level='2']", label="市容环境")
    page.select_option("select.cat-level[data-level='3']", label="垃圾清运")
    assert page.locator("#id_category").input_value() == str(town.cat_leaf.pk)
    page.select_option("#id_kind", "help")
    page.fill("#id_description", "村东头垃圾桶满溢，已三天未清运")
    assert not page.locator("#id_result").is_visible()  # the result appears only when ticked
    page.check("#id_on_the_spot")
    assert page.locator("#id_result").is_visible()
    assert gus.overflow() == 0
    gus.shot("a-case-form")

    # Submitted without the result: the error stands next to the field, nothing is logged.
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    error = page.locator("#field-result .error")
    assert error.inner_text() == "就地解决须填写办理结果。"
    assert page.locator("#id_category").input_value() == str(town.cat_leaf.pk)  # the picker kept its choice
    assert page.locator("select.cat-level[data-level='3'] option:checked").inner_text() == "垃圾清运"
    assert Case.objects.count() == 0
    gus.shot("a-case-form-error")

    page.fill("#id_result", "联系保洁员当场清运完毕")
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    case = Case.objects.get()
    assert page.url.endswith(f"/cases/{case.pk}/")
    assert page.get_by_test_id("status").inner_text() == "已办结"
    timeline = page.get_by_test_id("timeline").inner_text()
    assert re.search(r"登记 → 已受理.*办结 → 已办结", timeline, re.S)
    assert "就地解决" in timeline
    assert gus.overflow() == 0
    gus.shot("a-case-resolved")

    assert (case.status, case.source, case.grid, case.category, case.solved) == (
        Status.RESOLVED, Source.PATROL, town.a1, town.cat_leaf, True)
    assert case.result == "联系保洁员当场清运完毕" and case.title == "村东头垃圾桶满溢，已三天未清运"
    assert [e.action for e in case.events.order_by("at", "id")] == [Action.CREATED, Action.RESOLVED]
    assert case.created_by == town.user(Role.GRID_LEADER) and case.handler == town.a1.leader

    # Back on the workbench the resolved case is no longer among my open ones.
    page = gus.go("/workbench/")
    assert page.locator(".case-card").count() == 0
