"""The permission matrix of the API, generated from the role list (issue 5, DESIGN §1).

Every role × endpoint × (object in scope, object out of scope) with the expected status, the list
endpoints agreeing with the detail endpoints, and every role × transition on a case in and out of scope.
Expectations are written out here from DESIGN §1 and the lead's brief, not read from ``cases.rules``.
"""
import datetime as dt

import pytest
from rest_framework.test import APIClient

from cases.choices import NotificationKind, Satisfaction, Status
from cases.models import Notification
from cases.services import callback
from grids.choices import Role
from grids.models import VillageAssignment
from reps.models import Visit
from reps.visits import plan_week

from . import factories

ROLES = list(Role.values)
TOWN_WIDE = {"admin", "dispatcher", "supervisor"}
LOCAL = {"grid_leader", "village_leader", "cadre"}


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        with django_db_blocker.unblock():
            dispatcher = town.user(Role.DISPATCHER)
            deputy = town.user(Role.DEPUTY)
            town.case_in = factories.make_case(grid=town.a1, actor=deputy, state=Status.DISPATCHED,
                                               category=town.cat_leaf)
            town.case_out = factories.make_case(grid=town.b1, actor=dispatcher, state=Status.DISPATCHED)
            now = town.case_in.received_at
            town.notes = {
                role: Notification.objects.create(recipient=user, kind=NotificationKind.OTHER, title=f"给{role}",
                                                  dedupe_key=f"t:{role}", created_at=now)
                for role, user in town.users.items()
            }
            town.assignment_in = VillageAssignment.objects.get(village=town.a)
            town.assignment_out = VillageAssignment.objects.get(village=town.b)
            plan_week("2025-W42")
            town.visit_in = Visit.objects.get(village=town.a, iso_week="2025-W42")  # the cadre persona's
            town.visit_out = Visit.objects.get(village=town.b, iso_week="2025-W42")
        yield town


def client_for(town, role) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    return client


# resource → (list url, object in scope, object out of scope, {role: (status in, status out)}).
def _registry(in_out_local=(200, 404)):
    table = {role: (200, 200) for role in TOWN_WIDE}
    table.update({role: in_out_local for role in LOCAL})
    return table


EXPECTED = {
    # Villages and grids: deputies log demands anywhere, so they see the whole registry of places.
    "villages": {**_registry(), "deputy": (200, 200)},
    "grids": {**_registry(), "deputy": (200, 200)},
    # Cadres and assignments: deputies reach none.
    "cadres": {**_registry(), "deputy": (404, 404)},
    "assignments": {**_registry(), "deputy": (404, 404)},
    # Cases: the in-scope case was raised by the deputy at grid a-1; the other is at grid b-1.
    "cases": {**_registry(), "deputy": (200, 404)},
    "cases-events": {**_registry(), "deputy": (200, 404)},
    # Reference data: every role reads all of it.
    "categories": {role: (200, 200) for role in ROLES},
    # Notifications: one's own, never another's.
    "notifications": {role: (200, 404) for role in ROLES},
    # Weekly visits: the visit to village a is the cadre persona's own; deputies reach none.
    "visits": {**_registry(), "deputy": (404, 404)},
}


def objects(town, resource, role):
    """(detail url in scope, detail url out of scope, list url, id in, id out)."""
    if resource == "villages":
        pair = town.a.pk, town.b.pk
    elif resource == "grids":
        pair = town.a1.pk, town.b1.pk
    elif resource == "cadres":
        pair = town.a1.leader_id, town.b1.leader_id
    elif resource == "assignments":
        pair = town.assignment_in.pk, town.assignment_out.pk
    elif resource in ("cases", "cases-events"):
        pair = town.case_in.pk, town.case_out.pk
    elif resource == "categories":
        pair = town.cat_leaf.pk, town.cat_other.pk
    elif resource == "visits":
        pair = town.visit_in.pk, town.visit_out.pk
    elif resource == "notifications":
        other = Role.DISPATCHER if role != Role.DISPATCHER else Role.SUPERVISOR
        pair = town.notes[role].pk, town.notes[other].pk
    base = "/api/v1/cases/" if resource == "cases-events" else f"/api/v1/{resource}/"
    suffix = "events/" if resource == "cases-events" else ""
    return [f"{base}{pk}/{suffix}" for pk in pair], base, pair


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["in", "out"])
@pytest.mark.parametrize("resource", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_detail_status_by_role_and_scope(town, role, resource, which):
    urls, _, _ = objects(town, resource, role)
    expected = EXPECTED[resource][role][0 if which == "in" else 1]
    response = client_for(town, role).get(urls[0 if which == "in" else 1])
    assert response.status_code == expected, response.content
    if expected == 404:
        assert response.json()["code"] == "not_found"


def all_ids(client, url) -> set[int]:
    """Ids on every page of a list endpoint (following ``next``)."""
    ids, params = set(), {"page_size": 200}
    while url:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        ids |= {row["id"] for row in body["results"]}
        url, params = body["next"], None
    return ids


@pytest.mark.django_db
@pytest.mark.parametrize("resource", [r for r in EXPECTED if r != "cases-events"])
@pytest.mark.parametrize("role", ROLES)
def test_lists_hold_exactly_what_the_detail_endpoint_shows(town, role, resource):
    _, list_url, (pk_in, pk_out) = objects(town, resource, role)
    ids = all_ids(client_for(town, role), list_url)
    expected_in, expected_out = EXPECTED[resource][role]
    assert (pk_in in ids) == (expected_in == 200)
    assert (pk_out in ids) == (expected_out == 200)


@pytest.mark.django_db
def test_a_grid_leader_sees_only_own_grids_of_the_village_and_a_village_leader_all_of_them(town):
    assert client_for(town, Role.GRID_LEADER).get(f"/api/v1/grids/{town.a2.pk}/").status_code == 404
    assert client_for(town, Role.VILLAGE_LEADER).get(f"/api/v1/grids/{town.a2.pk}/").status_code == 200
    assert client_for(town, Role.CADRE).get(f"/api/v1/grids/{town.a2.pk}/").status_code == 200
    ids = {g["id"] for g in client_for(town, Role.GRID_LEADER).get("/api/v1/grids/").json()["results"]}
    assert ids == {town.a1.pk}


@pytest.mark.django_db
def test_a_grid_leader_does_not_see_a_case_of_another_grid_of_the_same_village(town):
    other = factories.make_case(grid=town.a2, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED)
    assert client_for(town, Role.GRID_LEADER).get(f"/api/v1/cases/{other.pk}/").status_code == 404
    assert client_for(town, Role.VILLAGE_LEADER).get(f"/api/v1/cases/{other.pk}/").status_code == 200
    assert client_for(town, Role.CADRE).get(f"/api/v1/cases/{other.pk}/").status_code == 200


@pytest.mark.django_db
def test_an_ended_assignment_takes_the_village_out_of_a_cadres_scope(town):
    VillageAssignment.objects.filter(pk=town.assignment_in.pk).update(end_date=dt.date(2025, 1, 31))
    assert client_for(town, Role.CADRE).get(f"/api/v1/cases/{town.case_in.pk}/").status_code == 404
    assert client_for(town, Role.CADRE).get(f"/api/v1/villages/{town.a.pk}/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_sla_policies_are_read_by_all_and_written_by_admins_only(town, role):
    client = client_for(town, role)
    policies = client.get("/api/v1/sla-policies/").json()
    assert sorted(p["urgency"] for p in policies) == ["complex", "emergency", "general", "utilities"]
    general = next(p for p in policies if p["urgency"] == "general")
    assert (general["respond_within_seconds"], general["resolve_within_seconds"]) == (86400, 7 * 86400)
    response = client.patch(f"/api/v1/sla-policies/{general['id']}/", {"respond_within_seconds": 3600},
                            format="json")
    if role == Role.ADMIN:
        assert response.status_code == 200
        assert response.json()["respond_within_seconds"] == 3600
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_anonymous_requests_answer_401(town):
    for url in ("/api/v1/cases/", f"/api/v1/cases/{town.case_in.pk}/", "/api/v1/villages/", "/api/v1/stats/rates/",
                "/api/v1/visits/", f"/api/v1/visits/{town.visit_in.pk}/"):
        response = APIClient().get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_a_user_without_a_role_sees_nothing_and_may_log_nothing(town):
    nobody = factories.UserFactory(username="nobody")
    client = APIClient()
    client.force_authenticate(nobody)
    assert client.get("/api/v1/cases/").json()["count"] == 0
    assert client.get(f"/api/v1/cases/{town.case_in.pk}/").status_code == 404
    response = client.post("/api/v1/cases/", {"kind": "help", "source": "hotline", "title": "x",
                                              "village": town.a.pk}, format="json")
    assert response.status_code == 403


# --- Transitions ------------------------------------------------------------------------------------

#: Who may perform each transition on a case in their scope (the lead's brief; DESIGN §1).
HANDLERS = {"grid_leader", "village_leader", "cadre", "admin"}
COMMAND = {"dispatcher", "supervisor", "admin"}
SUPERVISION = {"supervisor", "admin"}
ALLOWED = {
    "dispatch": COMMAND,
    "accept": HANDLERS,
    "return": HANDLERS,
    "respond": HANDLERS,
    "resolve": HANDLERS,
    "extend": HANDLERS,
    "callback": COMMAND,
    "reopen": COMMAND,
    "close": COMMAND,
    "cancel": COMMAND,
    "approve-extension": SUPERVISION,
    "decline-extension": SUPERVISION,
    "escalate": SUPERVISION,
    "change-urgency": SUPERVISION,
    "comment": set(ROLES),
    "edit": COMMAND,  # issue 16 build 2: correct the case at intake
}


def prepare(town, transition, grid, actor):
    """A case at ``grid`` in a state that allows ``transition``, and a valid body for it."""
    make = lambda state, **kw: factories.make_case(grid=grid, actor=actor, state=state, **kw)  # noqa: E731
    if transition == "dispatch":
        return make(Status.RECEIVED), {"grid": grid.pk}
    if transition == "accept":
        return make(Status.DISPATCHED), {}
    if transition == "return":
        return make(Status.DISPATCHED), {"reason": "不属于本网格"}
    if transition == "respond":
        return make(Status.ACCEPTED), {"note": "已联系"}
    if transition == "resolve":
        return make(Status.RESPONDED), {"solved": True, "result": "已处理"}
    if transition == "extend":
        case = make(Status.DISPATCHED)
        return case, {"until": (case.resolve_due_at + dt.timedelta(days=2)).isoformat(), "reason": "需协调"}
    if transition in ("callback", "close"):
        body = {"contacted": True, "solved": True, "satisfaction": "satisfied"} if transition == "callback" else {}
        return make(Status.RESOLVED), body
    if transition == "reopen":
        case = make(Status.RESOLVED)
        callback(case, actor=actor, contacted=True, solved=False, satisfaction=Satisfaction.UNSATISFIED)
        return case, {"note": "重办"}
    if transition == "cancel":
        return make(Status.RECEIVED), {"reason": "重复"}
    if transition in ("approve-extension", "decline-extension"):
        return make(Status.DISPATCHED, extension_pending=True), {}
    if transition == "escalate":
        return make(Status.DISPATCHED), {"note": "请加快办理"}
    if transition == "change-urgency":
        return make(Status.DISPATCHED), {"urgency": "emergency"}
    if transition == "comment":
        return make(Status.DISPATCHED), {"note": "备注"}
    if transition == "edit":
        return make(Status.RECEIVED), {"title": "更正后的标题"}
    raise AssertionError(transition)


@pytest.mark.django_db
@pytest.mark.parametrize("transition", list(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_transition_on_a_case_in_scope(town, role, transition):
    # The deputy raised it, so it is in every persona's scope.
    case, body = prepare(town, transition, town.a1, town.user(Role.DEPUTY))
    before = case.events.count()
    response = client_for(town, role).post(f"/api/v1/cases/{case.pk}/{transition}/", body, format="json")
    if role in ALLOWED[transition]:
        assert response.status_code == 200, response.content
        assert response.json()["id"] == case.pk
        assert case.events.count() == before + 1
    else:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        assert case.events.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("transition", list(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_transition_on_a_case_out_of_scope(town, role, transition):
    case, body = prepare(town, transition, town.b1, town.user(Role.DISPATCHER))
    before = case.events.count()
    response = client_for(town, role).post(f"/api/v1/cases/{case.pk}/{transition}/", body, format="json")
    if role in TOWN_WIDE:
        assert response.status_code == (200 if role in ALLOWED[transition] else 403), response.content
    else:
        assert response.status_code == 404, response.content
        assert case.events.count() == before
