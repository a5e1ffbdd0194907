"""The command centre's desk in a real browser at 375 and 1280 px (issue 16), with screenshots under
``test-artifacts/screenshots/desk-*``: caller history as the phone is typed, no grid chosen on log-a-case,
the intake queues with bulk dispatch, the case page opening the step it waits for, the phone revealed to
the handler, the extension with its bound and old/new deadline, editing and attachments, the printable
work order, the dashboard's preset and overdue columns, and the 404 page keeping the menu."""
import datetime as dt

import pytest
from PIL import Image

from cases import services
from cases.choices import Action, Status
from cases.models import Case, CaseEvent
from grids.choices import Role
from tests import factories

from .conftest import DESKTOP, PHONE

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])


def no_sideways(s, name):
    if s.width == PHONE["width"]:
        assert s.overflow() == 0, f"{name} scrolls sideways at 375 px"
    s.shot(f"desk-{name}")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_dispatcher_logs_a_call_sees_history_and_dispatches_in_bulk(town, session, viewport):
    dora_user = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    earlier = factories.make_case(grid=town.a1, actor=dora_user, state=Status.RESOLVED, now=now - dt.timedelta(days=9),
                                  title="上次反映路灯", complainant_phone="13812345678", complainant_name="王女士")
    waiting = [factories.make_case(grid=town.a2, actor=dora_user, state=Status.RECEIVED, now=now - dt.timedelta(hours=k),
                                   title=f"待派诉求{k}") for k in (1, 2)]
    dora = session(viewport)
    page = dora.login(dora_user.username)
    page = dora.go("/cases/new/")
    page.select_option("#id_village", str(town.a.pk))
    assert page.locator("#id_grid").input_value() == ""  # §4: no grid chosen for the user
    page.fill("#id_complainant_phone", "138 1234 5678")
    history = page.get_by_test_id("caller-history")
    history.locator(f"[data-history-case='{earlier.pk}']").wait_for()
    assert "上次反映路灯" in history.inner_text()
    no_sideways(dora, "caller-history")

    page = dora.go("/intake/")
    for case in waiting:
        page.check(f"[data-testid=to-dispatch] tr[data-case='{case.pk}'] input[name=ids]")
    page.select_option("[data-testid=bulk-dispatch] select[name=grid]", str(town.a1.pk))
    no_sideways(dora, "intake")
    with page.expect_navigation():
        page.get_by_test_id("bulk-dispatch-go").click()
    assert "已完成 2 件。" in page.content()
    assert set(Case.objects.filter(pk__in=[c.pk for c in waiting]).values_list("status", flat=True)) == {"dispatched"}
    no_sideways(dora, "intake-after-bulk")

    page = dora.go(f"/cases/{waiting[0].pk}/")
    assert page.locator("details[open]").count() == 0  # after dispatching nothing waits for the dispatcher
    page.locator("#act-edit summary").click()
    page.fill("#id_edit-title", "村口路灯不亮（更正）")
    with page.expect_navigation():
        page.get_by_test_id("do-edit").click()
    assert CaseEvent.objects.get(case=waiting[0], action=Action.EDITED).data["changes"]["title"]["new"] == "村口路灯不亮（更正）"
    no_sideways(dora, "case-edited")
    dora.go(f"/cases/{waiting[0].pk}/print/")
    no_sideways(dora, "work-order")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_grid_leader_reveals_the_phone_attaches_a_photo_and_asks_a_bounded_extension(town, session, viewport, tmp_path):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED)
    gus = session(viewport)
    gus.login(town.user(Role.GRID_LEADER).username)
    page = gus.go(f"/cases/{case.pk}/")
    assert page.locator("#act-accept[data-next]").count() == 1  # the step it waits for
    assert page.get_by_test_id("phone").inner_text().startswith("138****5678")
    with page.expect_navigation():
        page.get_by_test_id("reveal-phone").click()
    assert page.get_by_test_id("phone").inner_text() == "13812345678"
    no_sideways(gus, "phone-revealed")

    photo = tmp_path / "现场.jpg"
    Image.new("RGB", (120, 80), "green").save(photo, format="JPEG")
    page.set_input_files("#id_file", str(photo))
    with page.expect_navigation():
        page.get_by_test_id("do-attach").click()
    page.locator("[data-testid=attachments] img").first.wait_for()
    no_sideways(gus, "attachment")

    page.locator("#act-extend summary").click()
    assert page.locator("#id_extend-until").get_attribute("max") is not None
    no_sideways(gus, "extension-form")
    services.request_extension(case, actor=town.user(Role.GRID_LEADER), until=case.resolve_due_at + dt.timedelta(days=3),
                               reason="等待配件")
    sam = session(viewport)
    sam.login(town.user(Role.SUPERVISOR).username)
    page = sam.go(f"/cases/{case.pk}/")
    assert page.locator("#act-approve_extension[open]").count() == 1  # §5: the approval, not reassignment
    assert page.locator("#act-dispatch[open]").count() == 0
    assert page.get_by_test_id("extension-approve_extension").is_visible()
    no_sideways(sam, "extension-approval")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_dashboard_preset_overdue_columns_and_the_404_page(town, session, viewport):
    now = dt.datetime.now(dt.UTC)
    late = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED,
                               now=now - dt.timedelta(days=9))
    services.escalate(late, actor=town.user(Role.SUPERVISOR), note="请今天办结")
    sam = session(viewport)
    sam.login(town.user(Role.SUPERVISOR).username)
    page = sam.go("/dashboard/")
    page.wait_for_function("window.xijiCharts !== undefined")
    assert page.locator(".presets .chip.active").inner_text() == "近12个月"
    assert page.get_by_test_id(f"escalations-{late.pk}").inner_text() == "1"
    no_sideways(sam, "dashboard")
    page = sam.go("/cases/999999999/")
    assert page.get_by_test_id("error-404").is_visible()
    assert page.locator("nav a[href='/dashboard/']").count() >= 1  # the menu stays
    no_sideways(sam, "404")
