"""The weekly visits' API (issue 7 §4, §5, §7): list with filters and scope, one visit, record, raise a case
at a visit, coverage.

The town is the seeded one with the personas of ``tests/factories.py``; cai is town cadre 01, assigned to the
1st (village a), 21st and 41st unit in code order; village b (the 2nd) belongs to town cadre 02. Visits are
planned for 2025-W41 (Monday 2025-10-06 is a National Day holiday: every visit on Thursday 2025-10-09) and
2025-W42 (Monday 2025-10-13). Requests run at NOW, Monday 2025-10-13 12:00 in Xiji.
"""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cases.choices import Source, Status
from cases.models import Case
from grids.choices import CadreLevel, Role
from grids.models import Cadre, Village, VillageAssignment
from reps import visits as v
from reps.choices import VisitStatus
from reps.models import Visit

from . import factories

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 10, 13, 12, 0, tzinfo=SH)
W41, W42 = "2025-W41", "2025-W42"
ROLES = list(Role.values)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        with django_db_blocker.unblock():
            v.plan_week(W41, now=NOW)
            v.plan_week(W42, now=NOW)
            town.villages = list(Village.objects.order_by("code"))
            town.cai = Cadre.objects.get(user=town.user(Role.CADRE))
            town.visit_a = Visit.objects.get(village=town.a, iso_week=W42)  # cai's
            town.visit_b = Visit.objects.get(village=town.b, iso_week=W42)  # town cadre 02's
        yield town


def client(town, role) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    return c


def get(town, role, url, params=None):
    with time_machine.travel(NOW, tick=False):
        return client(town, role).get(url, params or {})


def post(town, role, url, body):
    with time_machine.travel(NOW, tick=False):
        return client(town, role).post(url, body, format="json")


def listed(town, role, params=None) -> list[dict]:
    response = get(town, role, "/api/v1/visits/", {"page_size": 200, **(params or {})})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next"] is None
    return body["results"]


RECORD = {"started_at": "2025-10-13T09:05:00+08:00", "ended_at": "2025-10-13T11:40:00+08:00",
          "households_visited": 12, "people_received": 7, "notes": "  走访12户，接待群众7人  "}


# --- Listing and scope ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_the_visits_of_its_scope(town, role):
    villages = {row["village"] for row in listed(town, role, {"week": W42})}
    a, cai_villages = town.a.pk, {town.villages[i].pk for i in (0, 20, 40)}
    expected = {
        Role.ADMIN: {village.pk for village in town.villages},
        Role.DISPATCHER: {village.pk for village in town.villages},
        Role.SUPERVISOR: {village.pk for village in town.villages},
        Role.VILLAGE_LEADER: {a},  # own village
        Role.GRID_LEADER: {a},  # the village of grid a-1
        Role.CADRE: cai_villages,  # own visits = assigned villages
        Role.DEPUTY: set(),
    }[role]
    assert villages == expected


@pytest.mark.django_db
def test_a_cadre_keeps_own_past_visits_and_sees_other_cadres_visits_to_assigned_villages(town):
    # cai's assignment to the 21st unit ended before NOW: cai still sees own visit there (history). A second
    # cadre, cora, is assigned to village a too: cora sees cai's visit to a, not cai's visit to the 21st unit.
    twenty_first = town.villages[20]
    VillageAssignment.objects.filter(cadre=town.cai, village=twenty_first).update(end_date=dt.date(2025, 10, 1))
    assert twenty_first.pk in {row["village"] for row in listed(town, Role.CADRE, {"week": W42})}

    other = factories.UserFactory(username="cora", roles=[Role.CADRE])
    cora = Cadre.objects.create(name="包村干部测试（演示）", level=CadreLevel.TOWN, role=Role.CADRE, user=other)
    VillageAssignment.objects.create(cadre=cora, village=town.a, start_date=dt.date(2025, 10, 1))
    c = APIClient()
    c.force_authenticate(other)
    with time_machine.travel(NOW, tick=False):
        rows = c.get("/api/v1/visits/", {"week": W42}).json()["results"]
        assert [(row["cadre"], row["village"]) for row in rows] == [(town.cai.pk, town.a.pk)]
        assert c.get(f"/api/v1/visits/{town.visit_a.pk}/").status_code == 200
        cai_21 = Visit.objects.get(cadre=town.cai, village=twenty_first, iso_week=W42)
        assert c.get(f"/api/v1/visits/{cai_21.pk}/").status_code == 404


@pytest.mark.django_db
def test_one_visit_shows_its_plan_and_state(town):
    thursday = Visit.objects.get(village=town.a, iso_week=W41)
    body = get(town, Role.CADRE, f"/api/v1/visits/{thursday.pk}/").json()
    assert (body["iso_week"], body["planned_date"], body["status"], body["status_label"]) == (
        W41, "2025-10-09", "planned", "计划")
    assert (body["cadre"], body["cadre_name"], body["village"], body["village_name"]) == (
        town.cai.pk, "包村干部01（演示）", town.a.pk, town.a.short_name)
    assert (body["started_at"], body["households_visited"], body["cases_raised"]) == (None, 0, 0)
    assert get(town, Role.CADRE, f"/api/v1/visits/{town.visit_b.pk}/").json()["code"] == "not_found"
    assert get(town, Role.DEPUTY, f"/api/v1/visits/{thursday.pk}/").status_code == 404


@pytest.mark.django_db
def test_filters_by_week_cadre_village_and_several_statuses(town):
    cai = town.cai.pk
    w41 = listed(town, Role.SUPERVISOR, {"week": W41, "cadre_id": cai})
    assert sorted((row["village"], row["planned_date"]) for row in w41) == sorted(
        (town.villages[i].pk, "2025-10-09") for i in (0, 20, 40))
    # "2025W42" is read as 2025-W42; a village's visits of both weeks, newest week first.
    assert [row["iso_week"] for row in listed(town, Role.SUPERVISOR, {"village_id": town.a.pk})] == [W42, W41]
    assert len(listed(town, Role.SUPERVISOR, {"week": "2025W42"})) == 59
    assert {row["iso_week"] for row in listed(town, Role.SUPERVISOR, {"week": "2025-w42"})} == {W42}

    post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/record/", RECORD)
    v.cancel_visit(town.visit_b, actor=town.user(Role.ADMIN), reason="防汛值守", now=NOW)
    both = listed(town, Role.SUPERVISOR, {"week": W42, "status": ["done", "cancelled"]})
    assert sorted((row["id"], row["status"]) for row in both) == sorted(
        [(town.visit_a.pk, "done"), (town.visit_b.pk, "cancelled")])
    assert len(listed(town, Role.SUPERVISOR, {"week": W42, "status": "planned"})) == 57

    for params, field in (({"week": "2025-W54"}, "week"), ({"week": "W42"}, "week"),
                          ({"status": "gone"}, "status"), ({"cadre_id": "0"}, "cadre_id")):
        response = get(town, Role.SUPERVISOR, "/api/v1/visits/", params)
        assert response.status_code == 400, params
        assert list(response.json()) == [field]


@pytest.mark.django_db
def test_the_list_runs_the_same_number_of_queries_whatever_the_page_size(town):
    for case in range(3):
        v.raise_case_at_visit(town.visit_a, actor=town.user(Role.CADRE), kind="help", title=f"诉求{case}", now=NOW)
    counts = []
    for size in (5, 200):
        with CaptureQueriesContext(connection) as queries:
            rows = get(town, Role.SUPERVISOR, "/api/v1/visits/", {"page_size": size}).json()["results"]
        assert len(rows) == min(size, 118)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert {row["id"]: row["cases_raised"] for row in rows}[town.visit_a.pk] == 3


# --- Recording -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_visits_cadre_records_it(town):
    response = post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/record/", RECORD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["households_visited"], body["people_received"], body["notes"]) == (
        "done", 12, 7, "走访12户，接待群众7人")
    assert (body["started_at"], body["ended_at"]) == ("2025-10-13T09:05:00+08:00", "2025-10-13T11:40:00+08:00")
    assert body["recorded_by"] == town.user(Role.CADRE).pk
    visit = Visit.objects.get(pk=town.visit_a.pk)
    assert (visit.status, visit.started_at, visit.ended_at) == (VisitStatus.DONE, at(2025, 10, 13, 9, 5),
                                                               at(2025, 10, 13, 11, 40))


#: Who may record: the visit's own cadre (cai, for the visit in scope) and admins; the others who see the
#: visit get 403, those who do not see it 404.
RECORD_STATUS = {
    Role.ADMIN: (200, 200),
    Role.DISPATCHER: (403, 403),
    Role.SUPERVISOR: (403, 403),
    Role.VILLAGE_LEADER: (403, 404),
    Role.GRID_LEADER: (403, 404),
    Role.CADRE: (200, 404),
    Role.DEPUTY: (404, 404),
}


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["in", "out"])
@pytest.mark.parametrize("role", ROLES)
def test_who_may_record_a_visit(town, role, which):
    visit = town.visit_a if which == "in" else town.visit_b
    response = post(town, role, f"/api/v1/visits/{visit.pk}/record/", RECORD)
    expected = RECORD_STATUS[role][0 if which == "in" else 1]
    assert response.status_code == expected, response.content
    status = Visit.objects.get(pk=visit.pk).status
    assert status == (VisitStatus.DONE if expected == 200 else VisitStatus.PLANNED)
    if expected != 200:
        assert response.json()["code"] == {403: "permission_denied", 404: "not_found"}[expected]


@pytest.mark.django_db
def test_bad_records_answer_400_naming_the_fields_and_write_nothing(town):
    url = f"/api/v1/visits/{town.visit_a.pk}/record/"
    cases = [
        ({"ended_at": "2025-10-13T09:00:00+08:00"}, ["ended_at"]),  # before the start
        ({"ended_at": "2025-10-13T12:30:00+08:00"}, ["ended_at"]),  # after NOW + 5 minutes
        ({"started_at": "2025-10-10T09:00:00+08:00", "ended_at": "2025-10-10T11:00:00+08:00"}, ["started_at"]),
        ({"households_visited": -1, "people_received": "many"}, ["households_visited", "people_received"]),
        ({"started_at": "not a time"}, ["started_at"]),
    ]
    for change, fields in cases:
        response = post(town, Role.CADRE, url, {**RECORD, **change})
        assert response.status_code == 400, change
        assert sorted(response.json()) == fields, response.json()
    assert sorted(post(town, Role.CADRE, url, {}).json()) == ["ended_at", "households_visited", "people_received",
                                                              "started_at"]
    visit = Visit.objects.get(pk=town.visit_a.pk)
    assert (visit.status, visit.started_at, visit.households_visited, visit.notes) == (VisitStatus.PLANNED, None, 0,
                                                                                       "")


@pytest.mark.django_db
def test_a_cancelled_or_skipped_visit_answers_409(town):
    v.cancel_visit(town.visit_a, actor=town.user(Role.ADMIN), reason="全镇集中开会", now=NOW)
    response = post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/record/", RECORD)
    assert response.status_code == 409
    assert response.json()["code"] == "visit_not_recordable"
    v.plan_week("2026-W08", now=NOW)  # Spring Festival: no working day, the visits are skipped_holiday
    skipped = Visit.objects.get(village=town.a, iso_week="2026-W08")
    assert skipped.status == VisitStatus.SKIPPED_HOLIDAY
    response = post(town, Role.CADRE, f"/api/v1/visits/{skipped.pk}/record/", RECORD)
    assert (response.status_code, response.json()["code"]) == (409, "visit_not_recordable")


# --- Cases raised at a visit ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_case_raised_at_a_visit_has_source_visit_and_the_visits_village(town):
    body = {"kind": "suggestion", "title": "村口增设路灯", "grid": town.a2.pk, "complainant_phone": "13812345678",
            "source": "hotline", "village": town.b.pk}  # source and village are the visit's, whatever is sent
    response = post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/cases/", body)
    assert response.status_code == 201, response.content
    case = response.json()
    assert (case["source"], case["village"], case["grid"], case["status"], case["title"]) == (
        "visit", town.a.pk, town.a2.pk, "received", "村口增设路灯")
    assert case["complainant_phone"] == "138****5678"  # masked for a cadre, as the cases API shows it
    assert case["number"].startswith("XJ20251013-")
    stored = Case.objects.get(pk=case["id"])
    assert (stored.visit_link.visit_id, stored.source, stored.created_by) == (town.visit_a.pk, Source.VISIT,
                                                                 town.user(Role.CADRE))
    assert list(stored.events.values_list("action", flat=True)) == ["created"]
    assert get(town, Role.CADRE, f"/api/v1/cases/{case['id']}/").json() == case
    assert get(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/").json()["cases_raised"] == 1

    by_admin = post(town, Role.ADMIN, f"/api/v1/visits/{town.visit_a.pk}/cases/",
                    {"kind": "help", "title": "独居老人取暖", "complainant_phone": "13812345678"})
    assert by_admin.status_code == 201
    assert (by_admin.json()["complainant_phone"], by_admin.json()["grid"]) == ("13812345678", None)


@pytest.mark.django_db
def test_raising_a_case_at_a_visit_checks_the_caller_the_input_and_the_visits_state(town):
    url = f"/api/v1/visits/{town.visit_a.pk}/cases/"
    good = {"kind": "help", "title": "独居老人取暖"}
    for role in (Role.VILLAGE_LEADER, Role.GRID_LEADER, Role.SUPERVISOR, Role.DISPATCHER):
        assert post(town, role, url, good).status_code == 403, role
    assert post(town, Role.DEPUTY, url, good).status_code == 404
    assert post(town, Role.CADRE, f"/api/v1/visits/{town.visit_b.pk}/cases/", good).status_code == 404
    response = post(town, Role.CADRE, url, {**good, "grid": town.b1.pk})  # a grid of another village
    assert (response.status_code, list(response.json())) == (400, ["grid"])
    response = post(town, Role.CADRE, url, {"kind": "wish"})
    assert (response.status_code, sorted(response.json())) == (400, ["kind", "title"])
    v.cancel_visit(town.visit_a, actor=town.user(Role.ADMIN), reason="全镇集中开会", now=NOW)
    response = post(town, Role.CADRE, url, good)
    assert (response.status_code, response.json()["code"]) == (409, "visit_not_recordable")
    assert not Case.objects.filter(visit_link__visit=town.visit_a).exists()


@pytest.mark.django_db
def test_a_cadre_who_also_leads_the_grid_has_the_case_dispatched_to_it_at_once(town):
    # DESIGN §5: a case a grid leader logs in an own grid is dispatched to that grid at once.
    town.user(Role.CADRE).groups.add(Group.objects.get_or_create(name=Role.GRID_LEADER)[0])
    town.a1.members.add(town.cai)
    response = post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/cases/",
                    {"kind": "complaint", "title": "沟渠堵塞", "grid": town.a1.pk})
    assert response.status_code == 201, response.content
    case = response.json()
    assert (case["status"], case["grid"], case["handler"], case["source"]) == (
        Status.DISPATCHED, town.a1.pk, town.cai.pk, "visit")
    assert case["deadlines"]["resolve"]["due_at"] == "2025-10-20T12:00:00+08:00"  # general: 7 days


# --- Coverage ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_coverage_of_a_week_per_cadre_and_village(town):
    # W42: cai records the visit to village a and raises two cases there; cadre 02's visit to b is cancelled;
    # the 57 others are still planned. Worked by hand: 59 villages due, 1 visited.
    post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/record/", RECORD)
    for title in ("村口增设路灯", "独居老人取暖"):
        post(town, Role.CADRE, f"/api/v1/visits/{town.visit_a.pk}/cases/", {"kind": "help", "title": title})
    v.cancel_visit(town.visit_b, actor=town.user(Role.ADMIN), reason="防汛值守", now=NOW)

    response = get(town, Role.SUPERVISOR, "/api/v1/visits/coverage/", {"week": W42})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["iso_week"] == W42
    totals = body["totals"]
    assert {k: totals[k] for k in ("total", "planned", "done", "missed", "skipped_holiday", "cancelled",
                                   "villages_due", "villages_visited", "cases_raised")} == {
        "total": 59, "planned": 57, "done": 1, "missed": 0, "skipped_holiday": 0, "cancelled": 1,
        "villages_due": 59, "villages_visited": 1, "cases_raised": 2}
    assert totals["share_visited"] == pytest.approx(1 / 59)
    assert (totals["id"], len(body["by_cadre"]), len(body["by_village"])) == (None, 20, 59)
    cai = next(row for row in body["by_cadre"] if row["id"] == town.cai.pk)
    assert (cai["name"], cai["total"], cai["done"], cai["planned"], cai["villages_due"], cai["cases_raised"]) == (
        "包村干部01（演示）", 3, 1, 2, 3, 2)
    assert cai["share_visited"] == pytest.approx(1 / 3)
    by_village = {row["id"]: row for row in body["by_village"]}
    assert [row["id"] for row in body["by_village"]] == [village.pk for village in town.villages]
    assert (by_village[town.a.pk]["share_visited"], by_village[town.a.pk]["name"]) == (1.0, town.a.short_name)
    assert (by_village[town.b.pk]["cancelled"], by_village[town.b.pk]["share_visited"]) == (1, 0.0)

    # Without a week: the current one (NOW is in 2025-W42). A week of holidays only: nothing due, no share.
    assert get(town, Role.ADMIN, "/api/v1/visits/coverage/").json() == body
    v.plan_week("2026-W08", now=NOW)
    spring = get(town, Role.DISPATCHER, "/api/v1/visits/coverage/", {"week": "2026-W08"}).json()["totals"]
    assert (spring["skipped_holiday"], spring["villages_due"], spring["share_visited"]) == (59, 0, None)
    empty = get(town, Role.DISPATCHER, "/api/v1/visits/coverage/", {"week": "2024-W01"}).json()
    assert (empty["totals"]["total"], empty["totals"]["share_visited"], empty["by_cadre"]) == (0, None, [])


@pytest.mark.django_db
def test_coverage_is_for_the_town_wide_roles_and_refuses_bad_weeks(town):
    for role in ROLES:
        response = get(town, role, "/api/v1/visits/coverage/", {"week": W41})
        assert response.status_code == (200 if role in ("admin", "dispatcher", "supervisor") else 403), role
    assert get(town, Role.SUPERVISOR, "/api/v1/visits/coverage/", {"week": "2025w41"}).json()["iso_week"] == W41
    for week in ("2025-W54", "2025-41", "W41"):
        response = get(town, Role.SUPERVISOR, "/api/v1/visits/coverage/", {"week": week})
        assert (response.status_code, list(response.json())) == (400, ["week"]), week


@pytest.mark.django_db
def test_the_schema_documents_the_visit_endpoints(town):
    schema = get(town, Role.ADMIN, "/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path, method in (("/api/v1/visits/", "get"), ("/api/v1/visits/{id}/", "get"),
                         ("/api/v1/visits/{id}/record/", "post"), ("/api/v1/visits/{id}/cases/", "post"),
                         ("/api/v1/visits/coverage/", "get")):
        assert method in paths[path], path
    names = {p["name"] for p in paths["/api/v1/visits/"]["get"]["parameters"]}
    assert {"week", "cadre_id", "village_id", "status", "page", "page_size"} <= names
    assert set(paths["/api/v1/visits/{id}/record/"]["post"]["responses"]) == {"200", "400", "401", "403", "404",
                                                                               "409"}
