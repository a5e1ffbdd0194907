"""The defects of issue 16 and the desk features not yet driven elsewhere, in a real browser at 375 and
1280 px, with screenshots under ``test-artifacts/screenshots/defect-*`` and ``build-*``.

Covered elsewhere (both widths): defect 3 (test_receptions), 4, 6 and the 404 page of 8 (test_desk), the
approval opened for a supervisor of 5 (test_desk); builds 1 (caller history), 2, 3 (bulk dispatch), 4 and
6 (receptions) in test_desk and test_receptions. Here: 1 the web login's lockout, 2 the extension's bound
and the approval's old and new deadline with the year, 5 close opened after a satisfied callback and the
same-grid re-dispatch refused, 7 a resent and a double-tapped create form making one case, 8 field errors,
category order, the same user's other tab and weeks read as dates, 9 the export's Chinese file and sheet
names with the period and ``/api/schema/`` shown in the browser, 10 a Monday visit read as overdue on
Wednesday before the nightly marking; builds 1 (search by complainant), 3 (queue filters, imported cases
kept out, bulk close), 5 (the case list's filters, columns, saved filters and export), 6 (a deputy's demand
through its five steps), 7 (the work order and the monthly report printed on A4) and 8 (presets, the
overdue list's handler and escalations)."""
import datetime as dt
import io
import re
import zoneinfo
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook

from cases import forms as case_forms
from cases import services
from cases.choices import Action, Satisfaction, Status
from cases.models import Case, CaseEvent
from grids.choices import Role
from grids.models import LoginFailure, VillageAssignment
from reps import visits as gv
from reps.models import Visit
from tests import factories

from .conftest import DESKTOP, PHONE, SCREENSHOTS

VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
SH = zoneinfo.ZoneInfo("Asia/Shanghai")
A4_POINTS = (595, 842)  # 210 × 297 mm at 72 points per inch, rounded
A4_CONTENT_PX = round(180 / 25.4 * 96)  # the printable width inside the 15 mm margins (@page in app.css)


def seen(s, name):
    """At 375 px nothing scrolls sideways; then the screenshot ``<name>-<width>.png``."""
    if s.width == PHONE["width"]:
        assert s.overflow() == 0, f"{name} scrolls sideways at 375 px"
    s.shot(name)


def open_action(page, name: str):
    details = page.locator(f"#act-{name}")
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def shown(moment: dt.datetime, this_year: int) -> str:
    """A deadline as people should read it: month-day time this year, with the year otherwise."""
    local = moment.astimezone(SH)
    return f"{local:%m-%d %H:%M}" if local.year == this_year else f"{local:%Y-%m-%d %H:%M}"


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_01_eight_wrong_passwords_then_the_right_one_is_refused(town, session, viewport):
    # A login of its own per width: the throttle's counters outlive a test (they are in the cache).
    user = factories.UserFactory(username=f"lockout-{viewport['width']}", roles=[Role.DISPATCHER])
    s = session(viewport)
    page = s.go("/login/")
    for attempt in range(8):
        page.fill("#id_username", user.username)
        page.fill("#id_password", f"wrong-{attempt}")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url.endswith("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", factories.PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/login/")  # the right password too: locked out
    text = page.locator("main").inner_text()
    assert re.search(r"登录失败次数过多，已暂时锁定。请 \d+ 秒后再试。", text), text
    assert page.locator("#id_password").input_value() == ""
    seen(s, "defect-01-login-throttle")
    assert page.request.get(s.base_url + "/intake/", max_redirects=0).status == 302  # still not logged in
    failures = LoginFailure.objects.filter(username=user.username)
    assert failures.count() >= 8 and failures.filter(locked=True).exists()
    assert {f.way for f in failures} == {"web"} and all(f.address for f in failures)


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_02_an_extension_far_ahead_is_refused_and_the_approval_shows_both_deadlines_with_years(
        town, session, viewport):
    with time_machine.travel(dt.datetime(2026, 12, 28, 10, 0, tzinfo=SH), tick=True):
        case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED)
        latest = services.latest_extension_until(case)
        gus = session(viewport)
        gus.login(town.user(Role.GRID_LEADER).username)
        page = gus.go(f"/cases/{case.pk}/")
        open_action(page, "extend")
        field = page.locator("#id_extend-until")
        assert field.get_attribute("max") == case_forms.local_input(latest)
        field.fill("2099-01-01T10:00")
        page.fill("#id_extend-reason", "等待配件")
        assert field.evaluate("el => el.validity.rangeOverflow")  # the browser itself says no
        # Past the browser's own check (an old browser, a tampered page): the server refuses it next to the field.
        field.evaluate("el => el.removeAttribute('max')")
        with page.expect_navigation():
            page.get_by_test_id("do-extend").click()
        error = page.locator("#act-extend p.error[role=alert]").inner_text()
        assert "延期时间不能晚于" in error and latest.astimezone(SH).strftime("%Y-%m-%d %H:%M") in error
        assert page.input_value("#id_extend-reason") == "等待配件"
        case.refresh_from_db()
        assert case.extension_requested_until is None
        seen(gus, "defect-02-extension-refused")

        until = case.resolve_due_at + dt.timedelta(days=3)
        page.fill("#id_extend-until", case_forms.local_input(until))
        with page.expect_navigation():
            page.get_by_test_id("do-extend").click()
        case.refresh_from_db()
        assert case.extension_requested_until == until

        sam = session(viewport)
        sam.login(town.user(Role.SUPERVISOR).username)
        page = sam.go(f"/cases/{case.pk}/")
        assert page.locator("#act-approve_extension[open]").count() == 1
        box = page.get_by_test_id("extension-approve_extension")
        values = box.locator("dd").all_inner_texts()
        assert values[0] == shown(case.resolve_due_at, 2026) and values[1] == shown(until, 2026)
        assert values[1].startswith("2027-")  # not this year: with its year
        assert values[2] == "等待配件"
        seen(sam, "defect-02-extension-approval")
        with page.expect_navigation():
            page.get_by_test_id("do-approve_extension").click()
        case.refresh_from_db()
        assert case.resolve_due_at == until and case.extension_requested_until is None


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_05_close_opens_after_a_satisfied_callback_and_the_same_grid_is_refused(town, session, viewport):
    dora_user = town.user(Role.DISPATCHER)
    called = factories.make_case(grid=town.a1, actor=dora_user, state=Status.RESOLVED, title="井盖松动")
    services.callback(called, actor=dora_user, contacted=True, solved=True, satisfaction=Satisfaction.SATISFIED)
    sent = factories.make_case(grid=town.a1, actor=dora_user, state=Status.DISPATCHED, title="路灯不亮")
    dora = session(viewport)
    dora.login(dora_user.username)
    page = dora.go(f"/cases/{called.pk}/")
    assert page.locator("details[open]").evaluate_all("els => els.map(e => e.id)") == ["act-close"]
    assert page.locator("#act-close[data-next]").count() == 1
    seen(dora, "defect-05-close-opens")

    page = dora.go(f"/cases/{sent.pk}/")
    open_action(page, "dispatch")
    assert page.locator("#id_dispatch-grid").input_value() == str(town.a1.pk)  # the grid it already has
    with page.expect_navigation():
        page.get_by_test_id("do-dispatch").click()
    message = page.locator("#field-dispatch-grid .error").inner_text()
    assert f"已派往 {town.a1}，不能重复派往同一微网格" in message, message  # 村·微网格
    assert CaseEvent.objects.filter(case=sent, action=Action.DISPATCHED).count() == 1
    seen(dora, "defect-05-same-grid-refused")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_07_a_double_tapped_and_resent_create_form_makes_one_case(town, session, viewport):
    title = f"重复提交的诉求{viewport['width']}"
    dora = session(viewport)
    dora.login(town.user(Role.DISPATCHER).username)
    page = dora.go("/cases/new/")
    page.select_option("#id_village", str(town.a.pk))
    page.select_option("#id_kind", "complaint")
    page.fill("#id_title", title)
    page.fill("#id_description", "同一表单连点两次提交")
    seen(dora, "defect-07-create-form")
    # A lost answer, resent: the same form posted twice answers the first result both times.
    answers = page.evaluate("""async () => {
        const form = document.querySelector('[data-testid=case-form]');
        const body = new URLSearchParams(new FormData(form));
        const out = [];
        for (let i = 0; i < 2; i++) {
          const r = await fetch(form.action, {method: 'POST', body, credentials: 'same-origin'});
          out.push([r.status, new URL(r.url).pathname, r.headers.get('Idempotent-Replayed')]);
        }
        return out;
    }""")
    case = Case.objects.get(title=title)
    assert [a[:2] for a in answers] == [[200, f"/cases/{case.pk}/"]] * 2
    # And the user's double tap on the same form (same token): still that one case, its page shown.
    page.get_by_test_id("submit-case").dblclick()
    page.wait_for_url(f"**/cases/{case.pk}/")
    page.get_by_test_id("status").wait_for()
    assert page.get_by_test_id("status").inner_text() == "已受理"
    assert Case.objects.filter(title=title).count() == 1
    assert CaseEvent.objects.filter(case=case, action=Action.CREATED).count() == 1
    seen(dora, "defect-07-one-case")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_09_export_file_names_carry_the_period_and_the_schema_reads_in_the_browser(town, session, viewport):
    factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.CLOSED)
    sam = session(viewport)
    sam.login(town.user(Role.SUPERVISOR).username)
    page = sam.go("/dashboard/?start=2026-01-01&end=2026-12-31")
    page.wait_for_function("window.xijiCharts !== undefined")
    with page.expect_download() as download:
        page.get_by_test_id("xlsx-villages").click()
    name = download.value.suggested_filename
    assert re.fullmatch(r"[^\x00-\x7f]+_2026-01-01至2026-12-31_[^\x00-\x7f]+\.xlsx", name), name
    with page.expect_download() as download:
        page.get_by_test_id("csv-villages").click()
    assert download.value.suggested_filename == name[:-len("xlsx")] + "csv"
    with page.expect_download() as download:
        page.get_by_test_id("xlsx-villages").click()
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert "2026-01-01至2026-12-31" in book.sheetnames[0]
    seen(sam, "defect-09-dashboard-downloads")

    response = page.goto(sam.base_url + "/api/schema/")
    assert response.headers["content-type"].startswith("text/plain")
    # inline, and a file name a browser can read (RFC 6266), not a MIME encoded word
    assert response.headers["content-disposition"].startswith("inline; filename*=utf-8''")
    assert response.headers["content-disposition"].endswith(".yaml")
    body = page.locator("body").inner_text()
    assert body.startswith("openapi:") and "/api/v1/cases/" in body
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the first screenful: the whole schema is ~10,000 lines
    page.screenshot(path=str(SCREENSHOTS / f"defect-09-api-schema-{sam.width}.png"))


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_10_a_monday_visit_reads_overdue_on_wednesday_before_the_nightly_marking(town, session, viewport):
    wednesday = dt.datetime(2026, 12, 2, 10, 0, tzinfo=SH)  # ISO week 2026-W49: Monday 11-30 to Sunday 12-06
    with time_machine.travel(wednesday, tick=True):
        gv.plan_week("2026-W49", now=wednesday)
        cadre = VillageAssignment.objects.get(village=town.a).cadre
        visit = Visit.objects.get(cadre=cadre, village=town.a, iso_week="2026-W49")
        assert visit.planned_date == dt.date(2026, 11, 30) and visit.status == "planned"
        cai = session(viewport)
        page = cai.login(town.user(Role.CADRE).username)
        assert page.get_by_test_id(f"visit-state-{visit.pk}").inner_text() == "逾期未记录"  # the workbench panel
        seen(cai, "defect-10-workbench-visit-overdue")
        page = cai.go("/visits/")
        card = page.locator(f"[data-visit='{visit.pk}']")
        assert card.get_by_test_id(f"visit-state-{visit.pk}").inner_text() == "逾期未记录"
        assert "11月30日–12月6日" in card.inner_text()  # defect 8: the week read as dates, not 2026-W49
        assert "W49" not in card.inner_text()
        assert card.get_by_test_id(f"record-{visit.pk}").is_visible()  # still recordable
        seen(cai, "defect-10-visits-overdue")

    monday = dt.datetime(2026, 11, 30, 10, 0, tzinfo=SH)
    with time_machine.travel(monday, tick=True):
        page = cai.go("/visits/")
        assert page.get_by_test_id(f"visit-state-{visit.pk}").inner_text() == "今日走访"
        seen(cai, "defect-10-visits-due")
    assert Visit.objects.get(pk=visit.pk).status == "planned"  # nothing was marked: only read so


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_build_05_the_case_list_filters_saves_the_filter_and_exports_it(town, session, viewport):
    dora_user = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    late = factories.make_case(grid=town.a1, actor=dora_user, state=Status.DISPATCHED, now=now - dt.timedelta(days=9),
                               title="积水未排", urgency="emergency", complainant_name="赵大爷",
                               complainant_phone="13900001111")
    factories.make_case(grid=town.a2, actor=dora_user, state=Status.DISPATCHED, title="噪音扰民", urgency="general")
    dora = session(viewport)
    dora.login(dora_user.username)
    page = dora.go("/cases/")
    assert page.locator("[data-testid=case-list] tbody tr").count() == 2
    page.locator("details.more-filters summary").click()
    page.fill("#id_complainant_phone", "13900001111")  # build 1: search by the complainant's phone
    with page.expect_navigation():
        page.locator("[data-testid=list-filters] button[type=submit]").click()
    rows = page.locator("[data-testid=case-list] tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-case") == str(late.pk)
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[3] == "紧急" and cells[5] == town.a1.leader.name and cells[8] == "超时"
    page.once("dialog", lambda dialog: dialog.accept("赵大爷来电"))
    page.get_by_test_id("save-filter").click()
    saved = page.get_by_test_id("saved-filters").locator("a", has_text="赵大爷来电")
    assert "complainant_phone=13900001111" in saved.get_attribute("href")
    seen(dora, "build-05-case-list-filtered")

    page = dora.go("/cases/")  # the saved filter survives a new visit to the page
    with page.expect_navigation():
        page.get_by_test_id("saved-filters").locator("a", has_text="赵大爷来电").click()
    assert page.locator("[data-testid=case-list] tbody tr").count() == 1
    page.fill("[data-testid=list-filters] input[name=q]", "")
    with page.expect_download() as download:
        page.get_by_test_id("list-downloads").locator("a", has_text="CSV").click()
    assert download.value.suggested_filename.startswith("诉求列表_")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert late.number in text and "噪音扰民" not in text and "13900001111" not in text  # no phone exported

    page = dora.go(f"/cases/?complainant_name={late.complainant_name}")  # build 1: by name
    assert page.locator("[data-testid=case-list] tbody tr").count() == 1


def pdf_page_size(path: Path) -> tuple[int, int]:
    match = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", path.read_bytes())
    assert match, "no page size in the PDF"
    return round(float(match[1])), round(float(match[2]))


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_build_07_the_work_order_and_the_monthly_report_print_on_a4(town, session, viewport):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED,
                               title="路灯不亮（派单单）")
    sam = session(viewport)
    sam.login(town.user(Role.SUPERVISOR).username)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path, testid, needle in [
            ("build-07-work-order", f"/cases/{case.pk}/print/", "work-order", case.number),
            ("build-07-monthly-report", "/dashboard/report/", "monthly-report", "月度三率通报")]:
        page = sam.go(path)
        sheet = page.get_by_test_id(testid)
        assert needle in sheet.inner_text()
        seen(sam, name)
        page.emulate_media(media="print")
        assert page.locator("nav").first.is_hidden() and page.locator(".no-print").first.is_hidden()
        sam.shot(f"{name}-print")
        pdf = SCREENSHOTS / f"{name}-{sam.width}.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        assert pdf_page_size(pdf) == A4_POINTS
        # On A4 (210 mm less 2 × 15 mm margins = 680 CSS px) nothing is cut off at the right.
        page.set_viewport_size({"width": A4_CONTENT_PX, "height": 1000})
        assert page.evaluate("document.documentElement.scrollWidth") <= A4_CONTENT_PX
        assert page.locator(".table-wrap").evaluate_all(
            "els => els.filter(e => e.scrollWidth > e.clientWidth).length") == 0
        page.set_viewport_size(viewport)
        page.emulate_media(media="screen")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_defect_08_chinese_wording_field_errors_categories_and_the_same_users_other_tab(town, session, viewport):
    from cases.seeding import seed_categories

    seed_categories()
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED)
    gus = session(viewport)
    page = gus.login(town.user(Role.GRID_LEADER).username)
    page = gus.go("/cases/new/")
    top = page.locator("select.cat-level[data-level='1'] option").all_inner_texts()[1:]  # after the empty choice
    assert top[:3] == ["城乡建设", "党务政务", "国土资源"]  # pinyin (cheng, dang, guo), not code point order
    page.select_option("select.cat-level[data-level='1']", label="城乡建设")
    page.select_option("select.cat-level[data-level='2']", label="城市建设和市政管理")
    leaves = page.locator("select.cat-level[data-level='3'] option").all_inner_texts()[1:]
    assert len(leaves) >= 3 and leaves[-1] == "其他" and leaves.count("其他") == 1  # last, not second
    page.select_option("#id_kind", "complaint")
    page.locator("#id_title").evaluate("el => el.removeAttribute('maxlength')")
    page.fill("#id_title", "长" * 201)
    page.fill("#id_description", "标题太长")
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    assert page.locator("#field-title p.error").inner_text() == "标题最多 200 个字（现有 201 个字）。"
    assert "变量" not in page.locator("main").inner_text()
    seen(gus, "defect-08-field-error")

    # The same user in two tabs: the second tab's accept says it was this user, elsewhere.
    first = gus.go(f"/cases/{case.pk}/")
    second = gus.context.new_page()
    second.goto(gus.base_url + f"/cases/{case.pk}/")
    with first.expect_navigation():
        first.get_by_test_id("do-accept").click()
    assert first.get_by_test_id("status").inner_text() == "已签收"
    with second.expect_navigation():
        second.get_by_test_id("do-accept").click()
    message = second.locator(".msg").inner_text()
    assert "您已在其他窗口处理过诉求" in message and "他人" not in message, message
    gus.page = second
    seen(gus, "defect-08-other-tab")
    assert CaseEvent.objects.filter(case=case, action=Action.ACCEPTED).count() == 1


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_build_03_the_queues_filter_keep_imported_cases_out_and_close_in_bulk(town, session, viewport):
    dora_user = town.user(Role.DISPATCHER)
    now = dt.datetime.now(dt.UTC)
    urgent = factories.make_case(grid=town.a1, actor=dora_user, now=now - dt.timedelta(hours=3), title="水管爆裂",
                                 urgency="emergency")
    factories.make_case(grid=town.a2, actor=dora_user, now=now - dt.timedelta(hours=2), title="树枝挡路",
                        urgency="general")
    live = [factories.make_case(grid=town.a1, actor=dora_user, state=Status.RESOLVED, now=now - dt.timedelta(hours=k),
                                title=f"待回访{k}") for k in (1, 2)]
    old = factories.make_case(grid=town.a1, actor=dora_user, state=Status.RESOLVED, now=now - dt.timedelta(days=400),
                              title="历史导入的旧诉求")
    Case.objects.filter(pk=old.pk).update(imported=True)
    dora = session(viewport)
    page = dora.login(dora_user.username)
    assert page.url.endswith("/intake/")
    calls = page.locator("[data-testid=to-call] tbody tr[data-case]")
    assert sorted(calls.evaluate_all("els => els.map(e => +e.dataset.case)")) == sorted(c.pk for c in live)
    page.select_option("[data-testid=queue-filters] select[name=urgency]", "emergency")
    with page.expect_navigation():
        page.locator("[data-testid=queue-filters] button[type=submit]").click()
    rows = page.locator("[data-testid=to-dispatch] tbody tr[data-case]")
    assert rows.evaluate_all("els => els.map(e => +e.dataset.case)") == [urgent.pk]
    assert rows.first.get_by_test_id("waiting").inner_text().startswith("3")  # 3 小时…
    assert rows.first.get_by_test_id("dispatch-due").inner_text() != "—"
    seen(dora, "build-03-intake-filtered")

    page = dora.go("/intake/?imported=all")
    assert page.locator(f"[data-testid=to-call] tr[data-case='{old.pk}']").count() == 1
    page = dora.go("/intake/")
    for case in live:
        page.check(f"[data-testid=to-call] tr[data-case='{case.pk}'] input[name=ids]")
    with page.expect_navigation():
        page.locator("[data-testid=bulk-callback] button[value=callback_not_needed]").click()
    assert "已完成 2 件。" in page.locator(".msg").first.inner_text()
    assert set(Case.objects.filter(pk__in=[c.pk for c in live]).values_list("status", flat=True)) == {"closed"}
    assert page.get_by_text("没有待回访的诉求。").is_visible()
    assert Case.objects.get(pk=old.pk).status == "resolved"  # the imported one untouched
    seen(dora, "build-03-callbacks-closed")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_build_06_a_deputy_logs_a_demand_follows_it_up_and_rates_it_through_its_five_steps(town, session, viewport):
    from reps import services as reps_services
    from reps.models import Deputy
    from reps.seeding import seed_stations

    seed_stations()
    deputy = reps_services.link_login(Deputy.objects.get(code="LS01-1"), town.user(Role.DEPUTY))
    dev = session(viewport)
    dev.login(deputy.user.username)
    page = dev.go("/cases/new/")
    assert page.locator("#id_source option").evaluate_all("els => els.map(e => e.value)") == ["deputy"]
    village = page.locator("#id_village option").evaluate_all("els => els.map(e => e.value).filter(v => v)")[0]
    page.select_option("#id_village", village)
    page.select_option("#id_kind", "help")
    page.fill("#id_title", "村口道路坑洼")
    page.fill("#id_description", "居民在联络站反映：村口道路坑洼，雨天积水")
    with page.expect_navigation():
        page.get_by_test_id("submit-case").click()
    case = Case.objects.get(title="村口道路坑洼")
    assert case.source == "deputy"

    def steps(page):
        return page.get_by_test_id(f"loop-{case.pk}").locator("li").evaluate_all(
            "els => els.map(e => [e.dataset.step, e.classList.contains('done')])")

    page = dev.go("/demands/")
    first = steps(page)
    assert len(first) == 5 and first[0][1] and not any(done for _step, done in first[1:])
    page.locator(f"#demand-{case.pk} details summary", has_text="跟踪督办").click()
    page.fill(f"#demand-{case.pk} textarea[name=note]", "请尽快安排修补")
    with page.expect_navigation():
        page.get_by_test_id(f"follow-up-{case.pk}").click()
    assert "已记录跟踪督办意见。" in page.locator(".msg").inner_text()
    seen(dev, "build-06-demand-followed-up")

    dora = town.user(Role.DISPATCHER)
    grid = case.village.grids.order_by("code").first()
    for step in (lambda c: services.dispatch(c, actor=dora, grid=grid), lambda c: services.accept(c, actor=dora),
                 lambda c: services.respond(c, actor=dora, note="已联系"),
                 lambda c: services.resolve(c, actor=dora, solved=True, result="已修补路面")):
        case = step(Case.objects.get(pk=case.pk))
    page = dev.go("/demands/")
    page.select_option(f"#demand-{case.pk} select[name=satisfaction]", "satisfied")
    page.fill(f"#demand-{case.pk} details[open] textarea[name=note]", "路面已修好")
    with page.expect_navigation():
        page.get_by_test_id(f"evaluate-{case.pk}").click()
    assert "已评价。" in page.locator(".msg").inner_text()
    assert all(done for _step, done in steps(page))
    assert page.get_by_test_id(f"evaluate-{case.pk}").count() == 0
    case.refresh_from_db()
    assert (case.satisfaction, case.callback_solved) == (Satisfaction.SATISFIED, True)
    seen(dev, "build-06-demand-evaluated")


@pytest.mark.django_db(transaction=True)
@VIEWPORTS
def test_build_08_the_dashboard_presets_differ_and_the_overdue_list_names_the_handler(town, session, viewport):
    june = dt.datetime(2026, 6, 15, 10, 0, tzinfo=SH)  # mid-year: the last 12 months and this year differ
    with time_machine.travel(june, tick=True):
        late = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED,
                                   now=june - dt.timedelta(days=9), title="路灯不亮九天")
        sam = session(viewport)
        page = sam.login(town.user(Role.SUPERVISOR).username)
        page.wait_for_function("window.xijiCharts !== undefined")
        chips = page.locator(".presets .chip")
        hrefs = chips.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert len(set(hrefs)) == len(hrefs)  # no two presets are the same period
        assert page.locator(".presets .chip.active").inner_text() == "近12个月"
        row = page.locator(f"[data-testid=overdue-table] tr[data-case='{late.pk}']")
        assert row.locator("td").nth(4).inner_text() == town.a1.leader.name
        assert page.get_by_test_id(f"escalations-{late.pk}").inner_text() == "0"
        row.locator("details.escalate summary").click()
        row.locator("textarea[name=escalate-note]").fill("请今天办结")
        with page.expect_navigation():
            page.get_by_test_id(f"escalate-{late.pk}").click()
        page.wait_for_function("window.xijiCharts !== undefined")
        assert page.get_by_test_id(f"escalations-{late.pk}").inner_text() == "1"
        assert page.locator(".presets .chip.active").inner_text() == "近12个月"  # the period kept
        seen(sam, "build-08-dashboard-escalated")

        with page.expect_navigation():
            chips.filter(has_text="今年").click()
        page.wait_for_function("window.xijiCharts !== undefined")
        assert page.locator(".presets .chip.active").inner_text() == "今年"
        assert "start=2026-01-01" in page.url and page.input_value("#id_start") == "2026-01-01"
        seen(sam, "build-08-dashboard-this-year")
