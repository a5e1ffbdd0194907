"""Issue 16 in the pages (server side): the intake queues with filters, keyset paging and bulk actions; the
case page opening the step the case waits for (§5), the phone reveal (§6), the bounded extension shown
with old and new deadline (§2), editing at intake, attachments, the printable work order, the form's
idempotency token (§7), no grid chosen for the user (§4), and "changed in your other tab" (§8)."""
import datetime as dt
import io
import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import services
from cases.choices import Action, Satisfaction, Status
from cases.models import Case, CaseEvent
from grids.choices import Role

from . import factories

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def login(client, town, role):
    client.force_login(town.user(role))
    return client


def make(town, state, grid=None, **kw):
    return factories.make_case(grid=grid or town.a1, actor=town.user(Role.DISPATCHER), state=state, now=T0, **kw)


def opened(html: str) -> list[str]:
    """The actions the case page puts forward: a <details> open, or a one-button action marked next."""
    return (re.findall(r'<details class="action[^"]*" id="act-[a-z_]+" data-action="([a-z_]+)" open', html)
            + re.findall(r'<form [^>]*class="inline-action next" id="act-[a-z_]+" data-action="([a-z_]+)" data-next', html))


def listed(html: str, testid: str) -> list[int]:
    section = html.split(f'data-testid="{testid}"')[1].split("</section>")[0]
    return [int(pk) for pk in re.findall(r'data-case="(\d+)"', section)]


# --- §5: the page opens the step the case waits for, for the role looking ---------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "state", "extension", "expected"), [
    (Role.SUPERVISOR, Status.DISPATCHED, True, ["approve_extension"]),  # came to approve, not to reassign
    (Role.DISPATCHER, Status.DISPATCHED, False, []),  # after dispatching: nothing waits for the dispatcher
    (Role.DISPATCHER, Status.RECEIVED, False, ["dispatch"]),
    (Role.GRID_LEADER, Status.DISPATCHED, False, ["accept"]),
    (Role.GRID_LEADER, Status.ACCEPTED, False, ["respond"]),
    (Role.DISPATCHER, Status.RESOLVED, False, ["callback"]),
    (Role.DISPATCHER, Status.CLOSED, False, []),
])
def test_the_case_page_opens_the_step_the_case_waits_for(client, town, role, state, extension, expected):
    case = make(town, state, extension_pending=extension)
    html = login(client, town, role).get(f"/cases/{case.pk}/").content.decode()
    assert opened(html) == expected


@pytest.mark.django_db
def test_after_a_satisfied_callback_close_is_open(client, town):
    case = make(town, Status.RESOLVED)
    services.callback(case, actor=town.user(Role.DISPATCHER), contacted=True, solved=True,
                      satisfaction=Satisfaction.SATISFIED, now=T0 + H)
    html = login(client, town, Role.DISPATCHER).get(f"/cases/{case.pk}/").content.decode()
    assert opened(html) == ["close"]


# --- §2: the approver sees old and new deadline; the request is bounded ------------------------------------


@pytest.mark.django_db
def test_the_approver_sees_the_current_and_the_requested_deadline_with_years(client, town):
    case = make(town, Status.DISPATCHED, extension_pending=True)  # asks for resolve due + 1 day
    with time_machine.travel(dt.datetime(2026, 1, 5, 9, 0, tzinfo=SH), tick=False):  # another year: years shown
        html = login(client, town, Role.SUPERVISOR).get(f"/cases/{case.pk}/").content.decode()
    block = html.split('data-testid="extension-approve_extension"')[1].split("</dl>")[0]
    assert "2025-04-14 09:00" in block and "2025-04-15 09:00" in block
    with time_machine.travel(T0 + H, tick=False):  # the same year: month and day only
        html = client.get(f"/cases/{case.pk}/").content.decode()
    block = html.split('data-testid="extension-approve_extension"')[1].split("</dl>")[0]
    assert "04-14 09:00" in block and "2025-04-14" not in block


@pytest.mark.django_db
def test_the_extension_form_names_the_latest_date(client, town):
    case = make(town, Status.DISPATCHED)
    with time_machine.travel(T0 + H, tick=False):
        html = login(client, town, Role.GRID_LEADER).get(f"/cases/{case.pk}/").content.decode()
        refused = client.post(f"/cases/{case.pk}/do/extend/", {"extend-seen": "dispatched",
                                                               "extend-until": "2099-01-01T00:00",
                                                               "extend-reason": "等待"})
    assert 'max="2025-04-29T09:00"' in html and "最晚可延至 2025-04-29 09:00。" in html
    assert refused.status_code == 400
    assert "延期时间不能晚于 2025-04-29 09:00（当前办结时限后至多15天）。" in refused.content.decode()


# --- §6: one tap reveals the phone to the handler ----------------------------------------------------------


@pytest.mark.django_db
def test_the_handler_taps_to_reveal_and_others_see_no_button(client, town):
    case = make(town, Status.DISPATCHED)
    html = login(client, town, Role.GRID_LEADER).get(f"/cases/{case.pk}/").content.decode()
    assert "138****5678" in html and 'data-testid="reveal-phone"' in html
    shown = client.post(f"/cases/{case.pk}/reveal-phone/").content.decode()
    assert 'href="tel:13812345678"' in shown
    assert CaseEvent.objects.filter(case=case, action=Action.PHONE_REVEALED).count() == 1
    other = login(client, town, Role.VILLAGE_LEADER).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="reveal-phone"' not in other
    assert client.post(f"/cases/{case.pk}/reveal-phone/").status_code == 403


@pytest.mark.django_db
def test_the_handlers_print_shows_the_phone_whole_once_revealed_in_this_handling(client, town):
    case = make(town, Status.DISPATCHED)

    def printed(role):
        html = login(client, town, role).get(f"/cases/{case.pk}/print/").content.decode()
        return html.split('data-testid="print-phone">')[1].split("</td>")[0]

    before = printed(Role.GRID_LEADER)
    assert before.startswith("138****5678") and 'data-testid="reveal-hint"' in before
    assert client.post(f"/cases/{case.pk}/reveal-phone/").status_code == 200  # the audited reveal
    assert printed(Role.GRID_LEADER) == "13812345678"
    assert printed(Role.VILLAGE_LEADER) == "138****5678"  # no reveal right, no hint
    assert CaseEvent.objects.filter(case=case, action=Action.PHONE_REVEALED).count() == 1  # printing adds none
    # A new dispatch starts a new handling: the earlier reveal no longer unmasks the print.
    dora = town.user(Role.DISPATCHER)
    services.dispatch(case, actor=dora, grid=town.a2)
    services.dispatch(case, actor=dora, grid=town.a1)
    assert printed(Role.GRID_LEADER).startswith("138****5678")


# --- §8: the same user's other tab -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_change_made_in_my_other_tab_is_not_someone_elses(client, town):
    case = make(town, Status.RECEIVED)
    login(client, town, Role.DISPATCHER)
    first = client.post(f"/cases/{case.pk}/do/dispatch/", {"dispatch-seen": "received", "dispatch-grid": town.a1.pk},
                        follow=True)
    assert first.status_code == 200
    again = client.post(f"/cases/{case.pk}/do/cancel/", {"cancel-seen": "received", "cancel-reason": "重复"},
                        follow=True).content.decode()
    assert "您已在其他窗口处理过诉求" in again and "已被他人更改" not in again


# --- Build 2: edit on the case page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dispatcher_corrects_the_title_and_address_on_the_case_page(client, town):
    case = make(town, Status.RECEIVED, title="路灯", address="村口")
    login(client, town, Role.DISPATCHER)
    answer = client.post(f"/cases/{case.pk}/do/edit/", {
        "edit-seen": "received", "edit-kind": case.kind, "edit-urgency": case.urgency, "edit-title": "村口路灯不亮",
        "edit-address": "村口东侧", "edit-category": "", "edit-lng": "", "edit-lat": "", "edit-note": "更正"})
    assert answer.status_code == 302
    event = CaseEvent.objects.get(case=case, action=Action.EDITED)
    assert event.data["changes"] == {"title": {"old": "路灯", "new": "村口路灯不亮"},
                                     "address": {"old": "村口", "new": "村口东侧"}}


@pytest.mark.django_db
def test_an_unchanged_correction_says_there_is_nothing_to_correct_and_writes_nothing(client, town):
    case = make(town, Status.RECEIVED, title="路灯", address="村口")
    before = list(case.events.values_list("action", flat=True))
    login(client, town, Role.DISPATCHER)
    answer = client.post(f"/cases/{case.pk}/do/edit/", {
        "edit-seen": "received", "edit-kind": case.kind, "edit-urgency": case.urgency, "edit-title": "路灯",
        "edit-address": "村口", "edit-category": case.category_id or "", "edit-lng": "", "edit-lat": "",
        "edit-note": ""}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = answer.content.decode()
    assert answer.redirect_chain == [(f"/cases/{case.pk}/", 302)]
    assert '<div class="msg msg-info" role="status">没有需要更正的内容。</div>' in html
    assert "已完成" not in html
    assert list(case.events.values_list("action", flat=True)) == before
    other = "emergency" if case.urgency != "emergency" else "normal"  # an urgency change alone is a change
    answer = client.post(f"/cases/{case.pk}/do/edit/", {
        "edit-seen": "received", "edit-kind": case.kind, "edit-urgency": other, "edit-title": "路灯",
        "edit-address": "村口", "edit-category": case.category_id or "", "edit-lng": "", "edit-lat": "",
        "edit-note": ""}, follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "已完成：更正诉求信息。" in answer.content.decode()
    assert case.events.filter(action=Action.URGENCY_CHANGED).count() == 1


# --- Build 3: the queues ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_intake_filters_and_bulk_dispatch(client, town):
    a = make(town, Status.RECEIVED, urgency="emergency")
    b = make(town, Status.RECEIVED)
    other = make(town, Status.RECEIVED, grid=town.b1)
    login(client, town, Role.DISPATCHER)
    html = client.get("/intake/", {"village": town.a.pk, "urgency": "emergency"}).content.decode()
    assert listed(html, "to-dispatch") == [a.pk]
    html = client.get("/intake/", {"village": town.a.pk, "sort": "-received_at"}).content.decode()
    assert set(listed(html, "to-dispatch")) >= {a.pk, b.pk} and other.pk not in listed(html, "to-dispatch")
    done = client.post("/intake/bulk/", {"action": "dispatch", "grid": town.a2.pk, "ids": [a.pk, b.pk],
                                         "next": "/intake/"}, follow=True).content.decode()
    assert "已完成 2 件。" in done
    assert set(Case.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", "grid")) == {("dispatched", town.a2.pk)}
    refused = client.post("/intake/bulk/", {"action": "dispatch", "ids": [other.pk], "next": "/intake/"},
                          follow=True).content.decode()
    assert "批量操作未执行：请选择微网格。" in refused
    # The ticked rows come back ticked (once); the others do not.
    assert f'name="ids" value="{other.pk}" aria-label="{other.number}" checked>' in refused
    unticked = make(town, Status.RECEIVED, grid=town.b1)
    refused = client.post("/intake/bulk/", {"action": "dispatch", "ids": [other.pk], "next": "/intake/"},
                          follow=True).content.decode()
    assert f'name="ids" value="{unticked.pk}" aria-label="{unticked.number}">' in refused
    again = client.get("/intake/").content.decode()
    assert f'value="{other.pk}" aria-label="{other.number}">' in again  # a fresh visit starts unticked
    assert login(client, town, Role.GRID_LEADER).post("/intake/bulk/", {"action": "close", "ids": [a.pk]}).status_code == 403


@pytest.mark.django_db
def test_imported_history_stays_out_of_the_callback_queue_unless_asked(client, town):
    live = make(town, Status.RESOLVED)
    old = make(town, Status.RESOLVED)
    Case.objects.filter(pk=old.pk).update(imported=True)
    login(client, town, Role.DISPATCHER)
    default = listed(client.get("/intake/").content.decode(), "to-call")
    everything = listed(client.get("/intake/", {"imported": "all"}).content.decode(), "to-call")
    assert live.pk in default and old.pk not in default and old.pk in everything


# --- §4 and §7 on the log-a-case form ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_chooses_no_grid_and_carries_a_token(client, town):
    html = login(client, town, Role.DISPATCHER).get("/cases/new/").content.decode()
    select = html.split('name="grid"')[1].split("</select>")[0]
    assert not re.search(r'value="\d+"[^>]* selected', select)  # nothing chosen for the dispatcher
    assert "不指定（进入受理队列，由指挥中心派单）" in select
    assert re.search(r'name="idempotency_key" value="[0-9a-f]{32}"', html)
    assert 'data-testid="caller-history"' in html


# --- Build 4 and 7: attachments and the printable work order ----------------------------------------------------


@pytest.mark.django_db
def test_a_photo_uploaded_on_the_case_page_shows_as_a_thumbnail(client, town):
    case = make(town, Status.DISPATCHED)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, format="PNG")
    login(client, town, Role.GRID_LEADER)
    answer = client.post(f"/cases/{case.pk}/attachments/", {"file": SimpleUploadedFile("现场.png", out.getvalue()),
                                                            "kind": "before"})
    assert answer.status_code == 302
    html = client.get(f"/cases/{case.pk}/").content.decode()
    att = case.attachments.get()
    assert f'src="/api/v1/attachments/{att.pk}/thumbnail/"' in html
    bad = client.post(f"/cases/{case.pk}/attachments/", {"file": SimpleUploadedFile("x.svg", b"<svg/>"),
                                                         "kind": "file"})
    # refused beside the upload form (the page opens there on a phone), nothing stored
    assert bad.status_code == 400 and case.attachments.count() == 1
    form = bad.content.decode().split('data-testid="attach-form"', 1)[1].split("</form>", 1)[0]
    assert "不支持的文件类型" in form
    assert f'action="/cases/{case.pk}/attachments/#attachments"' in bad.content.decode()
    for url in (f"/cases/{case.pk}/attachments/", f"/cases/{case.pk}/reveal-phone/"):  # a reload or a bookmark
        visit = client.get(url)
        assert (visit.status_code, visit["Location"]) == (302, f"/cases/{case.pk}/"), url
    assert not case.events.filter(action="phone_revealed").exists()  # a plain visit reveals nothing


@pytest.mark.django_db
def test_the_work_order_prints_the_case(client, town):
    case = make(town, Status.DISPATCHED, title="井盖丢失")
    html = login(client, town, Role.GRID_LEADER).get(f"/cases/{case.pk}/print/").content.decode()
    assert "西集镇接诉即办派单单" in html and case.number in html and "井盖丢失" in html
    assert "138****5678" in html  # the grid leader's print keeps the mask
    assert login(client, town, Role.GRID_LEADER).get(f"/cases/{make(town, Status.DISPATCHED, grid=town.b1).pk}/print/").status_code == 404


@pytest.mark.django_db
def test_no_hotspots_says_when_the_nightly_analysis_runs_and_shows_no_shell_command(client, town):
    from cases.models import Hotspot

    Hotspot.objects.all().delete()
    login(client, town, Role.DISPATCHER)
    with time_machine.travel(T0, tick=False):  # 09:00: the next run is tomorrow 02:10
        html = client.get("/hotspots/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    empty = html.split('data-testid="no-hotspots">')[1].split("</p>")[0]
    assert empty == "暂无热点。热点由每晚的自动分析发现，下次分析在 2025-04-08 02:10，之后会出现在这里。"
    with time_machine.travel(T0.replace(hour=1), tick=False):  # 01:00: tonight's run is still ahead
        html = client.get("/hotspots/").content.decode()
    assert "下次分析在 2025-04-07 02:10" in html
    assert "manage.py" not in html and "find_hotspots" not in html


@pytest.mark.django_db
def test_redispatch_to_the_same_grid_names_the_village_and_keeps_the_typed_note(client, town):
    case = make(town, Status.DISPATCHED)
    login(client, town, Role.DISPATCHER)
    response = client.post(f"/cases/{case.pk}/do/dispatch/", {
        "dispatch-seen": "dispatched", "dispatch-grid": town.a1.pk, "dispatch-note": "请今天内到现场查看"},
        HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    html = response.content.decode()
    grid_block = html.split('id="field-dispatch-grid"')[1].split('<div class="field')[0]
    assert f"诉求 {case.number} 已派往 {town.a1.village.short_name}·{town.a1.name}，不能重复派往同一微网格。" in grid_block
    assert "请今天内到现场查看</textarea>" in html.split('id="field-dispatch-note"')[1]
    assert 'id="act-dispatch" data-action="dispatch" open' in html
    assert case.events.filter(action=Action.DISPATCHED).count() == 1


# --- Build 5: the desk's case list ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_case_list_takes_every_api_filter_shows_the_desk_columns_and_exports_the_filtered_list(client, town):
    import csv
    from io import StringIO

    from openpyxl import load_workbook

    late = make(town, Status.DISPATCHED, urgency="emergency", complainant_name="赵大爷", title="=HYPERLINK(\"x\")")
    other = make(town, Status.DISPATCHED, complainant_name="钱阿姨")
    login(client, town, Role.DISPATCHER)
    with time_machine.travel(T0 + 3 * D, tick=False):  # both past their deadlines by now
        html = client.get("/cases/", {"complainant_name": "赵大爷", "urgency": "emergency"}).content.decode()
        rows = re.findall(r'<tr data-case="(\d+)">', html)
        assert rows == [str(late.pk)]
        assert 'data-testid="overdue-mark"' in html and "紧急" in html and "更多筛选" in html
        assert "诉求人姓名" in html  # the API's filters, labelled in Chinese
        got = client.get("/cases/export.csv", {"complainant_name": "赵大爷"})
        book = client.get("/cases/export.xlsx", {"overdue": "true", "source": "hotline", "village": town.a.pk})
    table = list(csv.reader(StringIO(got.content.decode("utf-8")[1:])))
    assert table[0][:3] == ["编号", "标题", "状态"] and [r[0] for r in table[1:]] == [late.number]
    assert table[1][1] == "'=HYPERLINK(\"x\")"  # the one export path neutralises formulas
    assert "attachment; filename*=utf-8''" in got["Content-Disposition"]
    numbers = [row[0] for row in list(load_workbook(io.BytesIO(book.content)).active.values)[1:]]
    assert set(numbers) >= {late.number, other.number}
    assert client.get("/cases/", {"received_after": "not-a-date"}).status_code == 200  # a bad filter is ignored


@pytest.mark.django_db
def test_the_more_filters_read_in_chinese_and_any_is_an_empty_buqian(client, town):
    html = login(client, town, Role.DISPATCHER).get(
        "/cases/", {"solved": "", "overdue": "true", "callback": "", "ordering": "-resolve_due_at"},
        HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    more = html.split('class="more-filters"')[1].split("</details>")[0]

    def options(name):
        block = more.split(f'name="{name}"')[1].split("</select>")[0]
        return re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', block)

    assert options("solved") == [("", " selected", "不限"), ("true", "", "是"), ("false", "", "否")]
    assert options("overdue")[1] == ("true", " selected", "是")
    assert options("callback") == [("", " selected", "不限"), ("pending", "", "未回访"), ("valid", "", "有效回访"),
                                   ("unreachable", "", "联系不上")]
    ordering = options("ordering")
    assert ordering[0] == ("", "", "默认（最新受理在前）")
    assert ("-resolve_due_at", " selected", "办结时限（从晚到早）") in ordering
    assert ("received_at", "", "受理时间（从早到晚）") in ordering and ("-number", "", "编号（降序）") in ordering
    assert "未知" not in more and "unknown" not in more and "Received at" not in more
    # The export link carries the chosen filters, not the ones left at 不限.
    export = re.search(r'href="/cases/export\.csv\?([^"]*)"', html).group(1)
    assert "overdue=true" in export and "solved" not in export and "callback" not in export


@pytest.mark.django_db
def test_the_monthly_report_prints_the_months_rates(client, town):
    case = make(town, Status.RESOLVED)  # received 7 April 2025
    services.callback(case, actor=town.user(Role.DISPATCHER), contacted=True, solved=True,
                      satisfaction=Satisfaction.BASICALLY_SATISFIED, now=T0 + H)
    login(client, town, Role.SUPERVISOR)
    html = client.get("/dashboard/report/", {"month": "2025-04"}).content.decode()
    town_block = html.split('data-testid="report-town"')[1].split("</table>")[0]
    assert "西集镇接诉即办2025-04月度三率通报" in html and "2025年4月1日—2025年4月30日" in html
    assert "90.0%" in town_block  # satisfaction = 0.9 × 1 basically satisfied / 1 valid callback
    march = client.get("/dashboard/report/", {"month": "2025-03"}).content.decode()
    assert "90.0%" not in march.split('data-testid="report-town"')[1].split("</table>")[0]
    assessment = client.get("/dashboard/report/", {"month": "2025-04", "kind": "assessment"}).content.decode()
    assert "2025年3月19日—2025年4月18日" in assessment
    assert login(client, town, Role.GRID_LEADER).get("/dashboard/report/").status_code == 403


@pytest.mark.django_db
def test_a_deputy_may_choose_only_the_liaison_station_as_source(client, town):
    html = login(client, town, Role.DEPUTY).get("/cases/new/").content.decode()
    select = html.split('name="source"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([a-z_]+)"', select) == ["deputy"]
    refused = client.post("/cases/new/", {"village": town.a.pk, "kind": "help", "source": "hotline", "title": "路灯"})
    assert refused.status_code == 400 and not Case.objects.filter(title="路灯", source="hotline").exists()
