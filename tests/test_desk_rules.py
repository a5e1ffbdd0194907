"""Issue 16, defects 2, 3 and 5 (services and API): bounded extensions, sessions recorded only once begun,
and no second dispatch to the same grid."""
import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from cases import services
from cases.choices import Action, Status
from cases.models import Case
from grids.choices import Role
from reps.choices import VisitStatus
from reps.models import Visit
from reps.visits import raise_case_at_visit

from . import factories

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2025, 4, 7, 9, 0, tzinfo=SH)  # Monday 09:00
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.fixture(scope="module")
def town(django_db_setup, django_db_blocker):
    with factories.seeded_town(django_db_blocker) as town:
        yield town


def api(town, role) -> APIClient:
    client = APIClient()
    client.credentials(**{"HTTP_AUTHORIZATION": f"Token {town.tokens[role]}"})
    return client


def dispatched(town, **kw):
    return factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.DISPATCHED, now=T0, **kw)


# --- Defect 2: extensions are bounded ------------------------------------------------------------------


@pytest.mark.django_db
def test_extension_bound_is_the_complex_window_with_the_seeded_policies(town):
    case = dispatched(town)
    # General urgency: resolve due 7 days after 09:00 on 7 April = 14 April 09:00 (+08:00).
    assert case.resolve_due_at == dt.datetime(2025, 4, 14, 9, 0, tzinfo=SH)
    # 30 days (EXTENSION_MAX_DAYS) vs the complex window of 15 days: the shorter, 15 days, governs.
    assert services.latest_extension_until(case) == dt.datetime(2025, 4, 29, 9, 0, tzinfo=SH)


@pytest.mark.django_db
def test_extension_to_2099_is_refused_and_one_at_the_bound_is_accepted(town):
    case = dispatched(town)
    gus = town.user(Role.GRID_LEADER)
    with pytest.raises(ValidationError) as err:
        services.request_extension(case, actor=gus, until=dt.datetime(2099, 1, 1, tzinfo=SH), reason="等待", now=T0 + H)
    assert err.value.message_dict == {"until": ["延期时间不能晚于 2025-04-29 09:00（当前办结时限后至多15天）。"]}
    with pytest.raises(ValidationError):  # one second past the bound
        services.request_extension(case, actor=gus, until=dt.datetime(2025, 4, 29, 9, 0, 1, tzinfo=SH), reason="等待",
                                   now=T0 + H)
    case = services.request_extension(case, actor=gus, until=dt.datetime(2025, 4, 29, 9, 0, tzinfo=SH),
                                      reason="等待配件", now=T0 + H)
    assert case.extension_requested_until == dt.datetime(2025, 4, 29, 9, 0, tzinfo=SH)


@pytest.mark.django_db
def test_extension_bound_follows_the_settings(town, settings):
    settings.EXTENSION_MAX_DAYS = 3
    case = dispatched(town)
    assert services.latest_extension_until(case) == dt.datetime(2025, 4, 17, 9, 0, tzinfo=SH)


@pytest.mark.django_db
def test_approval_refuses_a_request_beyond_the_bound_filed_before_it(town, settings):
    case = dispatched(town)
    sam = town.user(Role.SUPERVISOR)
    case = services.request_extension(case, actor=town.user(Role.GRID_LEADER), until=T0 + 20 * D, reason="协调",
                                      now=T0 + H)
    settings.EXTENSION_MAX_DAYS = 5  # the bound tightened while the request waited: 14 April + 5 days
    with pytest.raises(services.TransitionNotAllowed) as err:
        services.approve_extension(case, actor=sam, now=T0 + 2 * H)
    assert err.value.code == "extension_too_long"
    assert Case.objects.get(pk=case.pk).resolve_due_at == dt.datetime(2025, 4, 14, 9, 0, tzinfo=SH)


@pytest.mark.django_db
def test_api_answers_400_for_an_unbounded_extension_and_shows_the_bound(town):
    case = dispatched(town)
    gus = api(town, Role.GRID_LEADER)
    with time_machine.travel(T0 + H, tick=False):
        shown = gus.get(f"/api/v1/cases/{case.pk}/").json()
        answer = gus.post(f"/api/v1/cases/{case.pk}/extend/", {"until": "2099-01-01T00:00:00+08:00", "reason": "x"},
                          format="json")
    assert shown["extension_latest_until"] == "2025-04-29T09:00:00+08:00"
    assert answer.status_code == 400
    assert answer.json() == {"until": ["延期时间不能晚于 2025-04-29 09:00（当前办结时限后至多15天）。"]}


# --- Defect 5: no second dispatch to the same grid ------------------------------------------------------


@pytest.mark.django_db
def test_redispatch_to_the_same_grid_is_refused_and_writes_no_event(town):
    case = dispatched(town)
    dora = town.user(Role.DISPATCHER)
    before = list(case.events.values_list("action", flat=True))
    with pytest.raises(services.TransitionNotAllowed) as err:
        services.dispatch(case, actor=dora, grid=town.a1, now=T0 + H)
    assert err.value.code == "already_dispatched"
    assert list(case.events.values_list("action", flat=True)) == before == [Action.CREATED, Action.DISPATCHED]
    # Another grid is a reassignment; so is another handler in the same grid.
    case = services.dispatch(case, actor=dora, grid=town.a2, now=T0 + 2 * H)
    assert case.grid_id == town.a2.pk and case.events.filter(action=Action.DISPATCHED).count() == 2


@pytest.mark.django_db
def test_api_redispatch_to_the_same_grid_answers_409(town):
    case = dispatched(town)
    answer = api(town, Role.DISPATCHER).post(f"/api/v1/cases/{case.pk}/dispatch/", {"grid": town.a1.pk},
                                             format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "already_dispatched"


@pytest.mark.django_db
def test_a_returned_case_may_go_back_to_the_grid_that_returned_it(town):
    case = factories.make_case(grid=town.a1, actor=town.user(Role.DISPATCHER), state=Status.RETURNED, now=T0)
    case = services.dispatch(case, actor=town.user(Role.DISPATCHER), grid=town.a1, now=T0 + H)
    assert case.status == Status.DISPATCHED


# --- Defect 3: a session is recorded, and demands raised at it, only once it has begun ------------------


@pytest.mark.django_db
def test_a_case_cannot_be_raised_at_a_visit_whose_day_has_not_come(town):
    cai = town.user(Role.CADRE)
    cadre = cai.cadre
    visit = Visit.objects.create(cadre=cadre, village=town.a, iso_week="2025-W16", planned_date=dt.date(2025, 4, 14),
                                 status=VisitStatus.PLANNED)
    with pytest.raises(ValidationError) as err:
        raise_case_at_visit(visit, actor=cai, kind="help", title="路灯", now=T0)  # a week early
    assert err.value.message_dict == {"visit": ["该场次于 2025-04-14 00:00 开始，开始前不能登记诉求。"]}
    case = raise_case_at_visit(visit, actor=cai, kind="help", title="路灯", now=dt.datetime(2025, 4, 14, 9, 5, tzinfo=SH))
    assert case.visit_link.visit_id == visit.pk


@pytest.fixture
def reception(town):
    from reps import services as reps_services
    from reps.models import Deputy, Reception
    from reps.seeding import seed_stations

    seed_stations()
    reps_services.plan_receptions(weeks=2, now=T0 - D)
    deputy = reps_services.link_login(Deputy.objects.get(code="LS01-1"), town.user(Role.DEPUTY))
    # LS01 receives on Wednesdays 09:00–11:30 (seeds/stations.csv): 9 April 2025.
    return Reception.objects.get(station__code="LS01", date=dt.date(2025, 4, 9)), deputy


@pytest.mark.django_db
def test_a_reception_a_week_ahead_cannot_be_recorded_as_held(reception):
    from reps import services as reps_services

    session, deputy = reception
    with pytest.raises(ValidationError) as err:
        reps_services.record_reception(session, actor=deputy.user, deputies=[deputy], residents_received=5,
                                       now=dt.datetime(2025, 4, 2, 10, 0, tzinfo=SH))
    assert err.value.message_dict == {"starts_at": ["该场次于 2025-04-09 09:00 开始，开始前不能记录为已举行。"]}
    # Five minutes before the start is within the clocks' tolerance; recorded while it runs, it ends now.
    held = reps_services.record_reception(session, actor=deputy.user, deputies=[deputy], residents_received=5,
                                          now=dt.datetime(2025, 4, 9, 10, 0, tzinfo=SH))
    assert held.status == "held"
    assert held.ends_at == dt.datetime(2025, 4, 9, 10, 0, tzinfo=SH)


@pytest.mark.django_db
def test_demands_cannot_be_raised_at_a_reception_that_has_not_begun(town, reception):
    from reps import services as reps_services

    session, deputy = reception
    with pytest.raises(ValidationError) as err:
        reps_services.raise_demand(actor=deputy.user, reception=session, kind="help", title="路灯", grid=town.a1,
                                   now=dt.datetime(2025, 4, 2, 10, 0, tzinfo=SH))
    assert list(err.value.message_dict) == ["reception"]
    case = reps_services.raise_demand(actor=deputy.user, reception=session, kind="help", title="路灯", grid=town.a1,
                                      now=dt.datetime(2025, 4, 9, 8, 56, tzinfo=SH))  # within 5 minutes
    assert case.source == "deputy"


@pytest.mark.django_db
def test_api_refuses_to_record_a_future_reception_with_400(town, reception):
    session, deputy = reception
    client = api(town, Role.DEPUTY)
    with time_machine.travel(dt.datetime(2025, 4, 2, 10, 0, tzinfo=SH), tick=False):
        answer = client.post(f"/api/v1/receptions/{session.pk}/record/",
                             {"deputies": [deputy.pk], "residents_received": 3}, format="json")
    assert answer.status_code == 400 and list(answer.json()) == ["starts_at"]
