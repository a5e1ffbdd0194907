"""The Prometheus endpoint: protected, the product's own figures, read from the database (issue 18.3)."""
import datetime as dt
import json

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from prometheus_client.parser import text_string_to_metric_families

from cases import metrics
from cases.choices import Status
from cases.models import SweepRun
from grids.choices import Role
from tests.conftest import ROOT

from . import factories

T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=dt.UTC)


def samples(body: bytes) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


@pytest.mark.django_db
def test_metrics_need_a_token_or_an_admin(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").status_code == 200
    client.force_login(User.objects.create_user("plain"))
    assert client.get("/metrics").status_code == 403
    admin = User.objects.create_user("boss")
    admin.groups.add(Group.objects.get_or_create(name="admin")[0])
    client.force_login(admin)
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_carry_the_products_figures(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    town = factories.build_town()
    dora = town.user(Role.DISPATCHER)
    for state in (Status.RECEIVED, Status.DISPATCHED, Status.DISPATCHED, Status.CLOSED):
        factories.make_case(grid=town.a1, actor=dora, state=state)
    SweepRun.objects.create(started_at=T0, finished_at=T0 + dt.timedelta(seconds=3), swept_at=T0, trigger="task")
    metrics.increment(sweep_marks=7, delivery_failures=2)
    metrics.increment(sweep_marks=1)
    with time_machine.travel(T0 + dt.timedelta(seconds=63), tick=False):
        body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").content
    got = samples(body)
    assert got[("xiji_open_cases", (("status", "dispatched"),))] == 2
    assert got[("xiji_open_cases", (("status", "received"),))] == 1
    assert got[("xiji_open_cases", (("status", "returned"),))] == 0
    assert got[("xiji_sweep_lag_seconds", ())] == 60
    assert got[("xiji_sweep_duration_seconds", ())] == 3
    assert got[("xiji_sweep_marks_total", ())] == 8
    assert got[("xiji_delivery_failures_total", ())] == 2
    assert got[("xiji_due_backlog", ())] == 0
    assert ("xiji_notifications_total", ()) in got and ("xiji_import_rows_total", ()) in got


def test_the_sample_grafana_dashboard_uses_only_metrics_the_endpoint_has():
    board = json.loads((ROOT / "deploy" / "grafana" / "xiji-grid.json").read_text())
    names = {"xiji_open_cases", "xiji_due_backlog", "xiji_sweep_lag_seconds", "xiji_sweep_duration_seconds",
             "xiji_login_failures_total"} | {f"xiji_{n}_total" for n in metrics.COUNTERS}
    import re

    used = {m for p in board["panels"] for t in p["targets"] for m in re.findall(r"xiji_[a-z_]+", t["expr"])}
    assert used and used <= names


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/visits/abc/", "/api/v1/receptions/1.5/", "/api/v1/no-such-thing/"])
def test_an_api_path_that_matches_no_route_answers_json_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "未找到。"}


@pytest.mark.django_db
def test_a_page_path_that_matches_nothing_keeps_the_friendly_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_blank_enum_answers_are_allowed_by_the_schema(client):
    """A case without callback answers ``satisfaction: ""``, an event without previous state ``from_status: ""``,
    a category without default ``default_urgency: ""``: the schema must allow "" for each (issue 19.5)."""
    town = factories.build_town()
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RECEIVED)
    headers = town.auth(Role.ADMIN)
    assert client.get(f"/api/v1/cases/{case.pk}/", **headers).json()["satisfaction"] == ""
    assert client.get(f"/api/v1/cases/{case.pk}/events/", **headers).json()["results"][0]["from_status"] == ""
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]

    def allows_blank(prop):
        refs = [alt["$ref"].rsplit("/", 1)[-1] for alt in prop.get("oneOf", [])]
        return any(schema[r].get("enum") == [""] for r in refs)

    assert allows_blank(schema["Case"]["properties"]["satisfaction"])
    assert allows_blank(schema["CaseEvent"]["properties"]["from_status"])
    assert allows_blank(schema["Category"]["properties"]["default_urgency"])


@pytest.mark.django_db
def test_imports_count_their_rows(tmp_path):
    import io

    from django.core.management import call_command

    factories.build_town()
    path = tmp_path / "hotline.csv"
    path.write_text("工单编号,受理时间,标题\nH-1,2025-04-01 09:00:00,路灯不亮\nH-2,,积水\nH-3,2025-04-01 10:00:00,噪音\n",
                    encoding="utf-8")
    call_command("import_cases", str(path), "--skip-invalid", stdout=io.StringIO(), stderr=io.StringIO())
    values = metrics.counter_values()
    assert (values["import_rows"], values["import_bad_rows"]) == (2, 1)
