"""Rule fidelity (issue 12): each fault kind pinned by a test whose right answer is worked out by hand."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from cases import services
from cases.choices import Action, Status
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


def make(town, state=Status.RECEIVED, **kw):
    return factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=state, now=T0, **kw)


def api(town, role=Role.DISPATCHER) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {town.tokens[role]}")
    return client


# --- Fault 6: duplicates across callers, and a cancelled original ------------------------------------------


@pytest.mark.django_db
def test_duplicate_of_another_callers_case_needs_confirmation_in_service_api_and_page(town, client):
    """Caller 13812345678 logged the original; 13900001111 calls about the same lamp: the two phones differ,
    so the cancel-as-duplicate is refused (400, reason on ``confirm_other_caller``) until confirmed, and the
    event records ``caller: different`` with the confirmation. The same caller needs no flag."""
    dora = town.user(Role.DISPATCHER)
    original = make(town, complainant_phone="13812345678")
    other = make(town, complainant_phone="139-0000-1111")
    with pytest.raises(ValidationError) as err:
        services.cancel(other, actor=dora, reason="重复", duplicate_of=original)
    assert "confirm_other_caller" in err.value.message_dict
    assert Case.objects.get(pk=other.pk).status == Status.RECEIVED

    refused = api(town).post(f"/api/v1/cases/{other.pk}/cancel/", {"reason": "重复", "duplicate_of": original.pk},
                             format="json")
    assert refused.status_code == 400 and "confirm_other_caller" in refused.json()
    done = api(town).post(f"/api/v1/cases/{other.pk}/cancel/", {"reason": "重复", "duplicate_of": original.pk,
                                                                "confirm_other_caller": True}, format="json")
    assert done.status_code == 200 and done.json()["status"] == Status.CANCELLED
    event = CaseEvent.objects.get(case=other, action=Action.CANCELLED)
    assert (event.data["caller"], event.data["confirm_other_caller"]) == ("different", True)

    same = make(town, complainant_phone="+86 138 1234 5678")  # the original's caller again
    services.cancel(same, actor=dora, reason="重复", duplicate_of=original)
    event = CaseEvent.objects.get(case=same, action=Action.CANCELLED)
    assert (event.data["caller"], event.data["confirm_other_caller"]) == ("same", False)

    # the case page's form: refused without the box, done with it
    page_case = make(town, complainant_phone="13700002222")
    client.force_login(dora)
    form = {"cancel-seen": "received", "cancel-reason": "重复", "cancel-duplicate_of": original.number,
            "cancel-exclude": "on"}
    answer = client.post(f"/cases/{page_case.pk}/do/cancel/", form)
    assert answer.status_code == 400 and "确认不同诉求人" in answer.content.decode()
    assert Case.objects.get(pk=page_case.pk).status == Status.RECEIVED
    client.post(f"/cases/{page_case.pk}/do/cancel/", {**form, "cancel-confirm_other_caller": "on"})
    assert Case.objects.get(pk=page_case.pk).duplicate_of_id == original.pk


@pytest.mark.django_db
def test_a_cancelled_case_cannot_be_the_original(town):
    """An original cancelled as invalid is refused (400 on ``duplicate_of``) in the service and the API; a
    resolved or closed original is accepted."""
    dora = town.user(Role.DISPATCHER)
    invalid = services.cancel(make(town), actor=dora, reason="无效诉求")
    repeat = make(town)
    with pytest.raises(ValidationError) as err:
        services.cancel(repeat, actor=dora, reason="重复", duplicate_of=invalid)
    assert "duplicate_of" in err.value.message_dict
    refused = api(town).post(f"/api/v1/cases/{repeat.pk}/cancel/", {"reason": "重复", "duplicate_of": invalid.pk},
                             format="json")
    assert refused.status_code == 400 and "已撤销" in str(refused.json()["duplicate_of"])
    assert Case.objects.get(pk=repeat.pk).status == Status.RECEIVED
    closed = make(town, state=Status.CLOSED)
    assert services.cancel(repeat, actor=dora, reason="重复", duplicate_of=closed).duplicate_of_id == closed.pk


# --- Fault 3: the boundary instant -------------------------------------------------------------------------

US = dt.timedelta(microseconds=1)
#: (deadline kind, point field, mark field): general urgency, received T0 — respond due T0 + 24 h (warning
#: at 75 % = T0 + 18 h), resolve due T0 + 7 d (warning at T0 + 5 d 6 h).
POINTS = [
    ("respond warning", "respond_warn_at", "respond_warned_at", T0 + 18 * H),
    ("respond breach", "respond_due_at", "respond_breached_at", T0 + 24 * H),
    ("resolve warning", "resolve_warn_at", "resolve_warned_at", T0 + 5 * D + 6 * H),
    ("resolve breach", "resolve_due_at", "resolve_breached_at", T0 + 7 * D),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "point_field", "mark_field", "point"), POINTS, ids=[p[0] for p in POINTS])
def test_a_sweep_marks_a_point_only_after_its_instant(town, kind, point_field, mark_field, point):
    """One rule (cases.boundary): a point has passed iff now > point. Sweeps with the clock pinned at
    point − 1 µs and exactly at it record nothing and notify nobody; at point + 1 µs the mark is recorded,
    stamped with the point itself."""
    import time_machine

    from cases.deadlines import sweep
    from cases.models import Notification

    case = make(town, Status.ACCEPTED, urgency="general")
    assert getattr(case, point_field) == point
    for offset in (-US, dt.timedelta(0)):
        with time_machine.travel(point + offset, tick=False):
            sweep()
        assert getattr(Case.objects.get(pk=case.pk), mark_field) is None, (kind, offset)
    notified = Notification.objects.filter(case=case).count()
    with time_machine.travel(point + US, tick=False):
        sweep()
    assert getattr(Case.objects.get(pk=case.pk), mark_field) == point
    assert Notification.objects.filter(case=case).count() > notified


@pytest.mark.django_db
@pytest.mark.parametrize("deadline", ["respond", "resolve"])
def test_met_at_the_instant_is_on_time_and_never_breached_everywhere(town, deadline):
    """Done at due − 1 µs or exactly at due: on time in the model, the API's deadline state and the
    statistics, and no sweep afterwards breaches it. Done at due + 1 µs: late everywhere, and the sweep
    records the breach. An open case is overdue (lists, statistics) only from due + 1 µs."""
    import time_machine

    from cases.api.serializers import deadline_state
    from cases.deadlines import sweep
    from cases.selectors import overdue_cases, rates

    due = T0 + (24 * H if deadline == "respond" else 7 * D)
    done_field, breach_field = f"{deadline}ed_at" if deadline == "respond" else "resolved_at", f"{deadline}_breached_at"
    dora = town.user(Role.DISPATCHER)
    verdicts = {}
    for label, offset in (("-1us", -US), ("exact", dt.timedelta(0)), ("+1us", US)):
        case = make(town, Status.ACCEPTED, urgency="general")
        at = due + offset
        if deadline == "respond":
            services.respond(case.pk, actor=dora, note="已联系", now=at)
        else:
            services.respond(case.pk, actor=dora, note="已联系", now=T0 + H)
            services.resolve(case.pk, actor=dora, solved=True, result="已修复", now=at)
        with time_machine.travel(due + D, tick=False):
            sweep()
        case = Case.objects.get(pk=case.pk)
        on_time = case.responded_on_time if deadline == "respond" else case.resolved_on_time
        state = deadline_state(due_at=due, warn_at=None, met_at=getattr(case, done_field), now=due + D)
        stats = rates(cases=Case.objects.filter(pk=case.pk), now=due + D)[0]
        verdicts[label] = (on_time, state["on_time"], state["breached"], getattr(case, breach_field) is not None,
                           stats[f"{deadline}_on_time"], stats["overdue"])
    assert verdicts == {
        "-1us": (True, True, False, False, 1, 0),
        "exact": (True, True, False, False, 1, 0),
        "+1us": (False, False, True, True, 0, 1),
    }
    open_case = make(town, Status.ACCEPTED, urgency="general")
    if deadline == "resolve":  # responded in time: only the resolve deadline is at stake
        services.respond(open_case.pk, actor=dora, note="已联系", now=T0 + H)
    listed = {label: overdue_cases(now=due + offset, cases=Case.objects.filter(pk=open_case.pk), open_only=True)
              .exists() for label, offset in (("-1us", -US), ("exact", dt.timedelta(0)), ("+1us", US))}
    assert listed == {"-1us": False, "exact": False, "+1us": True}
    counted = {label: rates(cases=Case.objects.filter(pk=open_case.pk), now=due + offset)[0]["overdue"]
               for label, offset in (("-1us", -US), ("exact", dt.timedelta(0)), ("+1us", US))}
    assert counted == {"-1us": 0, "exact": 0, "+1us": 1}


# --- Fault 2: changing urgency never re-arms deadlines -----------------------------------------------------


@pytest.mark.django_db
def test_change_urgency_counts_from_the_rounds_start_keeps_marks_and_refuses_the_same_urgency(town):
    """By hand. (a) General case received T0, resolved, called back unsatisfied, reopened at R = T0 + 3 d:
    the new round runs respond R + 24 h, resolve R + 7 d. Changed to emergency (2 h / 24 h) at R + 1 h, the
    deadlines become R + 2 h and R + 24 h (not T0 + 2 h and T0 + 24 h, long past), and a sweep at
    R + 1 h 30 min records nothing. (b) Emergency case received T0: warned at T0 + 1 h 30 min, breached at
    T0 + 2 h (sweep at T0 + 3 h). Changed to general at T0 + 4 h (respond now T0 + 24 h): the marks stay, and
    a sweep at T0 + 25 h records no second warning or breach. (c) The same urgency again: 409
    ``urgency_unchanged``, no event, deadlines as they were — also after the policy was edited."""
    from cases.choices import Satisfaction
    from cases.deadlines import sweep
    from cases.models import SlaPolicy

    dora, sue = town.user(Role.DISPATCHER), town.user(Role.SUPERVISOR)
    R = T0 + 3 * D
    case = make(town, Status.ACCEPTED, urgency="general")
    services.respond(case.pk, actor=dora, note="已联系", now=T0 + H)
    services.resolve(case.pk, actor=dora, solved=False, result="未修好", now=T0 + 2 * D)
    services.callback(case.pk, actor=dora, contacted=True, solved=False, satisfaction=Satisfaction.UNSATISFIED,
                      now=T0 + 2 * D + H)
    case = services.reopen(case.pk, actor=dora, now=R)
    assert (case.respond_due_at, case.resolve_due_at) == (R + 24 * H, R + 7 * D)
    case = services.change_urgency(case.pk, actor=sue, urgency="emergency", now=R + H)
    assert (case.respond_due_at, case.resolve_due_at) == (R + 2 * H, R + 24 * H)
    report = sweep(R + 90 * dt.timedelta(minutes=1), notify=False)
    assert (report.respond_breaches, report.resolve_breaches) == (0, 0)

    urgent = make(town, Status.ACCEPTED, urgency="emergency")
    assert urgent.respond_due_at == T0 + 2 * H
    sweep(T0 + 3 * H)
    urgent = services.change_urgency(urgent.pk, actor=sue, urgency="general", now=T0 + 4 * H)
    assert urgent.respond_due_at == T0 + 24 * H
    assert (urgent.respond_warned_at, urgent.respond_breached_at) == (T0 + 90 * dt.timedelta(minutes=1), T0 + 2 * H)
    sweep(T0 + 25 * H)
    assert CaseEvent.objects.filter(case=urgent, action=Action.RESPOND_WARNING).count() == 1
    assert CaseEvent.objects.filter(case=urgent, action=Action.RESPOND_BREACH).count() == 1

    SlaPolicy.objects.filter(urgency="general").update(respond_within=48 * H)  # an administrator's edit
    events = CaseEvent.objects.filter(case=urgent).count()
    with pytest.raises(services.TransitionNotAllowed) as err:
        services.change_urgency(urgent.pk, actor=sue, urgency="general", now=T0 + 26 * H)
    assert err.value.code == "urgency_unchanged"
    answer = api(town, Role.SUPERVISOR).post(f"/api/v1/cases/{urgent.pk}/change-urgency/", {"urgency": "general"},
                                             format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "urgency_unchanged"
    urgent = Case.objects.get(pk=urgent.pk)
    assert (urgent.respond_due_at, urgent.respond_breached_at) == (T0 + 24 * H, T0 + 2 * H)
    assert CaseEvent.objects.filter(case=urgent).count() == events


# --- Fault 5: handling times in the API (seconds), on the dashboard and in its exports (hours) -------------


@pytest.mark.django_db
def test_handling_times_in_the_api_in_seconds_and_on_pages_and_exports_in_hours(town, client):
    """Two cases of a1's village received at T0, dispatched after 1800 s and 5400 s: mean 3600 s, median
    3600 s, p90 1800 + 0.9 × 3600 = 5040 s — in hours 1.0 / 1.0 / 1.4. Not yet responded: no figure."""
    dora, sue = town.user(Role.DISPATCHER), town.user(Role.SUPERVISOR)
    for seconds in (1800, 5400):
        case = factories.make_case(grid=town.a1, actor=dora, state=Status.RECEIVED, now=T0)
        services.dispatch(case, actor=dora, grid=town.a1, now=T0 + dt.timedelta(seconds=seconds))
    village = town.a1.village.code
    rows = api(town, Role.SUPERVISOR).get("/api/v1/stats/rates/", {"group_by": "village"}).json()["results"]
    row = next(r for r in rows if r["key"] == village)
    assert (row["dispatch_mean_seconds"], row["dispatch_median_seconds"], row["dispatch_p90_seconds"]) == (
        3600, 3600, pytest.approx(5040))
    assert row["respond_mean_seconds"] is None and row["resolve_p90_seconds"] is None
    client.force_login(sue)
    page = client.get("/dashboard/", {"start": "2025-04-01", "end": "2025-04-30"}).content.decode()
    assert "1.0 / 1.0 / 1.4" in page
    csv_text = client.get("/dashboard/export/villages.csv", {"start": "2025-04-01", "end": "2025-04-30"}) \
        .content.decode("utf-8-sig")
    assert "派单用时中位数（小时）" in csv_text.splitlines()[0]
    line = next(li for li in csv_text.splitlines() if village in li)
    assert ",1.0,1.0,1.4," in line


# --- Fault 4: a dispatch deadline from receipt --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "mark_field", "point"), [
    ("dispatch warning", "dispatch_warned_at", T0 + 45 * dt.timedelta(minutes=1)),
    ("dispatch breach", "dispatch_breached_at", T0 + H),
], ids=["dispatch warning", "dispatch breach"])
def test_an_undispatched_case_has_a_dispatch_deadline_warned_and_breached(town, client, kind, mark_field, point):
    """An emergency case received at T0 and left undispatched: dispatch within 1 h (DB11/T 2021—2022), so
    due T0 + 1 h, warning at 75 % = T0 + 45 min, both from the moment it is received. Sweeps at point − 1 µs
    and exactly at it record nothing; at point + 1 µs the mark is recorded and the dispatchers are notified.
    The API and the intake queue show the dispatch deadline. A case dispatched at T0 + 30 min is never
    marked."""
    import time_machine

    from cases.deadlines import sweep
    from cases.models import Notification

    case = make(town, urgency="emergency")
    assert (case.dispatch_due_at, case.dispatch_warn_at) == (T0 + H, T0 + 45 * dt.timedelta(minutes=1))
    dispatched = make(town, urgency="emergency")
    services.dispatch(dispatched, actor=town.user(Role.DISPATCHER), grid=town.a1, now=T0 + 30 * dt.timedelta(minutes=1))
    for offset in (-US, dt.timedelta(0)):
        with time_machine.travel(point + offset, tick=False):
            sweep()
        assert getattr(Case.objects.get(pk=case.pk), mark_field) is None
    with time_machine.travel(point + US, tick=False):
        sweep()
    assert getattr(Case.objects.get(pk=case.pk), mark_field) == point
    dispatcher = town.user(Role.DISPATCHER)
    assert Notification.objects.filter(case=case, recipient=dispatcher, kind__startswith="dispatch_").exists()
    later = Case.objects.get(pk=dispatched.pk)
    assert later.dispatch_warned_at is None and later.dispatch_breached_at is None
    detail = api(town).get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["deadlines"]["dispatch"]["due_at"].startswith("2025-04-07T10:00")
    client.force_login(dispatcher)
    with time_machine.travel(T0 + 10 * dt.timedelta(minutes=1), tick=False):
        page = client.get("/intake/").content.decode()
    assert 'data-testid="dispatch-due"' in page


# --- Fault 1: every round counts ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_late_round_stays_late_after_an_on_time_reopened_round(town, client):
    """By hand. General case (respond 24 h, resolve 7 d) received T1 = 2024-03-04 09:00, dispatched and
    accepted at T1 + 1 h, contacted at T1 + 2 h (on time), resolved at T1 + 8 d — a day past T1 + 7 d; the
    sweep records the resolve breach at T1 + 7 d. Called back unsatisfied, reopened at R = T1 + 9 d: round 2
    runs respond R + 24 h, resolve R + 7 d, and is met on time (contact R + 1 h, resolve R + 2 d, satisfied).

    Round 1 is kept whole (resolve late, breach at T1 + 7 d, unsatisfied). Per case (the default) the case is
    late on resolve — resolve on time 0 of 1, overdue 1, on the overdue list 1 day late — and on time on
    respond (1 of 1), satisfaction from its latest callback (1 of 1). Per round: respond 2 of 2, resolve 1 of
    2, overdue 1, valid callbacks 2 (satisfied + unsatisfied: satisfaction 0.5). The stored daily
    aggregates give the per-case figures; no second breach is recorded."""
    from cases import selectors
    from cases.choices import Satisfaction
    from cases.deadlines import sweep
    from cases.models import CaseRound

    T1 = dt.datetime(2024, 3, 4, 9, 0, tzinfo=SH)
    R = T1 + 9 * D
    dora = town.user(Role.DISPATCHER)
    case = factories.make_case(grid=town.a1, actor=dora, state=Status.RECEIVED, now=T1, urgency="general")
    services.dispatch(case, actor=dora, grid=town.a1, now=T1 + H)
    services.accept(case.pk, actor=dora, now=T1 + H)
    services.respond(case.pk, actor=dora, note="已联系", now=T1 + 2 * H)
    sweep(T1 + 7 * D + H, notify=False)
    services.resolve(case.pk, actor=dora, solved=False, result="未修好", now=T1 + 8 * D)
    services.callback(case.pk, actor=dora, contacted=True, solved=False, satisfaction=Satisfaction.UNSATISFIED,
                      now=T1 + 8 * D + H)
    case = services.reopen(case.pk, actor=dora, now=R)
    assert (case.round_number, case.respond_due_at, case.resolve_due_at) == (2, R + 24 * H, R + 7 * D)
    assert (case.earlier_respond_late, case.earlier_resolve_late, case.earlier_lateness) == (False, True, D)
    first = CaseRound.objects.get(case=case)
    assert (first.number, first.started_at, first.ended_at) == (1, T1, R)
    assert (first.respond_late, first.resolve_late, first.resolve_breached_at) == (False, True, T1 + 7 * D)
    assert (first.satisfaction, first.callback_solved) == (Satisfaction.UNSATISFIED, False)
    assert case.dispatched_at == T1 + H  # the dispatch deadline is the case's: met once, kept

    services.accept(case.pk, actor=dora, now=R + H)
    services.respond(case.pk, actor=dora, note="再次联系", now=R + H)
    services.resolve(case.pk, actor=dora, solved=True, result="已修好", now=R + 2 * D)
    services.callback(case.pk, actor=dora, contacted=True, solved=True, satisfaction=Satisfaction.SATISFIED,
                      now=R + 2 * D + H)
    now = R + 10 * D
    sweep(now, notify=False)
    case = Case.objects.get(pk=case.pk)
    assert case.resolve_breached_at is None and case.resolved_on_time is True  # the current round alone
    assert CaseEvent.objects.filter(case=case, action=Action.RESOLVE_BREACH).count() == 1

    only = Case.objects.filter(pk=case.pk)
    (per_case,) = selectors.rates(cases=only, now=now)
    assert (per_case["respond_on_time"], per_case["respond_decided"]) == (1, 1)
    assert (per_case["resolve_on_time"], per_case["resolve_decided"], per_case["resolve_on_time_rate"]) == (0, 1, 0.0)
    assert per_case["overdue"] == 1
    assert (per_case["valid_callbacks"], per_case["satisfaction_rate"]) == (1, 1.0)
    (per_round,) = selectors.rates(cases=only, now=now, counting="round")
    assert (per_round["respond_on_time"], per_round["respond_decided"]) == (2, 2)
    assert (per_round["resolve_on_time"], per_round["resolve_decided"], per_round["resolve_on_time_rate"]) == (1, 2, 0.5)
    assert per_round["overdue"] == 1
    assert (per_round["valid_callbacks"], per_round["satisfied"], per_round["unsatisfied"]) == (2, 1, 1)
    assert per_round["satisfaction_rate"] == 0.5

    listed = list(selectors.overdue_cases(now=now, cases=only))
    assert [(c.pk, c.lateness) for c in listed] == [(case.pk, D)]
    assert not selectors.overdue_cases(now=now, cases=only, open_only=True).exists()

    selectors.refresh_daily_stats(full=True, now=now)
    day = T1.date()
    (stored,) = [row for row in selectors.rates(group_by="village", start=day, end=day, now=now)
                 if row["key"] == town.a1.village.code]
    assert (stored["resolve_on_time"], stored["resolve_decided"], stored["overdue"]) == (0, 1, 1)
    answer = api(town, Role.SUPERVISOR).get("/api/v1/stats/rates/", {
        "start": day.isoformat(), "end": day.isoformat(), "counting": "round"}).json()
    assert answer["counting"] == "round"
    assert (answer["results"][0]["resolve_on_time"], answer["results"][0]["valid_callbacks"]) == (1, 2)
    detail = api(town, Role.SUPERVISOR).get(f"/api/v1/cases/{case.pk}/").json()
    assert (detail["round_number"], detail["earlier_resolve_late"], len(detail["rounds"])) == (2, True, 1)
    assert (detail["rounds"][0]["resolve_late"], detail["rounds"][0]["satisfaction"]) == (True, "unsatisfied")
    client.force_login(town.user(Role.SUPERVISOR))
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="rounds"' in page and "第 1 轮" in page and "当前第 2 轮" in page
