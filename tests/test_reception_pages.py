"""The liaison station's receptions as pages (issue 16 build 6, defect 3): list, plan, record, raise a demand."""
import datetime as dt
import re

import pytest
import time_machine

from cases.choices import Source
from cases.models import Case
from reps.choices import ReceptionStatus
from reps.models import LiaisonStation, RaisedDemand, Reception
from tests import test_reps
from tests.test_pages import field_errors
from tests.test_reps import SH, T0, T_PLAN, H, ls01_reception

town = test_reps.town  # the personas' fixture: deputies alice, bob (LS01) and carol (LS02), a dispatcher

FUTURE_REFUSAL = "该场次于 2025-04-09 09:00 开始，开始前不能记录为已举行。"


def record_form(town, **overrides):
    data = {"starts_at": "2025-04-09T09:00", "ends_at": "2025-04-09T11:00",
            "deputies": [town["alice"].pk, town["bob"].pk], "residents_received": "12", "notes": "群众反映路灯问题"}
    data.update(overrides)
    return data


def demand_form(town, reception, **overrides):
    data = {"reception": reception.pk, "village": town["grid"].village_id, "grid": town["grid"].pk, "category": "",
            "kind": "complaint", "urgency": "", "title": "村口路灯不亮", "description": "晚上看不见路",
            "address": "村口", "complainant_name": "", "complainant_phone": "", "result": ""}
    data.update(overrides)
    return data


def chunk(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start:html.index("</ul>", start)]


@pytest.mark.django_db
def test_a_deputy_sees_the_own_stations_receptions_planned_and_held(client, town):
    reception = ls01_reception()
    client.force_login(town["alice"].user)
    with time_machine.travel(T0 - 2 * H, tick=False):  # 07:30 on the reception day: not begun yet
        html = client.get("/receptions/").content.decode()
        assert '接待活动</a>' in html  # in the deputy's menu
        planned = chunk(html, "receptions-planned")
        assert f'data-reception="{reception.pk}"' in planned
        assert f'data-testid="record-reception-{reception.pk}"' not in planned  # nothing to record before it begins
        assert "接待开始后可记录、可登记诉求。" in planned
        ls02 = set(Reception.objects.filter(station__code="LS02").values_list("pk", flat=True))
        shown = {int(pk) for pk in re.findall(r'data-reception="(\d+)"', html)}
        assert shown and not shown & ls02  # another station's receptions are not alice's
    with time_machine.travel(T0, tick=False):  # 09:30: begun, still planned
        html = client.get("/receptions/").content.decode()
        assert re.search(rf'data-testid="reception-state-{reception.pk}">待记录<', html)
        assert f'href="/receptions/{reception.pk}/record/"' in html
        assert f'href="/cases/new/?reception={reception.pk}"' in html


@pytest.mark.django_db
def test_a_deputy_plans_an_extra_reception_at_the_own_station_only(client, town):
    client.force_login(town["alice"].user)
    ls01, ls02 = LiaisonStation.objects.get(code="LS01"), LiaisonStation.objects.get(code="LS02")
    with time_machine.travel(T_PLAN, tick=False):
        form = client.get("/receptions/new/").content.decode()
        assert f'<option value="{ls02.pk}"' not in form and f'<option value="{ls01.pk}" selected' in form
        answer = client.post("/receptions/new/", {"station": ls01.pk, "starts_at": "2025-04-12T14:00",
                                                  "ends_at": "2025-04-12T16:00",
                                                  "deputies": [town["alice"].pk, town["bob"].pk], "notes": "周末加场"})
        assert answer.status_code == 302
        refused = client.post("/receptions/new/", {"station": ls02.pk, "starts_at": "2025-04-12T14:00",
                                                   "ends_at": "2025-04-12T13:00", "deputies": [town["alice"].pk]})
    reception = Reception.objects.get(regular=False)
    assert (reception.station, reception.status, reception.notes) == (ls01, ReceptionStatus.PLANNED, "周末加场")
    assert (reception.starts_at, reception.ends_at) == (dt.datetime(2025, 4, 12, 14, tzinfo=SH),
                                                        dt.datetime(2025, 4, 12, 16, tzinfo=SH))
    assert sorted(reception.deputies.values_list("code", flat=True)) == ["LS01-1", "LS01-2"]
    assert refused.status_code == 400
    assert field_errors(refused.content.decode(), "station") == ["请选择您可以安排接待的代表联络站。"]
    assert Reception.objects.filter(regular=False).count() == 1


@pytest.mark.django_db
def test_recording_a_reception_before_it_begins_is_refused_and_keeps_what_was_typed(client, town):
    reception = ls01_reception()
    client.force_login(town["alice"].user)
    with time_machine.travel(T_PLAN, tick=False):  # a week and a day ahead
        page = client.get(f"/receptions/{reception.pk}/record/").content.decode()
        assert "本次接待尚未开始：开始后才能记录为已接待。" in page
        refused = client.post(f"/receptions/{reception.pk}/record/", record_form(town))
    html = refused.content.decode()
    assert refused.status_code == 400
    assert field_errors(html, "starts_at") == [FUTURE_REFUSAL]
    assert "请修改下面标红的项。" in html
    assert 'name="residents_received" value="12"' in html and "群众反映路灯问题</textarea>" in html
    assert re.search(rf'value="{town["bob"].pk}"[^>]*checked', html)
    reception.refresh_from_db()
    assert (reception.status, reception.recorded_at, reception.residents_received) == (
        ReceptionStatus.PLANNED, None, 0)


@pytest.mark.django_db
def test_a_deputy_records_a_held_reception(client, town):
    reception = ls01_reception()
    client.force_login(town["alice"].user)
    with time_machine.travel(T0 + 2 * H, tick=False):  # 11:30, over
        missing = client.post(f"/receptions/{reception.pk}/record/", record_form(town, deputies=[],
                                                                                 residents_received=""))
        answer = client.post(f"/receptions/{reception.pk}/record/", record_form(town))
        html = client.get(answer.url).content.decode()
    assert missing.status_code == 400
    assert field_errors(missing.content.decode(), "deputies") == ["请至少选择一位到场代表。"]
    assert field_errors(missing.content.decode(), "residents_received") == ["请填写接待群众人数。"]
    assert answer.status_code == 302
    reception.refresh_from_db()
    assert (reception.status, reception.residents_received, reception.notes) == (
        ReceptionStatus.HELD, 12, "群众反映路灯问题")
    assert (reception.starts_at, reception.ends_at) == (dt.datetime(2025, 4, 9, 9, tzinfo=SH),
                                                        dt.datetime(2025, 4, 9, 11, tzinfo=SH))
    assert reception.recorded_by == town["alice"].user
    assert sorted(reception.deputies.values_list("code", flat=True)) == ["LS01-1", "LS01-2"]
    held = chunk(html, "receptions-held")
    assert f'data-reception="{reception.pk}"' in held and "接待群众 12 人，登记诉求 0 件" in held


@pytest.mark.django_db
def test_a_deputy_raises_a_demand_at_a_reception_and_not_before_it_begins(client, town):
    reception = ls01_reception()
    client.force_login(town["alice"].user)
    with time_machine.travel(T_PLAN, tick=False):
        early = client.post("/cases/new/", demand_form(town, reception))
    assert early.status_code == 400
    assert "该场次于 2025-04-09 09:00 开始，开始前不能登记诉求。" in early.content.decode()
    assert Case.objects.count() == 0 and RaisedDemand.objects.count() == 0
    with time_machine.travel(T0, tick=False):
        form = client.get(f"/cases/new/?reception={reception.pk}").content.decode()
        assert "在 西集村代表联络站（演示） 2025-04-09 09:00 的接待中登记的代表诉求" in form
        answer = client.post("/cases/new/", demand_form(town, reception))
        case = Case.objects.get()
        assert answer.status_code == 302 and answer.url == f"/cases/{case.pk}/"
        receptions = client.get("/receptions/").content.decode()
        demands = client.get("/demands/").content.decode()
    assert (case.source, case.title, case.village_id, case.grid_id) == (
        Source.DEPUTY, "村口路灯不亮", town["grid"].village_id, town["grid"].pk)
    demand = case.raised_demand
    assert (demand.deputy, demand.station.code, demand.reception) == (town["alice"], "LS01", reception)
    assert f'href="/cases/{case.pk}/">{case.number}</a>' in receptions  # listed under the reception
    assert f'data-demand="{case.pk}"' in demands  # and on the deputy's demands page, with its five steps


@pytest.mark.django_db
def test_another_stations_deputy_gets_404_and_the_command_centre_records(client, town):
    reception = ls01_reception()
    client.force_login(town["carol"].user)  # LS02's deputy, not on LS01's duty list
    with time_machine.travel(T0 + 2 * H, tick=False):
        assert client.get(f"/receptions/{reception.pk}/record/").status_code == 404
        assert client.post(f"/receptions/{reception.pk}/record/", record_form(town)).status_code == 404
        assert client.get(f"/cases/new/?reception={reception.pk}").status_code == 404
        assert client.post("/cases/new/", demand_form(town, reception)).status_code == 404
        assert f'data-reception="{reception.pk}"' not in client.get("/receptions/").content.decode()
        reception.refresh_from_db()
        assert reception.status == ReceptionStatus.PLANNED and Case.objects.count() == 0
        client.force_login(town["dispatcher"])  # the command centre runs every station's receptions
        assert client.post(f"/receptions/{reception.pk}/record/", record_form(town)).status_code == 302
        assert client.get(f"/cases/new/?reception={reception.pk}").status_code == 403  # demands: a deputy's own
    reception.refresh_from_db()
    assert reception.status == ReceptionStatus.HELD and reception.recorded_by == town["dispatcher"]


def plan_form(town, starts_at, ends_at, **overrides):
    data = {"station": LiaisonStation.objects.get(code="LS01").pk, "starts_at": starts_at, "ends_at": ends_at,
            "deputies": [town["alice"].pk], "notes": "加场说明"}
    data.update(overrides)
    return data


WINDOW_REFUSAL = ("开始时间须在 2025-03-18 10:00 至 2025-05-13 10:00 之间（14 天前至 42 天后），"
                  "超出此范围的接待不会出现在接待列表中。")


@pytest.mark.django_db
@pytest.mark.parametrize(("starts_at", "ends_at"), [("2025-03-18T09:00", "2025-03-18T11:00"),
                                                    ("2099-01-01T09:00", "2099-01-01T11:00")])
def test_a_reception_outside_the_listed_window_is_refused_and_keeps_what_was_typed(client, town, starts_at, ends_at):
    client.force_login(town["alice"].user)
    with time_machine.travel(T_PLAN, tick=False):  # Tuesday 2025-04-01 10:00
        answer = client.post("/receptions/new/", plan_form(town, starts_at, ends_at))
    html = answer.content.decode()
    assert answer.status_code == 400
    assert field_errors(html, "starts_at") == [WINDOW_REFUSAL]
    assert f'value="{starts_at}"' in html and f'value="{ends_at}"' in html and "加场说明" in html
    assert not Reception.objects.filter(regular=False).exists()


@pytest.mark.django_db
def test_the_window_edges_are_plannable_and_listed(client, town):
    client.force_login(town["alice"].user)
    with time_machine.travel(T_PLAN, tick=False):
        for start, end in (("2025-03-18T10:00", "2025-03-18T11:00"), ("2025-05-13T10:00", "2025-05-13T12:00")):
            assert client.post("/receptions/new/", plan_form(town, start, end)).status_code == 302
        listed = chunk(client.get("/receptions/").content.decode(), "receptions-planned")
    extra = list(Reception.objects.filter(regular=False).order_by("starts_at"))
    assert [r.starts_at for r in extra] == [dt.datetime(2025, 3, 18, 10, tzinfo=SH), dt.datetime(2025, 5, 13, 10, tzinfo=SH)]
    assert all(f'data-reception="{r.pk}"' in listed for r in extra)


@pytest.mark.django_db
def test_a_reception_ending_on_a_later_day_or_overlapping_another_is_refused(client, town):
    client.force_login(town["alice"].user)
    with time_machine.travel(T_PLAN, tick=False):
        spanning = client.post("/receptions/new/", plan_form(town, "2025-04-05T09:00", "2025-04-08T11:00"))
        first = client.post("/receptions/new/", plan_form(town, "2025-04-12T14:00", "2025-04-12T16:00"))
        overlapping = client.post("/receptions/new/", plan_form(town, "2025-04-12T15:30", "2025-04-12T17:00"))
        after = client.post("/receptions/new/", plan_form(town, "2025-04-12T16:00", "2025-04-12T17:00"))
        other_station = client.post("/receptions/new/", plan_form(
            town, "2025-04-12T15:00", "2025-04-12T16:00", station=LiaisonStation.objects.get(code="LS02").pk))
    assert spanning.status_code == 400
    assert field_errors(spanning.content.decode(), "ends_at") == ["接待须在开始当天（2025-04-05）结束，结束时间不能在次日或之后。"]
    assert 'value="2025-04-08T11:00"' in spanning.content.decode()
    assert (first.status_code, overlapping.status_code, after.status_code) == (302, 400, 302)
    assert field_errors(overlapping.content.decode(), "starts_at") == [
        "与西集村代表联络站（演示）已有的接待（2025-04-12 14:00–16:00）时间重叠，请另选时间。"]
    assert other_station.status_code == 400  # alice may not plan at LS02 at all (its own refusal)
    assert sorted((r.starts_at.astimezone(SH).hour, r.ends_at.astimezone(SH).hour)
                  for r in Reception.objects.filter(regular=False)) == [(14, 16), (16, 17)]


@pytest.mark.django_db
def test_the_api_refuses_the_same_receptions_with_400(town):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(town["alice"].user)
    ls01 = LiaisonStation.objects.get(code="LS01").pk

    def post(start, end):
        with time_machine.travel(T_PLAN, tick=False):
            return api.post("/api/v1/receptions/", {"station": ls01, "starts_at": start, "ends_at": end,
                                                    "deputies": [town["alice"].pk]}, format="json")

    far = post("2099-01-01T09:00:00+08:00", "2099-01-01T11:00:00+08:00")
    assert far.status_code == 400 and WINDOW_REFUSAL in str(far.json())
    spanning = post("2025-04-05T09:00:00+08:00", "2025-04-08T11:00:00+08:00")
    assert spanning.status_code == 400 and "接待须在开始当天（2025-04-05）结束" in str(spanning.json())
    assert post("2025-04-12T14:00:00+08:00", "2025-04-12T16:00:00+08:00").status_code == 201
    overlapping = post("2025-04-12T13:00:00+08:00", "2025-04-12T14:30:00+08:00")
    assert overlapping.status_code == 400 and "2025-04-12 14:00–16:00" in str(overlapping.json())
    assert Reception.objects.filter(regular=False).count() == 1
