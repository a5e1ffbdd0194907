"""One JSON log line per request and task, a request id carried into tasks, and no personal data in any log
record of a full flow (issue 18.4)."""
import io
import json
import logging

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from cases.choices import Status
from cases.tasks import sweep_deadlines
from grids.choices import Role
from xiji_grid import requestlog

from . import factories

NAME, PHONE, ID_NUMBER = "王小明", "13812345678", "110101199003071234"


@pytest.fixture
def console_lines():
    """Every record as the configured console handler writes it (its filters and JSON formatter)."""
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    out = io.StringIO()
    capture = logging.StreamHandler(out)
    capture.setFormatter(console.formatter)
    for f in console.filters:
        capture.addFilter(f)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: out.getvalue().splitlines()
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)


@pytest.mark.django_db
def test_a_full_flow_logs_json_lines_without_personal_data(console_lines):
    town = factories.build_town()
    dispatcher, leader = APIClient(), APIClient()
    dispatcher.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.DISPATCHER]}")
    leader.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[Role.GRID_LEADER]}")
    body = {"kind": "complaint", "source": "hotline", "title": f"联系人：{NAME} 电话{PHONE}",
            "description": f"我叫{NAME}，身份证{ID_NUMBER}，手机{PHONE}", "grid": town.a1.pk,
            "complainant_name": NAME, "complainant_phone": PHONE}
    created = dispatcher.post("/api/v1/cases/", body, format="json", HTTP_X_REQUEST_ID="req-flow-1")
    assert created.status_code == 201 and created["X-Request-ID"] == "req-flow-1"
    case = created.json()["id"]
    steps = [(dispatcher, "dispatch", {"grid": town.a1.pk}), (leader, "accept", {}),
             (leader, "respond", {"note": f"已致电{PHONE}"}), (leader, "resolve", {"solved": True, "result": NAME}),
             (dispatcher, "callback", {"contacted": True, "solved": True, "satisfaction": "satisfied"}),
             (dispatcher, "close", {})]
    for client, action, data in steps:
        assert client.post(f"/api/v1/cases/{case}/{action}/", data, format="json").status_code == 200
    dispatcher.get(f"/api/v1/cases/?q={PHONE}")  # a search by phone: its query string is never logged
    APIClient().post("/api/v1/auth/token/", {"username": NAME, "password": PHONE}, format="json")  # failed login
    dispatcher.post("/api/v1/cases/", {"title": PHONE}, format="json")  # a 400
    factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED,
                        description=f"{NAME} {PHONE}")
    sweep_deadlines.apply()
    call_command("sweep_deadlines", stdout=io.StringIO())

    lines = console_lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    text = "\n".join(lines)
    for secret in (NAME, PHONE, ID_NUMBER):
        assert secret not in text, [line for line in lines if secret in line][:3]
    requests_logged = [r for r in records if r["logger"] == "xiji.request"]
    assert len(requests_logged) == 10  # create, 6 steps, search, failed login, a 400
    first = requests_logged[0]
    assert (first["method"], first["path"], first["status"], first["request_id"]) == (
        "POST", "/api/v1/cases/", 201, "req-flow-1")
    assert {r["path"] for r in requests_logged if r["method"] == "GET"} == {"/api/v1/cases/"}
    tasks_logged = [r for r in records if r["logger"] == "xiji.task"]
    assert [r["task"] for r in tasks_logged] == ["cases.sweep_deadlines"]
    assert tasks_logged[0]["state"] == "SUCCESS" and tasks_logged[0]["request_id"].startswith("task-")


def test_the_request_id_travels_in_the_task_headers():
    token = requestlog.request_id_var.set("req-carry-7")
    try:
        headers = {}
        requestlog._carry_request_id(headers=headers)
    finally:
        requestlog.request_id_var.reset(token)
    assert headers == {"xiji_request_id": "req-carry-7"}

    class Request:
        xiji_request_id = "req-carry-7"
        headers = None

    class Task:
        name = "grids.registry_summary"
        request = Request()

    requestlog._task_prerun(task_id="t1", task=Task())
    assert requestlog.request_id_var.get() == "req-carry-7"
    requestlog._task_postrun(task_id="t1", task=Task(), state="SUCCESS")
    assert requestlog.request_id_var.get() is None


def test_a_hostile_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()
