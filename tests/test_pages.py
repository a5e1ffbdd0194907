"""The web pages with Django's test client (issue 6): start pages per role, scope (404 outside it), the
actions offered per role and state, logging a case (own grid dispatched at once, on the spot), errors next
to their fields in the user's language, a lost race, notifications, visits and the dashboard's figures
and downloads. The browser runs are in ``tests/browser/``."""
import csv
import datetime as dt
import io
import json
import logging
import re

import pytest
import time_machine
from openpyxl import load_workbook

from cases import selectors, services
from cases.choices import Action, Satisfaction, Source, Status
from cases.models import Case, CaseEvent, Notification
from grids.choices import Role
from grids.models import VillageAssignment
from reps import visits as gv
from reps.choices import VisitStatus
from reps.models import Visit
from xiji_grid.dashboard.figures import lateness_display

from . import factories

T0 = dt.datetime(2025, 4, 7, 1, 0, tzinfo=dt.UTC)  # Monday 2025-04-07 09:00 Asia/Shanghai


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def login(client, town, role):
    client.force_login(town.user(role))
    return client


def actions_on(html: str) -> set[str]:
    """The actions the case page offers (``data-action`` of each action form)."""
    return set(re.findall(r'data-action="([a-z_]+)"', html))


def field_errors(html: str, field: str) -> list[str]:
    """The error texts shown in the block of ``field`` (from ``id="field-<name>"`` to the next field)."""
    for chunk in html.split('<div class="field')[1:]:
        if re.match(rf'[^"]*" id="field-{re.escape(field)}"', chunk):
            return re.findall(r'<p class="error" role="alert">([^<]*)</p>', chunk)
    return []


# --- Start pages and login ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "start"), [
    (Role.GRID_LEADER, "/workbench/"), (Role.VILLAGE_LEADER, "/workbench/"), (Role.CADRE, "/workbench/"),
    (Role.DISPATCHER, "/intake/"), (Role.SUPERVISOR, "/dashboard/"), (Role.ADMIN, "/dashboard/"),
    (Role.DEPUTY, "/demands/"),
])
def test_each_role_lands_on_its_own_start_page_after_login(client, town, role, start):
    response = client.post("/login/", {"username": town.user(role).username, "password": factories.PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == start
    assert client.get(start).status_code == 200


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login_and_a_wrong_password_is_refused_in_chinese(client, town):
    assert client.get("/")["Location"] == "/login/"
    assert client.get("/workbench/")["Location"] == "/login/?next=/workbench/"
    response = client.post("/login/", {"username": "gus", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


@pytest.mark.django_db
def test_a_user_without_a_role_is_told_so(client, town):
    user = factories.UserFactory(username="nobody")
    client.force_login(user)
    assert client.get("/")["Location"] == "/no-role/"
    assert "尚未分配角色" in client.get("/no-role/").content.decode()


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(client, town):
    login(client, town, Role.GRID_LEADER)
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/workbench/").status_code == 302


# --- Scope: 404 outside ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_grid_leader_cannot_open_or_act_on_another_grids_case(client, town):
    dora = town.user(Role.DISPATCHER)
    own = factories.make_case(grid=town.a1, actor=dora, state=Status.DISPATCHED)
    other = factories.make_case(grid=town.a2, actor=dora, state=Status.DISPATCHED)
    login(client, town, Role.GRID_LEADER)
    assert client.get(f"/cases/{own.pk}/").status_code == 200
    assert client.get(f"/cases/{other.pk}/").status_code == 404
    response = client.post(f"/cases/{other.pk}/do/accept/", {"accept-seen": "dispatched"})
    assert response.status_code == 404
    assert Case.objects.get(pk=other.pk).status == Status.DISPATCHED
    listing = client.get("/cases/").content.decode()
    assert own.number in listing and other.number not in listing


@pytest.mark.django_db
def test_village_leader_cadre_and_deputy_see_only_their_scope(client, town):
    dora = town.user(Role.DISPATCHER)
    in_a = factories.make_case(grid=town.a2, actor=dora, state=Status.DISPATCHED)
    in_b = factories.make_case(grid=town.b1, actor=dora, state=Status.DISPATCHED)
    for role in (Role.VILLAGE_LEADER, Role.CADRE):
        login(client, town, role)
        assert client.get(f"/cases/{in_a.pk}/").status_code == 200
        assert client.get(f"/cases/{in_b.pk}/").status_code == 404
    login(client, town, Role.DEPUTY)
    assert client.get(f"/cases/{in_a.pk}/").status_code == 404
    mine = services.create_case(actor=town.user(Role.DEPUTY), kind="suggestion", source=Source.DEPUTY,
                                title="建议增设公交站", village=town.b)
    assert client.get(f"/cases/{mine.pk}/").status_code == 200


@pytest.mark.django_db
def test_a_grid_leader_may_not_open_the_intake_or_others_notifications(client, town):
    note = Notification.objects.create(recipient=town.user(Role.SUPERVISOR), kind="other", title="x",
                                       dedupe_key="t", created_at=T0)
    login(client, town, Role.GRID_LEADER)
    assert client.get("/intake/").status_code == 403
    assert client.get("/dashboard/").status_code == 403
    assert client.post(f"/notifications/{note.pk}/read/").status_code == 404


# --- Actions offered: exactly those of the role in the state ----------------------------------------------


EXPECTED_ACTIONS = {
    (Role.GRID_LEADER, Status.DISPATCHED): {"accept", "return", "extend", "comment"},
    (Role.GRID_LEADER, Status.ACCEPTED): {"respond", "return", "extend", "comment"},
    (Role.GRID_LEADER, Status.RESPONDED): {"resolve", "extend", "comment"},
    (Role.GRID_LEADER, Status.RESOLVED): {"comment"},
    (Role.DISPATCHER, Status.RECEIVED): {"dispatch", "edit", "cancel", "comment"},
    (Role.DISPATCHER, Status.DISPATCHED): {"dispatch", "edit", "cancel", "comment"},
    (Role.DISPATCHER, Status.RESOLVED): {"callback", "close", "comment"},
    (Role.DISPATCHER, Status.CLOSED): {"comment"},
    (Role.SUPERVISOR, Status.DISPATCHED): {"dispatch", "escalate", "change_urgency", "edit", "cancel", "comment"},
    (Role.SUPERVISOR, Status.RETURNED): {"dispatch", "escalate", "change_urgency", "edit", "cancel", "comment"},
    (Role.DEPUTY, Status.DISPATCHED): {"comment"},
}


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "state"), list(EXPECTED_ACTIONS))
def test_the_case_page_offers_exactly_the_actions_of_the_role_in_this_state(client, town, role, state):
    if role == Role.DEPUTY:  # a demand the deputy logged, dispatched by the command centre
        case = services.create_case(actor=town.user(Role.DEPUTY), kind="help", source=Source.DEPUTY, title="t",
                                    grid=town.a1)
        services.dispatch(case, actor=town.user(Role.DISPATCHER), grid=town.a1)
    else:
        case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=state)
    login(client, town, role)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert actions_on(html) == EXPECTED_ACTIONS[(role, state)]


@pytest.mark.django_db
def test_after_an_unsatisfied_callback_the_dispatcher_may_reopen_and_a_pending_extension_is_for_supervisors(
        client, town):
    dora = town.user(Role.DISPATCHER)
    unhappy = factories.make_case(grid=town.a1, actor=dora, state=Status.RESOLVED)
    services.callback(unhappy, actor=dora, contacted=True, solved=False, satisfaction=Satisfaction.UNSATISFIED)
    login(client, town, Role.DISPATCHER)
    assert actions_on(client.get(f"/cases/{unhappy.pk}/").content.decode()) == {"reopen", "close", "comment"}
    pending = factories.make_case(grid=town.a1, actor=dora, state=Status.ACCEPTED, extension_pending=True)
    login(client, town, Role.SUPERVISOR)
    assert {"approve_extension", "decline_extension"} <= actions_on(client.get(f"/cases/{pending.pk}/").content.decode())
    login(client, town, Role.GRID_LEADER)
    assert actions_on(client.get(f"/cases/{pending.pk}/").content.decode()) == {"respond", "return", "comment"}


@pytest.mark.django_db
def test_the_timeline_says_resolving_withdrew_the_pending_extension_request(client, town):
    dora = town.user(Role.DISPATCHER)
    case = factories.make_case(grid=town.a1, actor=dora, state=Status.RESPONDED, now=T0, extension_pending=True)
    until = case.extension_requested_until
    services.resolve(case, actor=dora, solved=True, result="已修复", now=T0 + dt.timedelta(hours=1))
    login(client, town, Role.DISPATCHER)
    local = f"{until.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M}"
    html = client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    resolved = html.split('class="ev ev-resolved"')[1].split("</li>")[0]
    assert f'<span class="detail">已解决 · 待审批的延期申请（至 {local}）已撤回</span>' in resolved
    client.cookies["django_language"] = "en"
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"The pending extension request (to {local}) was withdrawn" in html


@pytest.mark.django_db
def test_a_patrol_case_without_a_complainant_offers_start_handling_instead_of_contacting(client, town):
    dora = town.user(Role.DISPATCHER)
    patrol = factories.make_case(grid=town.a1, actor=dora, state=Status.ACCEPTED, source=Source.PATROL,
                                 kind="report", complainant_phone="", complainant_name="")
    called = factories.make_case(grid=town.a1, actor=dora, state=Status.ACCEPTED)
    login(client, town, Role.GRID_LEADER)
    html = client.get(f"/cases/{patrol.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "respond" in actions_on(html)
    assert '<summary>开始处置</summary>' in html and "已联系诉求人" not in html
    assert '<summary>已联系诉求人</summary>' in client.get(f"/cases/{called.pk}/").content.decode()
    response = client.post(f"/cases/{patrol.pk}/do/respond/", {"respond-seen": "accepted", "respond-note": "已到场"},
                           follow=True)
    html = response.content.decode()
    assert "已完成：开始处置。" in html
    responded = html.split('class="ev ev-responded"')[1].split("</li>")[0]
    assert "<b>开始处置</b>" in responded and "联系诉求人" not in responded
    patrol.refresh_from_db()
    assert (patrol.status, patrol.responded_at is not None) == (Status.RESPONDED, True)  # the same transition
    client.cookies["django_language"] = "en"
    assert "<b>Start handling</b>" in client.get(f"/cases/{patrol.pk}/").content.decode()


@pytest.mark.django_db
def test_phone_numbers_are_masked_for_grid_leaders_and_whole_for_dispatchers(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED,
                               complainant_phone="13812345678")
    login(client, town, Role.GRID_LEADER)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert "138****5678" in html and "13812345678" not in html
    login(client, town, Role.DISPATCHER)
    assert "13812345678" in client.get(f"/cases/{case.pk}/").content.decode()


# --- Logging a case ---------------------------------------------------------------------------------------


def case_form(town, **overrides):
    data = {"village": town.a.pk, "grid": town.a1.pk, "category": town.cat_leaf.pk, "kind": "help",
            "urgency": "", "source": Source.PATROL, "title": "", "description": "三号楼前路灯不亮，影响夜间出行",
            "address": "三号楼前", "complainant_name": "", "complainant_phone": "", "result": ""}
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_a_grid_leaders_case_in_own_grid_is_dispatched_to_it_at_once_with_deadlines(client, town):
    login(client, town, Role.GRID_LEADER)
    page = client.get("/cases/new/").content.decode()
    assert f'<option value="{town.a1.pk}" selected data-village="{town.a.pk}"' in page  # preset to mine
    tree = json.loads(re.search(r'<script id="category-tree" type="application/json">(.*?)</script>', page, re.S)[1])
    assert ["城乡建设", "市容环境", "垃圾清运"] == [tree[0]["name"], tree[0]["children"][0]["name"],
                                                  tree[0]["children"][0]["children"][0]["name"]]
    with time_machine.travel(T0, tick=False):
        response = client.post("/cases/new/", case_form(town))
    case = Case.objects.latest("pk")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert case.status == Status.DISPATCHED and case.grid == town.a1 and case.handler == town.a1.leader
    assert case.title == "三号楼前路灯不亮，影响夜间出行"[:30] and case.source == Source.PATROL
    assert case.category == town.cat_leaf and case.created_by == town.user(Role.GRID_LEADER)
    assert case.received_at == T0 and case.respond_due_at == T0 + dt.timedelta(hours=24)
    assert case.resolve_due_at == T0 + dt.timedelta(days=7)
    assert [e.action for e in case.events.order_by("at", "id")] == [Action.CREATED, Action.DISPATCHED]


@pytest.mark.django_db
def test_a_grid_leader_is_not_offered_to_leave_the_micro_grid_for_the_command_centre(client, town):
    login(client, town, Role.GRID_LEADER)  # logs in own grids only (cases.rules): "不指定" would be refused
    page = client.get("/cases/new/").content.decode()
    assert "不指定（进入受理队列，由指挥中心派单）" not in page
    response = client.post("/cases/new/", case_form(town, grid=""))
    assert response.status_code == 400 and not Case.objects.exists()
    assert "不在您的管辖范围内" not in response.content.decode()  # a missing choice, not a refused place
    login(client, town, Role.DISPATCHER)  # the command centre may leave it to the intake queue
    assert "不指定（进入受理队列，由指挥中心派单）" in client.get("/cases/new/").content.decode()


@pytest.mark.django_db
def test_resolved_on_the_spot_records_both_events_and_the_result(client, town):
    login(client, town, Role.GRID_LEADER)
    with time_machine.travel(T0, tick=False):
        response = client.post("/cases/new/", case_form(town, on_the_spot="on", result="已联系电工当场修复"))
    case = Case.objects.latest("pk")
    assert response.status_code == 302
    assert case.status == Status.RESOLVED and case.solved is True and case.result == "已联系电工当场修复"
    assert case.resolved_at == case.responded_at == T0
    assert [e.action for e in case.events.order_by("at", "id")] == [Action.CREATED, Action.RESOLVED]


@pytest.mark.django_db
def test_a_dispatchers_hotline_case_waits_in_the_intake_queue(client, town):
    login(client, town, Role.DISPATCHER)
    response = client.post("/cases/new/", case_form(town, grid="", source=Source.HOTLINE, title="供暖不热",
                                                    complainant_phone="138 1234 5678"))
    case = Case.objects.latest("pk")
    assert response.status_code == 302 and case.status == Status.RECEIVED and case.grid is None
    assert case.complainant_phone == "138 1234 5678"
    intake = client.get("/intake/").content.decode()
    assert f'data-case="{case.pk}"' in intake


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field", "zh", "en"), [
    ({"on_the_spot": "on", "result": ""}, "result", "就地解决须填写办理结果。",
     "A case resolved on the spot needs its result."),
    ({"description": "", "title": ""}, "description", "请填写标题或诉求内容。", "Give a title or a description."),
    ({"complainant_phone": "call me"}, "complainant_phone", "电话号码只能包含数字、空格、+、-和括号。",
     "A phone number may hold only digits, spaces, +, - and brackets."),
    ({"kind": ""}, "kind", "请选择诉求类型。", "Kind: please choose one."),
    ({"title": "长" * 201}, "title", "标题最多 200 个字（现有 201 个字）。", "Title: at most 200 characters (it has 201)."),
])
def test_form_errors_are_shown_next_to_the_field_in_the_users_language(client, town, overrides, field, zh, en):
    login(client, town, Role.GRID_LEADER)
    before = Case.objects.count()
    response = client.post("/cases/new/", case_form(town, **overrides), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert field_errors(response.content.decode(), field) == [zh]
    client.cookies["django_language"] = "en"
    response = client.post("/cases/new/", case_form(town, **overrides))
    assert field_errors(response.content.decode(), field) == [en]
    assert Case.objects.count() == before


@pytest.mark.django_db
def test_a_refused_title_does_not_also_count_as_missing(client, town):
    """A 201-character title is refused for its length alone: the form does not add "请填写标题或诉求内容"
    as if both were empty (the new grid leader's trial)."""
    login(client, town, Role.GRID_LEADER)
    response = client.post("/cases/new/", case_form(town, title="长" * 201, description=""),
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, "title") == ["标题最多 200 个字（现有 201 个字）。"]
    assert field_errors(html, "description") == []


@pytest.mark.django_db
def test_a_grid_leader_cannot_log_in_a_grid_outside_own_grids(client, town):
    login(client, town, Role.GRID_LEADER)
    response = client.post("/cases/new/", case_form(town, grid=town.a2.pk), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "grid") == ["所选微网格不在可选范围内。"]
    response = client.post("/cases/new/", case_form(town, grid=""), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert field_errors(response.content.decode(), "grid") == ["请选择微网格。"]  # required of a grid leader


# --- Acting on a case -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_full_lifecycle_through_the_pages(client, town):
    dora = town.user(Role.DISPATCHER)
    case = factories.make_case(grid=town.a2, actor=dora, state=Status.RECEIVED)
    login(client, town, Role.DISPATCHER)
    response = client.post(f"/cases/{case.pk}/do/dispatch/", {"dispatch-seen": "received", "dispatch-grid": town.a1.pk,
                                                               "dispatch-note": "请尽快处理"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    login(client, town, Role.GRID_LEADER)
    for action, data in [("accept", {}), ("respond", {"respond-note": "已电话联系"}),
                         ("resolve", {"resolve-solved": "yes", "resolve-result": "已修复"})]:
        seen = Case.objects.get(pk=case.pk).status
        response = client.post(f"/cases/{case.pk}/do/{action}/", {f"{action}-seen": seen, **data})
        assert response.status_code == 302, response.content.decode()[:2000]
    login(client, town, Role.DISPATCHER)
    response = client.post(f"/cases/{case.pk}/do/callback/", {
        "callback-seen": "resolved", "callback-satisfaction": "basically_satisfied", "callback-contacted": "yes",
        "callback-solved": "yes"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.grid, case.satisfaction, case.callback_contacted, case.callback_solved) == (
        Status.RESOLVED, town.a1, Satisfaction.BASICALLY_SATISFIED, True, True)
    assert [e.action for e in case.events.order_by("at", "id")] == [
        Action.CREATED, Action.DISPATCHED, Action.ACCEPTED, Action.RESPONDED, Action.RESOLVED, Action.CALLBACK]
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert "请尽快处理" in html and "已电话联系" in html and actions_on(html) == {"close", "comment"}


@pytest.mark.django_db
def test_a_transition_lost_to_a_concurrent_change_says_so_and_shows_the_case_as_it_now_is(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED)
    login(client, town, Role.GRID_LEADER)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'name="return-seen" value="dispatched"' in page
    services.accept(case, actor=town.user(Role.VILLAGE_LEADER))  # someone else signs for it meanwhile
    response = client.post(f"/cases/{case.pk}/do/return/", {"return-seen": "dispatched", "return-reason": "非本网格"},
                           follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert response.redirect_chain == [(f"/cases/{case.pk}/", 302)]
    assert "操作未执行：" in html and "已被他人更改（现为“已签收”）" in html
    assert '<span class="badge status-accepted" data-testid="status">已签收</span>' in html
    assert actions_on(html) == {"respond", "return", "extend", "comment"}
    assert Case.objects.get(pk=case.pk).status == Status.ACCEPTED
    assert not CaseEvent.objects.filter(case=case, action=Action.RETURNED).exists()


@pytest.mark.django_db
def test_an_action_the_state_no_longer_allows_is_refused_without_change(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESOLVED)
    login(client, town, Role.GRID_LEADER)
    response = client.post(f"/cases/{case.pk}/do/accept/", {"accept-seen": "resolved"}, follow=True,
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "当前状态为“已办结”，不能执行“签收”" in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == Status.RESOLVED


@pytest.mark.django_db
def test_a_services_validation_error_is_shown_next_to_the_field(client, town):
    with time_machine.travel(T0, tick=False):
        case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.ACCEPTED, now=T0)
    login(client, town, Role.GRID_LEADER)
    too_early = (case.resolve_due_at - dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    response = client.post(f"/cases/{case.pk}/do/extend/", {
        "extend-seen": "accepted", "extend-until": too_early.strftime("%Y-%m-%dT%H:%M"), "extend-reason": "需协调"},
        HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "extend-until") == ["延期时间须晚于当前办结时限和当前时间。"]
    assert 'id="act-extend" data-action="extend" open' in response.content.decode()
    response = client.post(f"/cases/{case.pk}/do/return/", {"return-seen": "accepted", "return-reason": ""},
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert field_errors(response.content.decode(), "return-reason") == ["请填写理由。"]
    assert Case.objects.get(pk=case.pk).status == Status.ACCEPTED


@pytest.mark.django_db
def test_the_callback_needs_both_answers_unless_unreachable(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESOLVED)
    login(client, town, Role.DISPATCHER)
    response = client.post(f"/cases/{case.pk}/do/callback/", {"callback-seen": "resolved",
                                                               "callback-satisfaction": "satisfied"},
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert field_errors(html, "callback-contacted") == ["请选择是否联系。"]
    assert field_errors(html, "callback-solved") == ["请选择是否解决。"]
    for name in ("satisfaction", "contacted", "solved"):  # all three marked required (*)
        assert re.search(rf'<div class="field has-error required" id="field-callback-{name}"|'
                         rf'<div class="field required" id="field-callback-{name}"', html), name
    response = client.post(f"/cases/{case.pk}/do/callback/", {"callback-seen": "resolved",
                                                               "callback-satisfaction": "unreachable"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.UNREACHABLE and case.callback_contacted is False
    # Unreachable is not a valid callback: the callback stays on offer and in the queue.
    assert "callback" in actions_on(client.get(f"/cases/{case.pk}/").content.decode())
    assert f'data-case="{case.pk}"' in client.get("/intake/").content.decode()


@pytest.mark.django_db
def test_a_second_callback_from_a_stale_tab_says_a_valid_callback_is_recorded(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESOLVED)
    login(client, town, Role.DISPATCHER)
    form = {"callback-seen": "resolved", "callback-satisfaction": "satisfied", "callback-contacted": "yes",
            "callback-solved": "yes"}
    assert client.post(f"/cases/{case.pk}/do/callback/", form).status_code == 302
    response = client.post(f"/cases/{case.pk}/do/callback/", {**form, "callback-satisfaction": "unsatisfied"},
                           follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert "操作未执行：该诉求已有有效回访（满意），不能再次回访。" in html
    assert "不能执行“回访”" not in html and "重办" not in html  # a satisfied case cannot be reopened
    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED
    assert CaseEvent.objects.filter(case=case, action=Action.CALLBACK).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("satisfaction", "solved"), [("unsatisfied", "yes"), ("basically_satisfied", "no")])
def test_a_second_callback_on_an_unsatisfied_or_unsolved_case_suggests_reopening(client, town, satisfaction,
                                                                                 solved):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESOLVED)
    login(client, town, Role.DISPATCHER)
    form = {"callback-seen": "resolved", "callback-satisfaction": satisfaction, "callback-contacted": "yes",
            "callback-solved": solved}
    assert client.post(f"/cases/{case.pk}/do/callback/", form).status_code == 302
    response = client.post(f"/cases/{case.pk}/do/callback/", {**form, "callback-satisfaction": "satisfied"},
                           follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "操作未执行：该诉求已有有效回访；如需重办请先重办。" in response.content.decode()
    assert "reopen" in actions_on(response.content.decode())
    client.cookies["django_language"] = "en"
    response = client.post(f"/cases/{case.pk}/do/callback/", {**form, "callback-satisfaction": "satisfied"},
                           follow=True)
    assert "A valid callback is already recorded for this case; reopen it first to call back again." in (
        response.content.decode())


# --- Workbench --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_workbench_orders_open_cases_by_nearest_deadline_and_colours_them(client, town):
    dora = town.user(Role.DISPATCHER)
    now = T0 + dt.timedelta(hours=20)
    late = factories.make_case(grid=town.a1, actor=dora, state=Status.DISPATCHED, now=T0 - dt.timedelta(days=2),
                               title="两天前的诉求")  # respond due T0-1d: breached
    warned = factories.make_case(grid=town.a1, actor=dora, state=Status.DISPATCHED, now=T0, title="今早的诉求")
    # respond due T0+24h, warning at T0+18h: at now=T0+20h warned
    responded = factories.make_case(grid=town.a1, actor=dora, state=Status.RESPONDED, now=T0 + dt.timedelta(hours=19),
                                    title="已联系的诉求")  # resolve due T0+19h+7d: normal
    factories.make_case(grid=town.a1, actor=dora, state=Status.RESOLVED, now=T0, title="已办结的诉求")
    factories.make_case(grid=town.a2, actor=dora, state=Status.DISPATCHED, now=T0, title="别的网格")
    login(client, town, Role.GRID_LEADER)
    with time_machine.travel(now, tick=False):
        html = client.get("/workbench/").content.decode()
    cards = re.findall(r'<li class="case-card state-(\w+)" data-case="(\d+)">', html)
    assert cards == [("breached", str(late.pk)), ("warned", str(warned.pk)), ("normal", str(responded.pk))]
    due = re.findall(r'data-due="([^"]+)"', html)
    assert due == [late.respond_due_at.isoformat(), warned.respond_due_at.isoformat(),
                   responded.resolve_due_at.isoformat()]
    assert "别的网格" not in html and "已办结的诉求" not in html


# --- Notifications ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_notifications_are_listed_and_marked_read_one_or_all(client, town):
    gus = town.user(Role.GRID_LEADER)
    notes = [Notification.objects.create(recipient=gus, kind="dispatched", title=f"新派单 {k}", dedupe_key=f"k{k}",
                                         created_at=T0 + dt.timedelta(minutes=k)) for k in range(3)]
    login(client, town, Role.GRID_LEADER)
    html = client.get("/notifications/").content.decode()
    assert html.count('class="note-item unread"') == 3 and '<b class="count">3</b>' in html
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        client.post(f"/notifications/{notes[0].pk}/read/")
    assert Notification.objects.get(pk=notes[0].pk).read_at == T0 + dt.timedelta(hours=1)
    client.post("/notifications/read-all/")
    assert not Notification.objects.filter(recipient=gus, read_at__isnull=True).exists()


# --- Visits -----------------------------------------------------------------------------------------------


@pytest.fixture
def visit(town):
    """This week's planned visit of the cadre persona to village a (week of 2025-04-07)."""
    gv.plan_week("2025-W15", now=T0)
    cadre = VillageAssignment.objects.get(village=town.a).cadre
    return Visit.objects.get(cadre=cadre, village=town.a, iso_week="2025-W15")


@pytest.mark.django_db
def test_a_cadre_records_this_weeks_visit_with_errors_next_to_the_fields(client, town, visit):
    login(client, town, Role.CADRE)
    with time_machine.travel(T0 + dt.timedelta(hours=4), tick=False):
        html = client.get("/visits/").content.decode()
        assert f'data-visit="{visit.pk}"' in html and f"/cases/new/?visit={visit.pk}" in html
        bad = client.post(f"/visits/{visit.pk}/record/", {
            "started_at": "2025-04-07T11:00", "ended_at": "2025-04-07T09:00", "households_visited": "-1",
            "people_received": "3", "notes": ""}, HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert bad.status_code == 400
        assert field_errors(bad.content.decode(), "households_visited") == ["走访户数不能小于 0。"]
        bad = client.post(f"/visits/{visit.pk}/record/", {
            "started_at": "2025-04-07T11:00", "ended_at": "2025-04-07T09:00", "households_visited": "4",
            "people_received": "3", "notes": ""}, HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert field_errors(bad.content.decode(), "ended_at") == ["结束时间须晚于开始时间。"]
        good = client.post(f"/visits/{visit.pk}/record/", {
            "started_at": "2025-04-07T09:00", "ended_at": "2025-04-07T11:30", "households_visited": "12",
            "people_received": "5", "notes": "走访了三组"})
    assert good.status_code == 302
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE and (visit.households_visited, visit.people_received) == (12, 5)
    assert visit.started_at == T0 and visit.ended_at == T0 + dt.timedelta(hours=2, minutes=30)


@pytest.mark.django_db
def test_a_case_logged_from_a_visit_has_source_visit_and_its_village(client, town, visit):
    login(client, town, Role.CADRE)
    page = client.get(f"/cases/new/?visit={visit.pk}").content.decode()
    assert '<option value="visit" selected>' in page
    response = client.post(f"/cases/new/?visit={visit.pk}", case_form(town, grid="", village=town.b.pk,
                                                                       description="村民反映路面破损"))
    case = Case.objects.latest("pk")
    assert response.status_code == 302
    assert (case.source, case.visit_link.visit, case.village, case.status) == (Source.VISIT, visit, town.a, Status.RECEIVED)


@pytest.mark.django_db
def test_another_cadres_visit_answers_404(client, town, visit):
    other = Visit.objects.filter(iso_week="2025-W15").exclude(cadre=visit.cadre).first()
    login(client, town, Role.CADRE)
    assert client.get(f"/visits/{other.pk}/record/").status_code == 404
    assert client.get(f"/cases/new/?visit={other.pk}").status_code == 404
    login(client, town, Role.GRID_LEADER)
    assert client.get(f"/visits/{visit.pk}/record/").status_code == 404


# --- Dashboard --------------------------------------------------------------------------------------------


@pytest.fixture
def history(town):
    """Cases in two villages over two months, with callbacks, a late one and an excluded one."""
    dora = town.user(Role.DISPATCHER)
    made = []
    for k, (grid, month_day, sat) in enumerate([
            (town.a1, (2025, 2, 10), Satisfaction.SATISFIED), (town.a1, (2025, 3, 3), Satisfaction.SATISFIED),
            (town.a2, (2025, 3, 4), Satisfaction.BASICALLY_SATISFIED), (town.b1, (2025, 3, 5), Satisfaction.UNSATISFIED),
            (town.b1, (2025, 3, 6), None)]):
        when = dt.datetime(*month_day, 2, 0, tzinfo=dt.UTC)
        state = Status.CLOSED if sat else Status.DISPATCHED
        made.append(factories.make_case(grid=grid, actor=dora, state=state, now=when, satisfaction=sat or "",
                                        title=f"历史诉求{k}", category=town.cat_leaf if k % 2 else town.cat_other))
    services.cancel(factories.make_case(grid=town.a1, actor=dora, state=Status.DISPATCHED,
                                        now=dt.datetime(2025, 3, 7, tzinfo=dt.UTC)), actor=dora, reason="重复")
    return made


def embedded(html: str, name: str):
    return json.loads(re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S)[1])


@pytest.mark.django_db
def test_the_dashboard_embeds_the_selectors_figures_for_its_period_and_scope(client, town, history):
    login(client, town, Role.SUPERVISOR)
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/?start=2025-02-01&end=2025-03-31&scope=assessed").content.decode()
    trend = embedded(html, "trend-data")
    # Independently: February 1 case (closed, on time), March 4 + 1 excluded; one March case still open.
    assert trend["months"] == ["2025-02", "2025-03"]
    assert trend["received"] == [1, 4] and trend["resolved"] == [1, 3] and trend["resolve_on_time"] == [1, 3]
    months = selectors.rates(group_by="month", start=dt.date(2025, 2, 1), end=dt.date(2025, 3, 31), now=T0)
    assert trend["received"] == [r["received"] for r in months]
    cats = embedded(html, "category-data")
    assert dict(zip(cats["labels"], cats["received"], strict=True)) == {"城乡建设": 2, "社会保障": 3}
    assert '<b data-testid="received">5</b>' in html and '<b data-testid="valid_callbacks">4</b>' in html
    # satisfaction = (2 + 0.9) / 4 = 72.5 %; response 4/4; resolution 4/4 (make_case answers "solved")
    assert '<b data-testid="satisfaction_rate">72.5%</b>' in html
    assert '<b data-testid="response_rate">100.0%</b>' in html
    with time_machine.travel(T0, tick=False):
        full = client.get("/dashboard/?start=2025-02-01&end=2025-03-31&scope=all").content.decode()
    assert embedded(full, "trend-data")["received"] == [1, 5]


@pytest.mark.django_db
def test_the_overdue_list_escalates_and_comes_back_to_the_dashboard(client, town, history):
    login(client, town, Role.SUPERVISOR)
    open_case = history[-1]
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/?start=2025-02-01&end=2025-03-31").content.decode()
        assert f'data-case="{open_case.pk}"' in html
        lateness = T0 - open_case.respond_due_at
        assert lateness_display(lateness) in html
        response = client.post(f"/cases/{open_case.pk}/do/escalate/", {
            "escalate-seen": "dispatched", "escalate-note": "请本周内办结",
            "escalate-next": "/dashboard/?start=2025-02-01&end=2025-03-31#overdue"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/?start=2025-02-01&end=2025-03-31#overdue"
    assert CaseEvent.objects.filter(case=open_case, action=Action.ESCALATED, note="请本周内办结").count() == 1


@pytest.mark.django_db
def test_a_next_address_off_the_site_is_ignored(client, town, history):
    login(client, town, Role.SUPERVISOR)
    response = client.post(f"/cases/{history[-1].pk}/do/escalate/", {
        "escalate-seen": "dispatched", "escalate-note": "督办", "escalate-next": "https://evil.example/"})
    assert response["Location"] == f"/cases/{history[-1].pk}/"


def rows_sorted(rows):
    """Villages as the dashboard orders them: ranked first by rank, then the others by code."""
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["key"])))


@pytest.mark.django_db
def test_csv_and_xlsx_downloads_hold_the_village_table_on_screen(client, town, history):
    login(client, town, Role.SUPERVISOR)
    query = "?start=2025-02-01&end=2025-03-31&scope=assessed"
    with time_machine.travel(T0, tick=False):
        rows = selectors.rates(group_by="village", start=dt.date(2025, 2, 1), end=dt.date(2025, 3, 31), now=T0)
        csv_response = client.get(f"/dashboard/export/villages.csv{query}", HTTP_ACCEPT_LANGUAGE="zh-CN")
        xlsx_response = client.get(f"/dashboard/export/villages.xlsx{query}", HTTP_ACCEPT_LANGUAGE="zh-CN")
    # A Chinese name with the period and the scope (RFC 5987 for the non-ASCII name), issue 16 §9.
    assert csv_response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%E5%90%84%E6%9D%91%E4%B8%89%E7%8E%87_2025-02-01%E8%87%B32025-03-31_"
        "%E8%80%83%E6%A0%B8%E5%8F%A3%E5%BE%84.csv")  # 各村三率_2025-02-01至2025-03-31_考核口径.csv
    body = csv_response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(body[1:])))
    assert table[0][:5] == ["排名", "名称", "编码", "受理", "派单"]
    assert {r[2]: int(r[3]) for r in table[1:]} == {r["key"]: r["received"] for r in rows} == {
        town.a.code: 3, town.b.code: 2}
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    assert sheet.title == "各村三率 2025-02-01至2025-03-31"
    satisfaction = table[0].index("满意率")
    assert [r[satisfaction] for r in table[1:]] == [
        "" if r["satisfaction_rate"] is None else f"{r['satisfaction_rate'] * 100:.1f}%" for r in rows_sorted(rows)]

    def same(cell):
        if isinstance(cell, str) and cell.endswith("%"):  # the CSV's "72.5%" is the XLSX's 0.725
            return round(float(cell[:-1]) / 100, 3)
        try:
            return round(float(cell), 3)
        except (TypeError, ValueError):
            return "" if cell is None else cell

    assert [[same(c) for c in row] for row in sheet.values] == [[same(c) for c in row] for row in table]
    overdue = client.get(f"/dashboard/export/overdue.csv{query}").content.decode("utf-8")
    assert history[-1].number in overdue
    with time_machine.travel(T0, tick=False):
        months = client.get(f"/dashboard/export/months.csv{query}").content.decode("utf-8")
        grids = client.get(f"/dashboard/export/grids.xlsx{query}&village={town.a.pk}")
    assert [(r[2], r[3]) for r in list(csv.reader(io.StringIO(months[1:])))[1:]] == [("2025-02", "1"), ("2025-03", "4")]
    assert {row[2]: row[3] for row in list(load_workbook(io.BytesIO(grids.content)).active.values)[1:]} == {
        town.a1.code: 2, town.a2.code: 1}
    assert client.get(f"/dashboard/export/cases.csv{query}").status_code == 404


@pytest.mark.django_db
def test_drill_down_from_village_to_grids_to_cases(client, town, history):
    login(client, town, Role.SUPERVISOR)
    query = "start=2025-02-01&end=2025-03-31&scope=assessed"
    with time_machine.travel(T0, tick=False):
        board = client.get(f"/dashboard/?{query}").content.decode()
        assert f"/dashboard/villages/{town.a.pk}/?" in board
        html = client.get(f"/dashboard/villages/{town.a.pk}/?{query}").content.decode()
    grid_rows = dict(re.findall(r'<tr data-key="([^"]+)"><td>[^<]*</td>\s*<td><a href="[^"]+">[^<]+</a></td>\s*<td>(\d+)</td>',
                                html))
    assert grid_rows == {town.a1.code: "2", town.a2.code: "1"}
    link = re.search(rf'href="(/cases/\?grid={town.a1.pk}&[^"]+)"', html)[1].replace("&amp;", "&")
    listing = client.get(link).content.decode()
    assert history[0].number in listing and history[1].number in listing and history[2].number not in listing


@pytest.mark.django_db
def test_a_village_leaders_dashboard_counts_only_own_village(client, town, history):
    login(client, town, Role.VILLAGE_LEADER)
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/?start=2025-02-01&end=2025-03-31").content.decode()
    assert embedded(html, "trend-data")["received"] == [1, 2]
    assert client.get(f"/dashboard/villages/{town.b.pk}/").status_code == 404


@pytest.mark.django_db
def test_the_language_switch_turns_the_pages_english(client, town):
    login(client, town, Role.GRID_LEADER)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/workbench/"})
    assert response["Location"] == "/workbench/"
    html = client.get("/workbench/").content.decode()
    assert "My open cases" in html and '<html lang="en">' in html and "Log a case" in html
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/workbench/"})
    assert "我的待办" in client.get("/workbench/").content.decode()


@pytest.mark.django_db
def test_an_english_browser_still_gets_chinese_until_the_switch_is_used(client, town):
    login(client, town, Role.GRID_LEADER)
    html = client.get("/workbench/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "我的待办" in html and '<html lang="zh-CN">' in html


@pytest.mark.django_db
def test_chinese_is_the_default_without_a_language_preference(client, town):
    login(client, town, Role.GRID_LEADER)
    html = client.get("/workbench/").content.decode()
    assert '<html lang="zh-CN">' in html and "我的待办" in html


@pytest.mark.django_db
# The last twelve months day for day: in December not the same as "this year" (issue 16 §8).
@pytest.mark.parametrize(("today", "start"), [(T0, "2024-04-08"), (dt.datetime(2025, 12, 5, 4, tzinfo=dt.UTC), "2024-12-06")])
def test_the_dashboard_shows_the_last_twelve_calendar_months_by_default(client, town, today, start):
    login(client, town, Role.SUPERVISOR)
    with time_machine.travel(today, tick=False):
        html = client.get("/dashboard/").content.decode()
    end = today.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert f'name="start" value="{start}"' in html and f'name="end" value="{end}"' in html


# --- A newcomer's first start (real cases 2011–2020; DEBUG off) ----------------------------------------------

SH = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.django_db
def test_the_default_period_moves_to_the_latest_case_when_the_last_twelve_months_have_none(client, town):
    dora = town.user(Role.DISPATCHER)
    # Imported history: the latest case is received 2020-02-01 01:00 in Xiji (still January in UTC).
    factories.make_case(grid=town.a1, actor=dora, state=Status.CLOSED, now=dt.datetime(2019, 6, 10, 2, tzinfo=dt.UTC))
    factories.make_case(grid=town.a2, actor=dora, state=Status.CLOSED, now=dt.datetime(2020, 1, 31, 17, tzinfo=dt.UTC))
    factories.make_case(grid=town.a1, actor=dora, state=Status.CLOSED, now=dt.datetime(2019, 2, 28, 17, tzinfo=dt.UTC))
    login(client, town, Role.SUPERVISOR)
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    # The twelve months ending with February 2020 (Asia/Shanghai): 2019-03-01 … 2020-02-29; the case of
    # 2019-03-01 01:00 (Xiji) is the first day's, and the case of 2019-06 is inside.
    assert 'name="start" value="2019-03-01"' in html and 'name="end" value="2020-02-29"' in html
    assert '<b data-testid="received">3</b>' in html
    assert 'data-testid="period-moved">最近12个月无诉求，显示截至最新诉求的12个月。</p>' in html
    # Explicit dates are kept as given, without the note; "全部" (empty dates) too.
    with time_machine.travel(T0, tick=False):
        given = client.get("/dashboard/?start=2025-01-01&end=2025-03-31").content.decode()
        everything = client.get("/dashboard/?start=&end=&scope=assessed").content.decode()
    assert 'name="start" value="2025-01-01"' in given and '<b data-testid="received">0</b>' in given
    assert "period-moved" not in given and "period-moved" not in everything
    assert '<b data-testid="received">3</b>' in everything

    # A case in the last twelve months anywhere in town: the supervisor's default is those months again…
    factories.make_case(grid=town.b1, actor=dora, state=Status.DISPATCHED, now=T0 - dt.timedelta(days=30))
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/").content.decode()
        login(client, town, Role.VILLAGE_LEADER)  # … but village a has none in them: its own latest counts
        own = client.get("/dashboard/").content.decode()
    assert 'name="start" value="2024-04-08"' in html and 'name="end" value="2025-04-07"' in html
    assert '<b data-testid="received">1</b>' in html and "period-moved" not in html
    assert 'name="start" value="2019-03-01"' in own and 'name="end" value="2020-02-29"' in own
    assert 'data-testid="period-moved"' in own


@pytest.mark.django_db
def test_the_grid_download_without_a_village_holds_every_grid_in_scope(client, town, history):
    query = "?start=2025-02-01&end=2025-03-31&scope=assessed"

    def grid_table(response):
        assert response.status_code == 200, response.status_code
        return {row[2]: row[3] for row in list(csv.reader(io.StringIO(response.content.decode("utf-8")[1:])))[1:]}

    login(client, town, Role.SUPERVISOR)
    with time_machine.travel(T0, tick=False):
        everything = client.get(f"/dashboard/export/grids.csv{query}")
        sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/export/grids.xlsx{query}").content)).active
        expected = selectors.rates(group_by="grid", start=dt.date(2025, 2, 1), end=dt.date(2025, 3, 31), now=T0)
    # By hand: a1 2 (Feb 10, Mar 3), a2 1, b1 2; the cancelled a1 case is excluded from the assessed scope.
    assert grid_table(everything) == {town.a1.code: "2", town.a2.code: "1", town.b1.code: "2"} == {
        r["key"]: str(r["received"]) for r in expected}
    assert {row[2]: row[3] for row in list(sheet.values)[1:]} == {town.a1.code: 2, town.a2.code: 1, town.b1.code: 2}
    login(client, town, Role.VILLAGE_LEADER)  # village a only
    with time_machine.travel(T0, tick=False):
        assert grid_table(client.get(f"/dashboard/export/grids.csv{query}")) == {town.a1.code: "2", town.a2.code: "1"}
        assert client.get(f"/dashboard/export/grids.csv{query}&village={town.b.pk}").status_code == 404
        assert client.get(f"/dashboard/export/grids.csv{query}&village=abc").status_code == 404


@pytest.mark.django_db
def test_a_deputy_logs_a_case_with_source_liaison_station_by_default(client, town):
    from reps.models import Deputy, LiaisonStation, RaisedDemand
    from reps.services import link_login

    login(client, town, Role.DEPUTY)
    page = client.get("/cases/new/").content.decode()
    # Only the liaison station: a deputy does not log patrol or hotline cases (issue 16 build 6).
    assert '<option value="deputy" selected>' in page and '<option value="patrol">' not in page
    # A deputy login without a deputy record: a plain case with source deputy, theirs to see.
    response = client.post("/cases/new/", case_form(town, grid="", source=Source.DEPUTY, description="建议增设公交站"))
    case = Case.objects.latest("pk")
    assert response.status_code == 302 and (case.source, case.status) == (Source.DEPUTY, Status.RECEIVED)
    assert not RaisedDemand.objects.filter(case=case).exists()
    # Linked to a deputy of a station: the demand is raised with its deputy and station (DESIGN §8).
    station = LiaisonStation.objects.create(code="LS99", name="测试联络站", village=town.a, theme="respond_at_once")
    deputy = link_login(Deputy.objects.create(code="LS99-1", name="代表甲", level="district", station=station),
                        town.user(Role.DEPUTY))
    response = client.post("/cases/new/", case_form(town, grid="", source=Source.DEPUTY, description="路口缺红绿灯"))
    case = Case.objects.latest("pk")
    assert response.status_code == 302 and case.source == Source.DEPUTY
    demand = RaisedDemand.objects.get(case=case)
    assert (demand.deputy, demand.station) == (deputy, station)
    assert client.get(f"/cases/{case.pk}/").status_code == 200
    # The other roles keep their defaults and are not offered the liaison station.
    for role, default in ((Role.GRID_LEADER, "patrol"), (Role.DISPATCHER, "hotline")):
        login(client, town, role)
        page = client.get("/cases/new/").content.decode()
        assert f'<option value="{default}" selected>' in page and 'value="deputy"' not in page
    response = client.post("/cases/new/", case_form(town, grid="", source=Source.DEPUTY), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 400 and field_errors(response.content.decode(), "source")


@pytest.mark.django_db
def test_reloading_a_failed_action_redirects_to_the_case_page(client, town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESPONDED)
    login(client, town, Role.GRID_LEADER)
    url = f"/cases/{case.pk}/do/resolve/"
    failed = client.post(url, {"resolve-seen": "responded", "resolve-solved": "yes", "resolve-result": ""},
                         HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert failed.status_code == 400 and field_errors(failed.content.decode(), "resolve-result") == ["请填写办理结果。"]
    reloaded = client.get(url)
    assert reloaded.status_code == 302 and reloaded["Location"] == f"/cases/{case.pk}/"
    assert client.head(url).status_code == 302
    assert client.put(url).status_code == 405
    assert Case.objects.get(pk=case.pk).status == Status.RESPONDED
    other = factories.make_case(grid=town.a2, actor=town.user(Role.DISPATCHER), state=Status.RESPONDED)
    assert client.get(f"/cases/{other.pk}/do/resolve/").status_code == 404  # outside the scope: still 404
    assert client.get(f"/cases/{case.pk}/do/fly/").status_code == 404


@pytest.mark.django_db
def test_403_and_404_are_friendly_pages_in_the_users_language_with_the_way_back(client, town):
    login(client, town, Role.GRID_LEADER)
    denied = client.get("/intake/")
    html = denied.content.decode()
    assert denied.status_code == 403
    assert "<h1>无权访问</h1>" in html and 'class="brand"' in html and 'data-testid="lang-en"' in html
    assert '<a class="btn primary" href="/" data-testid="back-home">返回首页</a>' in html
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and "<h1>页面不存在</h1>" in missing.content.decode()
    client.cookies["django_language"] = "en"
    html = client.get("/intake/").content.decode()
    assert "<h1>Access denied</h1>" in html and "Back to the start page" in html and '<html lang="en">' in html
    assert "<h1>Page not found</h1>" in client.get("/cases/999999999/").content.decode()
    client.logout()  # (also forgets the language cookie)
    anonymous = client.get("/no-such-page/")
    assert anonymous.status_code == 404 and "<h1>页面不存在</h1>" in anonymous.content.decode()


@pytest.mark.django_db
def test_a_refused_user_keeps_the_menu_of_their_own_role_on_the_403_page(client, town):
    login(client, town, Role.GRID_LEADER)
    response = client.get("/intake/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert response.status_code == 403 and "<h1>无权访问</h1>" in html
    menu = re.search(r'<nav class="nav" aria-label="主菜单">(.*?)</nav>', html, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', menu) == ["/workbench/", "/cases/new/", "/cases/"]
    assert 'data-testid="bell"' in html  # the notifications badge, as on every page


@pytest.mark.django_db
def test_a_403_is_logged_once_as_one_line(client, town, caplog):
    login(client, town, Role.GRID_LEADER)
    with caplog.at_level(logging.INFO):
        assert client.get("/intake/").status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage(), r.exc_info) for r in records] == [
        ("WARNING", "Forbidden (Permission denied): /intake/", None)]
    # Only the root's handler prints it: the django logger has no console handler of its own.
    assert not [h for h in logging.getLogger("django").handlers if type(h) is logging.StreamHandler]
    assert logging.getLogger("django").propagate


@pytest.mark.django_db
def test_awaiting_callback_lists_the_newest_resolved_first_in_pages(client, town, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.views import intake

    monkeypatch.setattr(intake, "PAGE_ROWS", 3)
    dora = town.user(Role.DISPATCHER)
    made = [factories.make_case(grid=town.a1, actor=dora, state=Status.RESOLVED, now=T0 + dt.timedelta(days=k))
            for k in (0, 2, 1, 3)]  # resolved on T0, T0+2d, T0+1d, T0+3d
    login(client, town, Role.DISPATCHER)

    def to_call(query=""):
        """(case ids listed, the section's HTML, queries the page took)."""
        with CaptureQueriesContext(connection) as queries:
            html = client.get(f"/intake/{query}").content.decode()
        section = html.split('data-testid="to-call"')[1].split("</section>")[0]
        return [int(pk) for pk in re.findall(r'data-case="(\d+)"', section)], section, len(queries)

    first, section, queries = to_call()
    assert first == [made[3].pk, made[1].pk, made[2].pk]
    assert '<span class="count">4</span>' in section
    following = re.search(r'href="\?([^"]*call_cursor=[^"#]*)#to-call" rel="next"', section).group(1)
    second, section, _queries = to_call("?" + following.replace("&amp;", "&"))
    assert second == [made[0].pk] and 'rel="next"' not in section and 'rel="first"' in section
    for k in range(4, 10):  # more cases waiting: the same number of queries
        factories.make_case(grid=town.a1, actor=dora, state=Status.RESOLVED, now=T0 + dt.timedelta(days=k))
    assert to_call()[2] == queries


@pytest.mark.django_db
def test_months_without_a_decided_deadline_have_no_on_time_rate(client, town, history):
    dora = town.user(Role.DISPATCHER)
    factories.make_case(grid=town.a1, actor=dora, state=Status.CLOSED, now=dt.datetime(2024, 12, 2, 2, tzinfo=dt.UTC))
    login(client, town, Role.SUPERVISOR)
    with time_machine.travel(T0, tick=False):
        trend = embedded(client.get("/dashboard/?start=2024-12-01&end=2025-03-31").content.decode(), "trend-data")
    assert trend["months"] == ["2024-12", "2025-01", "2025-02", "2025-03"]
    assert trend["received"] == [1, 0, 1, 4]
    # December, February: the one deadline met (100 %); January: no case, so no rate (a gap, not 100 %);
    # March: 3 of 4 assessed cases resolved on time, the 4th still open past its resolve deadline (75 %).
    assert trend["resolve_on_time_rate"] == [100.0, None, 100.0, 75.0]


@pytest.mark.django_db
def test_the_admin_carries_the_product_name_and_visits_cannot_be_deleted_there(client, town):
    from django.contrib.auth import get_user_model

    gv.plan_week("2025-W15", now=T0)
    visit = Visit.objects.filter(iso_week="2025-W15").first()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.cn", "x"))
    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "<title>站点管理 | 西集网格</title>" in html and '<a href="/admin/">西集网格</a>' in html
    assert "Django" not in re.search(r"<title>.*?</title>", html)[0]
    listing = client.get("/admin/reps/visit/").content.decode()
    assert str(visit.village) in listing and "delete_selected" not in listing
    assert client.get(f"/admin/reps/visit/{visit.pk}/delete/").status_code == 403
    assert client.post("/admin/reps/visit/", {"action": "delete_selected", "_selected_action": [visit.pk],
                                               "post": "yes"}).status_code in (200, 302)
    assert Visit.objects.filter(pk=visit.pk).exists()
    client.cookies["django_language"] = "en"
    assert "Xiji Grid" in re.search(r"<title>.*?</title>", client.get("/admin/").content.decode())[0]


@pytest.mark.django_db
def test_english_labels_use_ascii_colons_and_count_labels_read_resolved(client, town, history):
    login(client, town, Role.SUPERVISOR)
    client.cookies["django_language"] = "en"
    with time_machine.travel(T0, tick=False):
        html = client.get("/dashboard/?start=2025-02-01&end=2025-03-31").content.decode()
    assert "Received: 2025-02-01" in html and "Download: <a" in html and "：" not in html
    assert '<span>Resolved</span><b data-testid="resolved">4</b>' in html
    assert "<th>Resolved</th>" in html and "<th>Resolve</th>" not in html
    with time_machine.travel(T0, tick=False):
        exported = client.get("/dashboard/export/villages.csv?start=2025-02-01&end=2025-03-31").content.decode()
    assert exported.splitlines()[0].split(",")[3:8] == ["Received", "Dispatched", "Responded", "Resolved", "Closed"]
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RESPONDED)
    login(client, town, Role.GRID_LEADER)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert '<summary>Resolve</summary>' in page  # the action keeps its verb
    assert "：" not in page
