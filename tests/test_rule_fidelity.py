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
