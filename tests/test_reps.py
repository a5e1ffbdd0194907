"""Liaison stations: seeds, receptions, deputy-raised cases, the five-step loop, statistics (issue 8, DESIGN §8)."""
import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError

from cases import services as cs
from cases.choices import NotificationKind, Satisfaction, Source
from cases.models import Case, Notification
from cases.services import TransitionNotAllowed
from grids.choices import Role
from grids.models import Grid, Village
from reps import selectors, services
from reps.choices import ReceptionStatus
from reps.models import Deputy, LiaisonStation, PartnerPlatform, RaisedDemand, Reception
from reps.seeding import SeedError, seed_stations

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SH = dt.timezone(dt.timedelta(hours=8))
# Tuesday 1 April 2025, 10:00 in Xiji. LS01 (西集村站) receives on Wednesdays 09:00–11:30.
T_PLAN = dt.datetime(2025, 4, 1, 10, 0, tzinfo=SH)
T0 = dt.datetime(2025, 4, 9, 9, 30, tzinfo=SH)
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


def user_in(username, role):
    user = User.objects.create_user(username)
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def town(xiji):
    """Stations seeded; personas: deputies alice, bob (LS01) and carol (LS02) with logins, a dispatcher, a
    supervisor, the leader of 西集村's grid 1 with a login."""
    seed_stations()
    people = {
        "alice": services.link_login(Deputy.objects.get(code="LS01-1"), user_in("alice", Role.DEPUTY)),
        "bob": services.link_login(Deputy.objects.get(code="LS01-2"), user_in("bob", Role.DEPUTY)),
        "carol": services.link_login(Deputy.objects.get(code="LS02-1"), user_in("carol", Role.DEPUTY)),
    }
    people["dispatcher"] = user_in("dora", Role.DISPATCHER)
    people["supervisor"] = user_in("sam", Role.SUPERVISOR)
    grid = Grid.objects.get(code="110112110201-01")
    gl = user_in("gl201-1", Role.GRID_LEADER)
    grid.leader.user = gl
    grid.leader.save(update_fields=["user"])
    people["grid"], people["grid_leader"] = grid, gl
    people["grid2"] = Grid.objects.get(code="110112110222-01")
    return people


def ls01_reception():
    services.plan_receptions(weeks=4, now=T_PLAN)
    return Reception.objects.get(station__code="LS01", date=dt.date(2025, 4, 9))


def raise_(town, deputy, reception=None, now=T0, title="村口路灯不亮", grid=None):
    return services.raise_demand(actor=town[deputy].user, kind="complaint", title=title, reception=reception,
                                 grid=grid or town["grid"], description="晚上看不见路", now=now)


def walk_to_resolved(town, case, start, *, resolve_at=None):
    """Dispatch, accept, respond an hour apart from ``start``; resolve at ``resolve_at`` if given."""
    gl, disp = town["grid_leader"], town["dispatcher"]
    case = cs.dispatch(case, actor=disp, grid=case.grid or town["grid"], now=start)
    case = cs.accept(case, actor=gl, now=start + H)
    case = cs.respond(case, actor=gl, now=start + 2 * H)
    if resolve_at is not None:
        case = cs.resolve(case, actor=gl, solved=True, result="已修好路灯", now=resolve_at)
    return case


# --- Seeds -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_gives_five_themed_stations_spread_over_the_town_with_fictional_deputies(xiji):
    report = seed_stations()
    assert (report.stations, report.deputies) == (5, 15)
    stations = list(LiaisonStation.objects.order_by("code"))
    assert len({s.theme for s in stations}) == 5
    assert len({s.village_id for s in stations}) == 5
    # The served villages split the 59 units into five runs in code order (12, 12, 12, 12, 11).
    codes = sorted(Village.objects.values_list("code", flat=True))
    served = [sorted(s.villages_served.values_list("code", flat=True)) for s in stations]
    assert served == [codes[0:12], codes[12:24], codes[24:36], codes[36:48], codes[48:59]]
    assert all(s.village.code in group for s, group in zip(stations, served, strict=True))
    assert [s.partners.count() for s in stations] == [3, 4, 3, 3, 3]
    assert all(d.name.endswith("（演示）") for d in Deputy.objects.all())
    assert all(s.name.endswith("（演示）") for s in stations)
    assert "stations.csv" in (SEEDS / "SOURCES.md").read_text(encoding="utf-8")


@pytest.mark.django_db
def test_seed_is_idempotent_and_demo_links_the_deputy_login(xiji):
    def snapshot():
        return (sorted(LiaisonStation.objects.values_list("code", "name", "theme", "village__code",
                                                          "reception_weekday", "reception_starts")),
                sorted(PartnerPlatform.objects.values_list("station__code", "kind")),
                sorted(Deputy.objects.values_list("code", "name", "level", "station__code", "user__username")),
                sorted(LiaisonStation.villages_served.through.objects.values_list("liaisonstation__code",
                                                                                   "village__code")))

    User.objects.create_user("deputy")
    seed_stations(demo=True)
    first = snapshot()
    report = seed_stations(demo=True)
    assert snapshot() == first
    assert report.demo_login == "deputy"
    linked = Deputy.objects.get(user__username="deputy")
    assert linked.code == "LS01-1"
    assert User.objects.get(username="deputy").groups.filter(name=Role.DEPUTY).exists()


@pytest.mark.django_db
def test_a_bad_seed_row_is_named_and_nothing_is_written(xiji, tmp_path):
    for name in ("stations.csv", "deputies.csv"):
        shutil.copy(SEEDS / name, tmp_path / name)
    rows = list(csv.DictReader((tmp_path / "deputies.csv").open(encoding="utf-8")))
    rows[4]["level"] = "province"
    with (tmp_path / "deputies.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SeedError, match=r"deputies.csv line 6, field 'level': 'province'"):
        seed_stations(seeds_dir=tmp_path)
    assert LiaisonStation.objects.count() == 0 and Deputy.objects.count() == 0


# --- Demands and the five-step loop ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_reception_with_three_demands_and_their_loops(town):
    reception = ls01_reception()
    alice = town["alice"]
    a = raise_(town, "alice", reception, T0, "村口路灯不亮")
    b = raise_(town, "alice", reception, T0 + 10 * dt.timedelta(minutes=1), "排水沟堵塞")
    c = raise_(town, "bob", reception, T0 + 20 * dt.timedelta(minutes=1), "垃圾清运不及时")
    services.record_reception(reception, actor=alice.user, deputies=[alice, town["bob"]], residents_received=7,
                              notes="三件诉求", now=T0 + 2 * H)

    reception.refresh_from_db()
    assert reception.status == ReceptionStatus.HELD and reception.residents_received == 7
    assert sorted(reception.demands.values_list("case__title", flat=True)) == ["垃圾清运不及时", "排水沟堵塞",
                                                                                "村口路灯不亮"]
    for case, deputy in ((a, alice), (b, alice), (c, town["bob"])):
        assert case.source == Source.DEPUTY
        assert (case.raised_demand.deputy, case.raised_demand.station.code, case.raised_demand.reception) == (
            deputy, "LS01", reception)
        assert case.created_by == deputy.user

    # a: all five steps.
    walk_to_resolved(town, a, T0 + H)                                     # assign at T0+1h
    services.follow_up(a, actor=alice.user, note="请尽快处理", now=T0 + D)  # supervise
    cs.resolve(a, actor=town["grid_leader"], solved=True, result="已更换灯泡", now=T0 + 2 * D)  # feedback
    services.evaluate(a, actor=alice.user, contacted=True, solved=True, satisfaction=Satisfaction.SATISFIED,
                      now=T0 + 3 * D)                                     # evaluate
    steps = selectors.loop_steps(Case.objects.get(pk=a.pk))
    assert [(s["step"], s["at"], s["done"]) for s in steps] == [
        ("collect", T0, True), ("assign", T0 + H, True), ("supervise", T0 + D, True),
        ("feedback", T0 + 2 * D, True), ("evaluate", T0 + 3 * D, True),
    ]
    assert selectors.current_step(a) == "evaluate"
    # feedback: the resolution was sent to the deputy.
    assert Notification.objects.filter(recipient=alice.user, case=a, kind=NotificationKind.DEPUTY_FEEDBACK).count() == 1

    # b: dispatched only.
    cs.dispatch(b, actor=town["dispatcher"], grid=town["grid"], now=T0 + H)
    steps = selectors.loop_steps(b)
    assert [s["done"] for s in steps] == [True, True, False, False, False]
    assert selectors.current_step(b) == "assign"

    # c: dispatched and escalated by the supervisor.
    cs.dispatch(c, actor=town["dispatcher"], grid=town["grid"], now=T0 + H)
    cs.escalate(c, actor=town["supervisor"], note="三天内办结", now=T0 + 2 * D)
    steps = selectors.loop_steps(c)
    assert [(s["step"], s["at"]) for s in steps if s["done"]] == [
        ("collect", T0 + 20 * dt.timedelta(minutes=1)), ("assign", T0 + H), ("supervise", T0 + 2 * D)]
    assert selectors.current_step(c) == "supervise"


@pytest.mark.django_db
def test_only_the_raising_deputy_follows_up_and_evaluates(town):
    case = walk_to_resolved(town, raise_(town, "alice"), T0 + H, resolve_at=T0 + D)
    for other in (town["bob"].user, town["dispatcher"]):
        with pytest.raises(PermissionDenied):
            services.evaluate(case, actor=other, contacted=True, solved=True, satisfaction="satisfied", now=T0 + 2 * D)
        with pytest.raises(PermissionDenied):
            services.follow_up(case, actor=other, note="催办", now=T0 + 2 * D)
    # Someone else's note is no follow-up and the dispatcher's callback is no evaluation.
    cs.comment(case, actor=town["dispatcher"], note="已记录", now=T0 + 2 * D)
    cs.callback(case, actor=town["dispatcher"], contacted=True, solved=True, satisfaction="satisfied", now=T0 + 3 * D)
    assert [s["done"] for s in selectors.loop_steps(case)] == [True, True, False, True, False]
    with pytest.raises(TransitionNotAllowed):  # the case already has a valid callback
        services.evaluate(case, actor=town["alice"].user, contacted=True, solved=True, satisfaction="satisfied")


@pytest.mark.django_db
def test_a_reopened_case_goes_back_before_feedback(town):
    alice = town["alice"].user
    case = walk_to_resolved(town, raise_(town, "alice"), T0 + H, resolve_at=T0 + D)
    services.evaluate(case, actor=alice, contacted=True, solved=False, satisfaction="unsatisfied", now=T0 + 2 * D)
    assert selectors.current_step(case) == "evaluate"
    cs.reopen(case, actor=town["dispatcher"], note="代表不满意", now=T0 + 3 * D)
    steps = selectors.loop_steps(case)
    assert [s["done"] for s in steps] == [True, True, False, False, False]
    assert selectors.current_step(case) == "assign"


@pytest.mark.django_db
def test_raising_needs_a_deputy_of_the_reception_and_a_live_reception(town):
    reception = ls01_reception()
    with pytest.raises(ValidationError) as err:  # carol belongs to LS02 and is not on LS01's duty list
        raise_(town, "carol", reception)
    assert "deputy" in err.value.message_dict
    with pytest.raises(ValidationError) as err:  # a dispatcher is no deputy and named none
        services.raise_demand(actor=town["dispatcher"], kind="help", title="求助", grid=town["grid"], now=T0)
    assert "deputy" in err.value.message_dict
    services.cancel_reception(reception, actor=town["dispatcher"], reason="暴雨", now=T0 - D)
    with pytest.raises(TransitionNotAllowed):
        raise_(town, "alice", reception)
    assert RaisedDemand.objects.count() == 0 and Case.objects.count() == 0
    # A dispatcher may log a demand for a named deputy; outside a reception the station is the deputy's.
    case = services.raise_demand(actor=town["dispatcher"], deputy=town["carol"], kind="help", title="求助",
                                 grid=town["grid2"], now=T0)
    assert (case.raised_demand.station.code, case.raised_demand.reception) == ("LS02", None)


# --- Statistics ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_deputys_evaluation_counts_in_their_station_only(town):
    # LS01: alice's case resolved on time and rated satisfied; bob's resolved late (general: 7 days) and
    # rated basically satisfied. LS02: carol's case resolved, called back by the dispatcher (not a deputy
    # evaluation). One more LS01 case still open.
    a = walk_to_resolved(town, raise_(town, "alice"), T0 + H, resolve_at=T0 + 2 * D)
    services.evaluate(a, actor=town["alice"].user, contacted=True, solved=True, satisfaction="satisfied", now=T0 + 3 * D)
    b = walk_to_resolved(town, raise_(town, "bob"), T0 + H, resolve_at=T0 + 8 * D)
    services.evaluate(b, actor=town["bob"].user, contacted=True, solved=False,
                      satisfaction="basically_satisfied", now=T0 + 9 * D)
    c = walk_to_resolved(town, raise_(town, "carol", grid=town["grid2"]), T0 + H, resolve_at=T0 + D)
    cs.callback(c, actor=town["dispatcher"], contacted=True, solved=True, satisfaction="satisfied", now=T0 + 2 * D)
    raise_(town, "alice", title="还有一件")

    rows = {r["station_code"]: r for r in selectors.station_stats()}
    assert list(rows) == ["LS01", "LS02", "LS03", "LS04", "LS05"]
    ls01, ls02 = rows["LS01"], rows["LS02"]
    assert {k: ls01[k] for k in ("collected", "dispatched", "resolved", "resolved_on_time", "valid_evaluations",
                                 "contacted", "solved", "satisfied", "basically_satisfied")} == {
        "collected": 3, "dispatched": 2, "resolved": 2, "resolved_on_time": 1, "valid_evaluations": 2,
        "contacted": 2, "solved": 1, "satisfied": 1, "basically_satisfied": 1}
    assert ls01["closure_rate"] == 1.0 and ls01["on_time_rate"] == 0.5
    assert ls01["response_rate"] == 1.0 and ls01["resolution_rate"] == 0.5
    assert ls01["satisfaction_rate"] == pytest.approx((1 + 0.9) / 2)
    assert (ls02["collected"], ls02["resolved"], ls02["valid_evaluations"]) == (1, 1, 0)
    assert ls02["satisfaction_rate"] is None and ls02["response_rate"] is None
    assert rows["LS03"]["collected"] == 0 and rows["LS03"]["closure_rate"] is None

    by_deputy = {r["deputy"]: r for r in selectors.deputy_stats()}
    assert len(by_deputy) == 15
    assert by_deputy[town["alice"].name]["satisfaction_rate"] == 1.0
    assert by_deputy[town["bob"].name]["satisfaction_rate"] == pytest.approx(0.9)
    assert by_deputy[town["carol"].name]["valid_evaluations"] == 0
    assert by_deputy[town["carol"].name]["satisfaction_rate"] is None
    # Period: only cases received in [start, end).
    late = selectors.station_stats(start=T0 + D, end=T0 + 30 * D)
    assert sum(r["collected"] for r in late) == 0


# --- Reception schedule -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_planned_receptions_are_created_once_however_often_planning_runs(town):
    assert services.plan_receptions(weeks=4, now=T_PLAN) == 20
    for later in (T_PLAN, T_PLAN + H, T_PLAN + 3 * H):
        assert services.plan_receptions(weeks=4, now=later) == 0
    assert Reception.objects.count() == 20
    ls01 = list(Reception.objects.filter(station__code="LS01").order_by("date"))
    assert [r.date for r in ls01] == [dt.date(2025, 4, 2), dt.date(2025, 4, 9), dt.date(2025, 4, 16),
                                      dt.date(2025, 4, 23)]
    assert ls01[0].starts_at == dt.datetime(2025, 4, 2, 9, 0, tzinfo=SH)
    assert ls01[0].ends_at == dt.datetime(2025, 4, 2, 11, 30, tzinfo=SH)
    assert sorted(ls01[0].deputies.values_list("code", flat=True)) == ["LS01-1", "LS01-2", "LS01-3"]
    assert all(r.status == ReceptionStatus.PLANNED and r.regular for r in ls01)
    # A cancelled reception is not planned again; a day later the window (3–30 April) adds only the two
    # Wednesday stations' 30 April (LS01, LS05).
    services.cancel_reception(ls01[1], actor=town["dispatcher"], reason="场地维修", now=T_PLAN)
    assert services.plan_receptions(weeks=4, now=T_PLAN + D) == 2
    assert services.plan_receptions(weeks=4, now=T_PLAN + D) == 0
    assert sorted(Reception.objects.filter(date=dt.date(2025, 4, 30)).values_list("station__code", flat=True)) == [
        "LS01", "LS05"]
    assert list(Reception.objects.filter(station__code="LS01", date=dt.date(2025, 4, 9))
                .values_list("status", flat=True)) == [ReceptionStatus.CANCELLED]


@pytest.mark.django_db
def test_reminders_go_to_the_deputies_on_duty_the_day_before(town):
    dave = services.link_login(Deputy.objects.get(code="LS03-1"), user_in("dave", Role.DEPUTY))  # LS03: Tuesdays
    services.plan_receptions(weeks=4, now=T_PLAN)
    wed = Reception.objects.get(station__code="LS01", date=dt.date(2025, 4, 9))
    tue = Reception.objects.get(station__code="LS03", date=dt.date(2025, 4, 8))
    thu = Reception.objects.get(station__code="LS02", date=dt.date(2025, 4, 10))
    town["bob"].receptions.remove(wed)  # bob is off duty that day; LS01-3 has no login
    services.cancel_reception(thu, actor=town["dispatcher"], reason="场地维修", now=T_PLAN)

    def reminded():
        return sorted((n.recipient.username, n.dedupe_key)
                      for n in Notification.objects.filter(kind=NotificationKind.RECEPTION_REMINDER))

    assert services.send_reception_reminders(now=dt.datetime(2025, 4, 7, 17, 0, tzinfo=SH)) == 1
    assert reminded() == [("dave", f"reception-reminder:{tue.pk}")]
    for run in (dt.datetime(2025, 4, 8, 17, 0, tzinfo=SH), dt.datetime(2025, 4, 8, 23, 0, tzinfo=SH)):
        services.send_reception_reminders(now=run)
    assert services.send_reception_reminders(now=dt.datetime(2025, 4, 9, 17, 0, tzinfo=SH)) == 0  # thu cancelled
    assert reminded() == sorted([("dave", f"reception-reminder:{tue.pk}"), ("alice", f"reception-reminder:{wed.pk}")])
    note = Notification.objects.get(recipient__username="alice")
    assert "04-09 09:00" in note.title and dave.user.notifications.count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_planning_and_reminders_run_on_a_real_worker(xiji, celery_worker_process):
    from reps.tasks import plan_receptions, remind_receptions

    seed_stations()
    services.link_login(Deputy.objects.get(code="LS01-1"), user_in("alice", Role.DEPUTY))
    assert plan_receptions.delay(weeks=4, now=T_PLAN.isoformat()).get(timeout=60) == 20
    assert plan_receptions.delay(weeks=4, now=T_PLAN.isoformat()).get(timeout=60) == 0
    assert Reception.objects.count() == 20
    day_before = dt.datetime(2025, 4, 8, 17, 0, tzinfo=SH).isoformat()
    assert remind_receptions.delay(now=day_before).get(timeout=60) == 1
    assert remind_receptions.delay(now=day_before).get(timeout=60) == 0
    assert list(Notification.objects.values_list("recipient__username", "kind")) == [
        ("alice", NotificationKind.RECEPTION_REMINDER)]


# --- The deputy's demands page (issue 16 build 6) ------------------------------------------------------------


@pytest.mark.django_db
def test_a_deputy_follows_the_loop_and_evaluates_on_the_demands_page(town, client):
    import time_machine

    alice = town["alice"].user
    mine = walk_to_resolved(town, raise_(town, "alice"), T0 + H, resolve_at=T0 + D)
    open_one = raise_(town, "alice", title="还有一件")
    bobs = raise_(town, "bob", title="别人的")
    client.force_login(alice)
    with time_machine.travel(T0 + 2 * D, tick=False):
        assert client.get("/").url == "/demands/"  # a deputy starts on their demands
        html = client.get("/demands/").content.decode()
        assert f'data-demand="{mine.pk}"' in html and f'data-demand="{open_one.pk}"' in html
        assert f'data-demand="{bobs.pk}"' not in html  # only the cases alice raised
        loop = html[html.index(f'data-testid="loop-{mine.pk}"'):]
        loop = loop[:loop.index("</ol>")]
        assert [step in loop for step in ('data-step="collect"', 'data-step="assign"')] == [True, True]
        assert loop.count("loop-step done") == 3  # collect, assign, feedback (resolved); not yet supervised, rated
        assert f'data-testid="evaluate-{mine.pk}"' in html and f'data-testid="follow-up-{open_one.pk}"' in html
        assert f'data-testid="evaluate-{open_one.pk}"' not in html

        refused = client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "yes"}, follow=True)
        assert "请选择满意程度" in refused.content.decode()
        client.post(f"/demands/{open_one.pk}/do/follow-up/", {"note": "请尽快安排"})
        client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "yes", "satisfaction": "satisfied"})
        again = client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "yes", "satisfaction": "satisfied"},
                            follow=True)
        assert "msg-warning" in again.content.decode()  # a second evaluation is refused, said so
    mine.refresh_from_db()
    assert mine.satisfaction == "satisfied" and mine.callback_contacted is True
    assert [s["done"] for s in selectors.loop_steps(mine)] == [True, True, False, True, True]
    assert selectors.loop_steps(open_one)[2]["done"] is True  # alice's follow-up note is the 督办 step
    # Another deputy cannot act on alice's demand (outside their scope: 404).
    client.force_login(town["bob"].user)
    assert client.post(f"/demands/{open_one.pk}/do/follow-up/", {"note": "x"}).status_code == 404


def form_of(html: str, testid: str) -> str:
    """The <details> block holding the button ``testid``."""
    end = html.index(f'data-testid="{testid}"')
    return html[html.rindex("<details", 0, end):html.index("</details>", end)]


@pytest.mark.django_db
def test_the_demands_page_keeps_typed_input_and_shows_the_rating_given(town, client):
    import time_machine

    alice = town["alice"].user
    mine = walk_to_resolved(town, raise_(town, "alice"), T0 + H, resolve_at=T0 + D)
    open_one = raise_(town, "alice", title="还有一件")
    called = walk_to_resolved(town, raise_(town, "alice", title="已回访的"), T0 + H, resolve_at=T0 + D)
    cs.callback(called, actor=town["dispatcher"], contacted=True, solved=False, satisfaction="basically_satisfied",
                note="电话回访", now=T0 + D + H)
    client.force_login(alice)
    with time_machine.travel(T0 + 2 * D, tick=False):  # 2025-04-11 09:30
        # No satisfaction chosen: 400, the form open with the error, 未解决 and the note as typed.
        bad = client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "no", "note": "路灯修了又坏"})
        assert bad.status_code == 400
        form = form_of(bad.content.decode(), f"evaluate-{mine.pk}")
        assert form.startswith("<details open>")
        assert f'data-testid="evaluate-error-{mine.pk}">请选择满意程度。</p>' in form
        assert 'value="no" checked' in form and 'value="yes" checked' not in form
        assert '<textarea name="note" rows="2">路灯修了又坏</textarea>' in form
        # An empty follow-up note: 400, named, that form open (not collapsed).
        empty = client.post(f"/demands/{open_one.pk}/do/follow-up/", {"note": "   "})
        assert empty.status_code == 400
        form = form_of(empty.content.decode(), f"follow-up-{open_one.pk}")
        assert form.startswith("<details open>")
        assert f'data-testid="follow-up-error-{open_one.pk}">请填写跟踪督办说明。</p>' in form
        other = form_of(empty.content.decode(), f"evaluate-{mine.pk}")
        assert "evaluate-error" not in other and '<textarea name="note" rows="2"></textarea>' in other

        assert client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "yes", "satisfaction": "satisfied",
                                                                 "note": "很快修好了"}).status_code == 302
        html = client.get("/demands/").content.decode()
        assert f'data-testid="evaluate-{mine.pk}"' not in html  # rated: the form is gone ...
        rating = html[html.index(f'data-testid="rating-{mine.pk}"'):]
        rating = rating[:rating.index("</p>")]  # ... and the rating given is shown instead
        assert "已评价：<strong>满意</strong> · 已解决 · " in rating and "2025-04-11 09:30" in rating
        assert "说明：很快修好了" in rating
        assert f'data-testid="evaluate-{called.pk}"' not in html  # the command centre called back already
        rating = html[html.index(f'data-testid="rating-{called.pk}"'):]
        rating = rating[:rating.index("</p>")]
        assert "已回访：<strong>基本满意</strong> · 未解决 · " in rating and "2025-04-10 10:30" in rating and "说明：电话回访" in rating

        again = client.post(f"/demands/{mine.pk}/do/evaluate/", {"solved": "yes", "satisfaction": "unsatisfied"},
                            follow=True).content.decode()
        assert "该诉求已评价（满意），不能再次评价。" in again and "如需重办" not in again
        late = client.post(f"/demands/{called.pk}/do/evaluate/", {"solved": "yes", "satisfaction": "satisfied"},
                           follow=True).content.decode()
        assert "该诉求已有回访结果（基本满意），不能再次评价。" in late
    mine.refresh_from_db()
    assert (mine.satisfaction, mine.callback_solved) == ("satisfied", True)
    assert not mine.events.filter(action="commented").exists() and not open_one.events.filter(
        action="commented").exists()
    # The service answers the API the same way.
    with pytest.raises(ValidationError) as empty_note:
        services.follow_up(open_one, actor=alice, note=" ")
    assert empty_note.value.message_dict == {"note": ["请填写跟踪督办说明。"]}
    with pytest.raises(TransitionNotAllowed) as twice:
        services.evaluate(mine, actor=alice, contacted=True, solved=True, satisfaction="satisfied")
    assert (twice.value.code, twice.value.detail) == ("callback_recorded", "该诉求已评价（满意），不能再次评价。")
