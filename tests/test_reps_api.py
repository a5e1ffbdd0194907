"""The liaison stations' API (issue 8 §6): receptions, demands, the five steps as the API shows them, scope."""
import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cases import services as cs
from cases.choices import Source
from cases.models import Case
from grids.choices import Role
from grids.models import Grid
from reps import services
from reps.models import Deputy, LiaisonStation, Reception
from reps.seeding import seed_stations

SH = dt.timezone(dt.timedelta(hours=8))
T_PLAN = dt.datetime(2025, 4, 1, 10, 0, tzinfo=SH)
T0 = dt.datetime(2025, 4, 9, 9, 30, tzinfo=SH)  # LS01's Wednesday reception
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


def user_in(username, role):
    user = User.objects.create_user(username)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def town(xiji):
    seed_stations()
    services.plan_receptions(weeks=4, now=T_PLAN)
    p = {name: services.link_login(Deputy.objects.get(code=code), user_in(name, Role.DEPUTY)).user
         for name, code in (("alice", "LS01-1"), ("bob", "LS01-2"), ("carol", "LS02-1"))}
    p["dispatcher"] = user_in("dora", Role.DISPATCHER)
    p["supervisor"] = user_in("sam", Role.SUPERVISOR)
    p["grid"] = Grid.objects.get(code="110112110201-01")
    p["grid_leader"] = user_in("gl201-1", Role.GRID_LEADER)
    p["grid"].leader.user = p["grid_leader"]
    p["grid"].leader.save(update_fields=["user"])
    p["ls01"] = Reception.objects.get(station__code="LS01", date=dt.date(2025, 4, 9))
    p["ls02"] = Reception.objects.get(station__code="LS02", date=dt.date(2025, 4, 10))
    return p


def post_at(client, moment, url, data=None):
    with time_machine.travel(moment, tick=False):
        return client.post(url, data or {}, format="json")


def raise_at(client, moment, reception, title, grid):
    return post_at(client, moment, f"/api/v1/receptions/{reception.pk}/demands/",
                   {"kind": "complaint", "title": title, "grid": grid.pk, "description": "居民反映",
                    "complainant_name": "居民甲", "complainant_phone": "13812345678"})


def times(body):
    return [(s["step"], dt.datetime.fromisoformat(s["at"]) if s["at"] else None, s["done"])
            for s in body["loop"]["steps"]]


@pytest.mark.django_db
def test_three_demands_through_the_api_and_one_cases_five_steps(town):
    alice = client_for(town["alice"])
    answers = [raise_at(alice, T0 + k * 10 * dt.timedelta(minutes=1), town["ls01"], title, town["grid"])
               for k, title in enumerate(("村口路灯不亮", "排水沟堵塞", "垃圾清运不及时"))]
    assert [r.status_code for r in answers] == [201, 201, 201]
    bodies = [r.json() for r in answers]
    assert [b["source"] for b in bodies] == [Source.DEPUTY] * 3
    assert {(b["raised_demand"]["deputy"], b["raised_demand"]["station"], b["raised_demand"]["reception"])
            for b in bodies} == {(town["alice"].deputy.pk, town["ls01"].station_id, town["ls01"].pk)}
    assert [b["loop"]["current_step"] for b in bodies] == ["collect"] * 3
    assert bodies[0]["complainant_phone"] == "138****5678"  # a deputy sees phone numbers masked

    record = post_at(alice, T0 + 2 * H, f"/api/v1/receptions/{town['ls01'].pk}/record/",
                     {"deputies": [town["alice"].deputy.pk, town["bob"].deputy.pk], "residents_received": 6,
                      "notes": "三件诉求"})
    assert record.status_code == 200
    assert (record.json()["status"], record.json()["demand_count"], record.json()["residents_received"]) == (
        "held", 3, 6)

    a, b, c = (Case.objects.get(pk=body["id"]) for body in bodies)
    disp, gl = town["dispatcher"], town["grid_leader"]
    for case in (a, b, c):
        cs.dispatch(case, actor=disp, grid=town["grid"], now=T0 + 3 * H)
    cs.accept(a, actor=gl, now=T0 + 4 * H)
    cs.respond(a, actor=gl, now=T0 + 5 * H)
    assert post_at(alice, T0 + D, f"/api/v1/demands/{a.pk}/follow-up/", {"note": "请尽快处理"}).status_code == 200
    cs.resolve(a, actor=gl, solved=True, result="已更换灯泡", now=T0 + 2 * D)
    evaluated = post_at(alice, T0 + 3 * D, f"/api/v1/demands/{a.pk}/evaluate/",
                        {"contacted": True, "solved": True, "satisfaction": "satisfied"})
    assert evaluated.status_code == 200
    cs.escalate(c, actor=town["supervisor"], note="三天内办结", now=T0 + 2 * D)

    shown = alice.get(f"/api/v1/demands/{a.pk}/").json()
    assert times(shown) == [("collect", T0, True), ("assign", T0 + 3 * H, True), ("supervise", T0 + D, True),
                            ("feedback", T0 + 2 * D, True), ("evaluate", T0 + 3 * D, True)]
    assert shown["loop"]["current_step"] == "evaluate"
    assert (shown["satisfaction"], shown["callback_contacted"]) == ("satisfied", True)
    assert alice.get(f"/api/v1/demands/{b.pk}/").json()["loop"]["current_step"] == "assign"
    assert alice.get(f"/api/v1/demands/{c.pk}/").json()["loop"]["current_step"] == "supervise"

    listed = alice.get("/api/v1/demands/", {"reception_id": town["ls01"].pk}).json()["results"]
    assert {(row["id"], row["loop"]["current_step"]) for row in listed} == {
        (a.pk, "evaluate"), (b.pk, "assign"), (c.pk, "supervise")}


@pytest.mark.django_db
def test_a_deputy_sees_only_the_cases_they_raised_and_their_stations_receptions(town):
    alice, carol = client_for(town["alice"]), client_for(town["carol"])
    mine = raise_at(alice, T0, town["ls01"], "村口路灯不亮", town["grid"]).json()["id"]
    # LS02 receives from 14:30 (seeds/stations.csv): carol raises it during that session.
    theirs = raise_at(carol, T0 + D + 5 * H, town["ls02"], "河道垃圾", Grid.objects.get(code="110112110222-01")).json()["id"]
    hotline = cs.create_case(actor=town["dispatcher"], kind="complaint", source=Source.HOTLINE, title="噪音扰民",
                             grid=town["grid"], now=T0).pk

    for url in (f"/api/v1/cases/{theirs}/", f"/api/v1/cases/{hotline}/", f"/api/v1/demands/{theirs}/",
                f"/api/v1/demands/{hotline}/", f"/api/v1/receptions/{town['ls02'].pk}/",
                f"/api/v1/stations/{town['ls02'].station_id}/"):
        assert alice.get(url).status_code == 404, url
    assert post_at(alice, T0 + D, f"/api/v1/demands/{theirs}/follow-up/", {"note": "催"}).status_code == 404
    assert alice.get(f"/api/v1/cases/{mine}/").status_code == 200
    assert [c["id"] for c in alice.get("/api/v1/cases/").json()["results"]] == [mine]
    assert [d["id"] for d in alice.get("/api/v1/demands/").json()["results"]] == [mine]
    receptions = alice.get("/api/v1/receptions/").json()["results"]
    assert {r["station"] for r in receptions} == {town["ls01"].station_id} and len(receptions) == 4
    assert [s["code"] for s in alice.get("/api/v1/stations/").json()["results"]] == ["LS01"]
    # bob, of the same station, does not see alice's case either.
    assert client_for(town["bob"]).get(f"/api/v1/demands/{mine}/").status_code == 404
    # The command centre sees all deputy cases; a supervisor sees every station.
    assert {d["id"] for d in client_for(town["dispatcher"]).get("/api/v1/demands/").json()["results"]} == {
        mine, theirs}
    assert len(client_for(town["supervisor"]).get("/api/v1/stations/").json()["results"]) == 5


@pytest.mark.django_db
def test_who_may_run_receptions_raise_and_evaluate(town):
    alice, carol = client_for(town["alice"]), client_for(town["carol"])
    disp, gl = client_for(town["dispatcher"]), client_for(town["grid_leader"])
    ls01 = town["ls01"]
    body = {"kind": "help", "title": "求助", "grid": town["grid"].pk}
    # A deputy raises as themself only; the command centre must name the deputy.
    assert post_at(alice, T0, f"/api/v1/receptions/{ls01.pk}/demands/",
                   {**body, "deputy": town["bob"].deputy.pk}).status_code == 403
    assert post_at(disp, T0, f"/api/v1/receptions/{ls01.pk}/demands/", body).status_code == 400
    named = post_at(disp, T0, f"/api/v1/receptions/{ls01.pk}/demands/", {**body, "deputy": town["bob"].deputy.pk})
    assert named.status_code == 201 and named.json()["raised_demand"]["deputy"] == town["bob"].deputy.pk
    # A grid leader sees LS01's receptions (it serves 西集村) but may not run them or raise there.
    assert gl.get(f"/api/v1/receptions/{ls01.pk}/").status_code == 200
    assert post_at(gl, T0, f"/api/v1/receptions/{ls01.pk}/demands/", body).status_code == 403
    assert post_at(gl, T0, f"/api/v1/receptions/{ls01.pk}/cancel/", {"reason": "x"}).status_code == 403
    # Extra receptions: a deputy at their own station only.
    new = {"station": ls01.station_id, "starts_at": "2025-04-12T09:00:00+08:00", "ends_at": "2025-04-12T11:00:00+08:00",
           "deputies": [town["alice"].deputy.pk]}
    created = post_at(alice, T0, "/api/v1/receptions/", new)
    assert created.status_code == 201
    assert (created.json()["regular"], created.json()["date"], created.json()["status"]) == (False, "2025-04-12",
                                                                                          "planned")
    assert post_at(carol, T0, "/api/v1/receptions/", new).status_code == 400
    assert post_at(gl, T0, "/api/v1/receptions/", new).status_code == 403
    # Held receptions cannot be cancelled (409); only the raising deputy evaluates (403 for the dispatcher).
    rec = {"deputies": [town["alice"].deputy.pk], "residents_received": 2}
    assert post_at(alice, T0 + H, f"/api/v1/receptions/{ls01.pk}/record/", rec).status_code == 200
    assert post_at(alice, T0 + H, f"/api/v1/receptions/{ls01.pk}/cancel/", {"reason": "x"}).status_code == 409
    case = Case.objects.get(pk=named.json()["id"])
    cs.resolve(cs.respond(cs.accept(cs.dispatch(case, actor=town["dispatcher"], grid=town["grid"], now=T0 + H),
                                    actor=town["grid_leader"], now=T0 + 2 * H),
                          actor=town["grid_leader"], now=T0 + 3 * H),
               actor=town["grid_leader"], solved=True, result="已处理", now=T0 + 4 * H)
    rating = {"contacted": True, "solved": True, "satisfaction": "satisfied"}
    assert post_at(disp, T0 + D, f"/api/v1/demands/{case.pk}/evaluate/", rating).status_code == 403
    bob = client_for(town["bob"])
    assert post_at(bob, T0 + D, f"/api/v1/demands/{case.pk}/evaluate/",
                   {**rating, "satisfaction": "unreachable"}).status_code == 400
    assert post_at(bob, T0 + D, f"/api/v1/demands/{case.pk}/evaluate/", rating).status_code == 200
    assert post_at(bob, T0 + D, f"/api/v1/demands/{case.pk}/evaluate/", rating).status_code == 409


@pytest.mark.django_db
def test_station_figures_through_the_api(town):
    alice = client_for(town["alice"])
    case_id = raise_at(alice, T0, town["ls01"], "村口路灯不亮", town["grid"]).json()["id"]
    case = Case.objects.get(pk=case_id)
    cs.resolve(cs.respond(cs.accept(cs.dispatch(case, actor=town["dispatcher"], grid=town["grid"], now=T0 + H),
                                    actor=town["grid_leader"], now=T0 + 2 * H),
                          actor=town["grid_leader"], now=T0 + 3 * H),
               actor=town["grid_leader"], solved=True, result="已处理", now=T0 + 4 * H)
    post_at(alice, T0 + D, f"/api/v1/demands/{case_id}/evaluate/",
            {"contacted": True, "solved": True, "satisfaction": "basically_satisfied"})
    rows = client_for(town["supervisor"]).get("/api/v1/stations/stats/").json()
    assert [r["station_code"] for r in rows] == ["LS01", "LS02", "LS03", "LS04", "LS05"]
    assert (rows[0]["collected"], rows[0]["resolved_on_time"], rows[0]["valid_evaluations"]) == (1, 1, 1)
    assert rows[0]["satisfaction_rate"] == pytest.approx(0.9)
    assert rows[1]["satisfaction_rate"] is None
    assert [r["station_code"] for r in alice.get("/api/v1/stations/stats/").json()] == ["LS01"]
    later = client_for(town["supervisor"]).get("/api/v1/stations/stats/", {"start": "2025-04-10T00:00:00+08:00"})
    assert later.json()[0]["collected"] == 0
    deputies = client_for(town["supervisor"]).get("/api/v1/deputies/stats/").json()
    assert len(deputies) == 15 and next(d for d in deputies if d["deputy_id"] == town["alice"].deputy.pk)[
        "valid_evaluations"] == 1


@pytest.mark.django_db
def test_list_endpoints_use_a_fixed_number_of_queries(town):
    alice, disp = client_for(town["alice"]), client_for(town["dispatcher"])

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert disp.get(url).status_code == 200
        return len(ctx.captured_queries)

    raise_at(alice, T0, town["ls01"], "一", town["grid"])
    one = {url: count(url) for url in ("/api/v1/demands/", "/api/v1/receptions/", "/api/v1/stations/",
                                       "/api/v1/deputies/")}
    for k in range(4):
        case = Case.objects.get(pk=raise_at(alice, T0 + (k + 1) * H, town["ls01"], f"诉求{k}", town["grid"]).json()["id"])
        cs.dispatch(case, actor=town["dispatcher"], grid=town["grid"], now=T0 + 6 * H)
    assert {url: count(url) for url in one} == one
    assert LiaisonStation.objects.count() == 5


@pytest.mark.django_db
def test_admin_pages_of_the_stations_render(town, client):
    admin = User.objects.create_superuser("root")
    client.force_login(admin)
    for name in ("liaisonstation", "deputy", "reception", "raiseddemand"):
        assert client.get(f"/admin/reps/{name}/").status_code == 200, name
    assert client.get(f"/admin/reps/liaisonstation/{town['ls01'].station_id}/change/").status_code == 200
    assert client.get(f"/admin/reps/reception/{town['ls01'].pk}/change/").status_code == 200
