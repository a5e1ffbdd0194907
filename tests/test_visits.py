"""Weekly village visits (DESIGN §7, issue 7): planning rule, missed marking, reminders, recording, coverage,
the calendar feed, the command, the beat entries, and the planning task in a real worker."""
import datetime as dt
import logging
from io import StringIO
from zoneinfo import ZoneInfo

import chinese_calendar
import chinese_calendar.constants
import icalendar
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import translation

from cases.choices import DeliveryStatus, NotificationKind, Source
from cases.models import Case, Delivery, Notification
from cases.services import TransitionNotAllowed, create_case
from grids.choices import CadreLevel, Role
from grids.models import Cadre, Grid, Village, VillageAssignment
from reps import visits as v
from reps.choices import VisitStatus
from reps.coverage import visit_coverage
from reps.models import Visit
from reps.tasks import plan_next_week

SH = ZoneInfo("Asia/Shanghai")
CADRE01 = "包村干部01（演示）"


def at(*args) -> dt.datetime:
    """An Asia/Shanghai wall-clock time."""
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def fresh_calendar_cache():
    """Each test starts with an empty per-process working-day cache, so warnings are logged anew."""
    v._forget_working_days()
    yield
    v._forget_working_days()


@pytest.fixture
def people(xiji):
    """Personas: Sam and Sue supervise (Sue has no e-mail), Ursula is an inactive supervisor, Carol is the
    login of town cadre 01, Vic records for the command centre."""
    group = Group.objects.get(name=Role.SUPERVISOR)
    sam = User.objects.create_user("sam", email="sam@example.org")
    sue = User.objects.create_user("sue")
    ursula = User.objects.create_user("ursula", email="ursula@example.org", is_active=False)
    for user in (sam, sue, ursula):
        user.groups.add(group)
    carol = User.objects.create_user("carol", email="carol@example.org")
    cadre = Cadre.objects.get(name=CADRE01)
    cadre.user = carol
    cadre.save()
    vic = User.objects.create_user("vic")
    return {"sam": sam, "sue": sue, "carol": carol, "cadre": cadre, "vic": vic}


def new_town_cadre(name="包村干部测试（演示）") -> Cadre:
    return Cadre.objects.create(name=name, level=CadreLevel.TOWN, role=Role.CADRE)


# --- Working days -------------------------------------------------------------------------------------


def test_working_days_follow_the_official_calendar_with_adjusted_days():
    assert v.is_working_day(dt.date(2025, 10, 6)) is False  # Monday in the National Day holiday
    assert v.is_working_day(dt.date(2025, 10, 9)) is True  # Thursday after it
    assert v.is_working_day(dt.date(2025, 10, 11)) is True  # Saturday worked in lieu (调休)
    assert v.is_working_day(dt.date(2025, 10, 12)) is False  # ordinary Sunday
    expected = set(chinese_calendar.get_workdays(dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    assert v.working_days(2025) == expected
    assert len(expected) == 248  # 2025: 261 weekdays − 18 weekday holidays + 5 weekend days worked in lieu


# --- Planning rule ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_national_day_week_moves_every_visit_to_thursday_2025_10_09(xiji):
    assert chinese_calendar.is_workday(dt.date(2025, 10, 9))
    assert not any(chinese_calendar.is_workday(dt.date(2025, 10, d)) for d in (6, 7, 8))
    report = v.plan_week("2025-W41")
    assert (report.iso_week, report.monday, report.created, report.not_due) == ("2025-W41", dt.date(2025, 10, 6), 59, 0)
    rows = Visit.objects.filter(iso_week="2025-W41")
    assert rows.count() == 59
    assert set(rows.values_list("planned_date", "status")) == {(dt.date(2025, 10, 9), VisitStatus.PLANNED)}
    # Every 包村 assignment got its visit, with its own cadre and village.
    assert set(rows.values_list("cadre_id", "village_id", "assignment_id")) == set(
        VillageAssignment.objects.values_list("cadre_id", "village_id", "pk")
    )


@pytest.mark.django_db
def test_a_week_whose_monday_is_a_working_day_has_its_visits_on_monday(xiji):
    assert chinese_calendar.is_workday(dt.date(2025, 10, 13))
    v.plan_week("2025-W42")
    dates = list(Visit.objects.filter(iso_week="2025-W42").values_list("planned_date", flat=True))
    assert len(dates) == 59 and set(dates) == {dt.date(2025, 10, 13)}


@pytest.mark.django_db
def test_a_week_without_any_working_day_records_skipped_holiday_visits_without_a_date(xiji):
    days = [dt.date(2026, 2, 16) + dt.timedelta(n) for n in range(7)]  # 2026-W08, Spring Festival
    assert not any(chinese_calendar.is_workday(d) for d in days)
    report = v.plan_week("2026-W08")
    assert report.as_dict()["by_status"] == {"skipped_holiday": 59}
    assert set(Visit.objects.values_list("status", "planned_date")) == {(VisitStatus.SKIPPED_HOLIDAY, None)}


@pytest.mark.django_db
def test_a_year_past_the_package_falls_back_to_monday_to_friday_with_one_warning_per_year(xiji, caplog):
    last_covered = max(d.year for d in chinese_calendar.constants.holidays)
    year = last_covered + 1
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(dt.date(year, 3, 1))
    caplog.set_level(logging.WARNING, logger="reps.visits")

    report = v.plan_week(f"{year}-W03")
    v.plan_week(f"{year}-W10")
    assert v.is_working_day(dt.date.fromisocalendar(year, 10, 5)) is True  # a Friday
    assert v.is_working_day(dt.date.fromisocalendar(year, 10, 6)) is False  # a Saturday
    v.plan_week(f"{year + 1}-W03")

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "reps.visits"]
    assert [r.args for r in warnings] == [(year, year), (year + 1, year + 1)]
    assert report.created == 59
    assert set(Visit.objects.filter(iso_week=f"{year}-W03").values_list("planned_date", flat=True)) == {
        dt.date.fromisocalendar(year, 3, 1)
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "week", "expected"),
    [
        # starts on Wednesday of an ordinary week → that Wednesday
        (dt.date(2025, 10, 15), None, "2025-W42", (dt.date(2025, 10, 15), VisitStatus.PLANNED)),
        # starts on Wednesday of the National Day week (Wednesday is a holiday) → Thursday
        (dt.date(2025, 10, 8), None, "2025-W41", (dt.date(2025, 10, 9), VisitStatus.PLANNED)),
        # ends on Tuesday of the National Day week: its days are all holidays → skipped
        (dt.date(2025, 1, 1), dt.date(2025, 10, 7), "2025-W41", (None, VisitStatus.SKIPPED_HOLIDAY)),
        # starts on the Saturday of the National Day week, which is worked in lieu → that Saturday
        (dt.date(2025, 10, 11), None, "2025-W41", (dt.date(2025, 10, 11), VisitStatus.PLANNED)),
        # starts on an ordinary Saturday: only weekend days in the week → no visit owed
        (dt.date(2025, 10, 18), None, "2025-W42", None),
        # ended the Sunday before → not active this week
        (dt.date(2025, 1, 1), dt.date(2025, 10, 12), "2025-W42", None),
    ],
)
def test_assignments_starting_or_ending_mid_week_follow_their_dates(xiji, start, end, week, expected):
    cadre = new_town_cadre()
    village = Village.objects.get(code="110112110222")
    assignment = VillageAssignment.objects.create(cadre=cadre, village=village, start_date=start, end_date=end)
    report = v.plan_week(week)
    visit = Visit.objects.filter(cadre=cadre, iso_week=week).first()
    if expected is None:
        assert visit is None and report.not_due == (1 if start.weekday() >= 5 else 0)
    else:
        assert (visit.planned_date, visit.status, visit.assignment_id) == (*expected, assignment.pk)
    assert Visit.objects.filter(iso_week=week).exclude(cadre=cadre).count() == 59


@pytest.mark.django_db
def test_repeated_planning_runs_leave_one_visit_per_cadre_village_and_week(xiji, people):
    first = v.plan_week("2025-W42")
    visit = Visit.objects.filter(iso_week="2025-W42", cadre=people["cadre"]).first()
    v.cancel_visit(visit, actor=people["vic"], reason="镇里集中开会")
    second = v.plan_week("2025-W42")
    third = v.plan_week("2025W42")  # same week, other spelling
    assert (first.created, second.created, second.existing, third.created, third.existing) == (59, 0, 59, 0, 59)
    assert Visit.objects.count() == 59
    visit.refresh_from_db()
    assert visit.status == VisitStatus.CANCELLED  # an existing visit is never overwritten by planning


@pytest.mark.django_db
def test_a_malformed_week_is_refused_naming_the_field(xiji):
    for text in ("2025-41", "2025-W00", "2025-W53", "W41", ""):  # 2025 has 52 ISO weeks
        with pytest.raises(ValidationError) as err:
            v.plan_week(text)
        assert list(err.value.message_dict) == ["iso_week"]
    assert Visit.objects.count() == 0
    assert v.parse_iso_week("2026-W53") == (2026, 53)  # 2026 ends on a Thursday: it has a week 53


# --- Missed visits and reminders ----------------------------------------------------------------------


@pytest.mark.django_db
def test_unrecorded_visits_are_marked_missed_after_their_day_and_supervisors_hear_once(
    xiji, people, django_capture_on_commit_callbacks, deliver_inline
):
    v.plan_week("2025-W42")  # all on Monday 2025-10-13
    done = Visit.objects.filter(cadre=people["cadre"]).order_by("village__code").first()
    with time_machine.travel(at(2025, 10, 13, 23, 59), tick=False):
        v.record_visit(done, actor=people["carol"], started_at=at(2025, 10, 13, 9), ended_at=at(2025, 10, 13, 11),
                       households_visited=10, people_received=4)
        assert v.mark_missed().as_dict() == {"marked": 0, "notified": 0}  # still the visit's own day

    with time_machine.travel(at(2025, 10, 14, 0, 30), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            report = v.mark_missed()
        assert report.as_dict() == {"marked": 58, "notified": 58 * 2}  # Sam and Sue; Ursula is inactive
        assert v.mark_missed().as_dict() == {"marked": 0, "notified": 0}

    assert Visit.objects.filter(status=VisitStatus.MISSED).count() == 58
    assert Visit.objects.get(pk=done.pk).status == VisitStatus.DONE
    notes = Notification.objects.filter(kind=NotificationKind.VISIT_MISSED)
    assert notes.count() == 116
    assert set(notes.values_list("recipient__username", flat=True)) == {"sam", "sue"}
    missed = Visit.objects.filter(cadre=people["cadre"], status=VisitStatus.MISSED).first()
    note = notes.get(recipient=people["sam"], dedupe_key=f"visit_missed:{missed.pk}")
    assert missed.village.short_name in note.title and "2025-10-13" in note.title
    assert note.created_at == at(2025, 10, 14, 0, 30)
    # Delivered after commit, but a supervisor's missed visits wait for the morning digest (issue 14): one
    # message each morning instead of 58 now. Sam's account e-mail holds 58 rows (Sue has no address).
    assert mail.outbox == []
    held = Delivery.objects.filter(kind=NotificationKind.VISIT_MISSED, status=DeliveryStatus.HELD)
    assert held.count() == 58 and set(held.values_list("channel__user__username", flat=True)) == {"sam"}

    # A notification already stored for a visit is not stored again even if the visit is re-marked.
    Visit.objects.filter(pk=missed.pk).update(status=VisitStatus.PLANNED)
    with time_machine.travel(at(2025, 10, 15, 0, 30), tick=False):
        assert v.mark_missed().as_dict() == {"marked": 1, "notified": 0}


@pytest.mark.django_db
def test_the_cadre_is_reminded_the_evening_before_each_visit_once(xiji, people):
    v.plan_week("2025-W41")  # Thursday 2025-10-09
    v.plan_week("2025-W42")  # Monday 2025-10-13
    cadre_visits = Visit.objects.filter(cadre=people["cadre"])
    with time_machine.travel(at(2025, 10, 7, 18), tick=False):
        assert v.send_reminders().as_dict() == {"day": "2025-10-08", "reminded": 0, "without_login": 0}
    with time_machine.travel(at(2025, 10, 8, 18), tick=False):
        report = v.send_reminders()
        assert report.as_dict() == {"day": "2025-10-09", "reminded": 3, "without_login": 56}
        assert v.send_reminders().reminded == 0
    reminded = cadre_visits.filter(reminded_at__isnull=False)
    assert set(reminded.values_list("iso_week", "reminded_at")) == {("2025-W41", at(2025, 10, 8, 18))}
    notes = Notification.objects.filter(kind=NotificationKind.VISIT_REMINDER)
    assert sorted(notes.values_list("dedupe_key", flat=True)) == sorted(
        f"visit_reminder:{pk}" for pk in reminded.values_list("pk", flat=True)
    )
    assert set(notes.values_list("recipient__username", flat=True)) == {"carol"}
    assert "2025-10-09" in notes.first().body and "09:00" in notes.first().body
    assert "（10月6日–10月12日）" in notes.first().body and "W41" not in notes.first().body  # weeks as dates

    with time_machine.travel(at(2025, 10, 12, 18), tick=False):  # Sunday evening before Monday's visits
        assert v.send_reminders().reminded == 3
    assert notes.count() == 6


# --- Recording, cases raised, coverage ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_recorded_visit_with_two_cases_appears_in_the_cadres_and_villages_statistics(xiji, people):
    v.plan_week("2025-W42")
    cadre, carol = people["cadre"], people["carol"]
    mine = list(Visit.objects.filter(cadre=cadre).select_related("village").order_by("village__code"))
    assert len(mine) == 3
    visit = mine[0]
    grid = Grid.objects.filter(village=visit.village).order_by("code").first()
    with time_machine.travel(at(2025, 10, 13, 12), tick=False):
        recorded = v.record_visit(visit, actor=carol, started_at=at(2025, 10, 13, 9, 5),
                                  ended_at=at(2025, 10, 13, 11, 40), households_visited=12, people_received=7,
                                  notes="  走访12户，接待群众7人  ")
        first = v.raise_case_at_visit(visit, actor=carol, kind="suggestion", title="村口增设路灯", grid=grid)
        second = v.raise_case_at_visit(visit.pk, actor=carol, kind="help", title="独居老人取暖", source="visit")
        # A case in the same village from another channel does not count as raised at the visit.
        create_case(actor=carol, kind="complaint", source=Source.HOTLINE, title="噪音", village=visit.village)
    recorded.refresh_from_db()
    assert (recorded.status, recorded.households_visited, recorded.people_received, recorded.notes) == (
        VisitStatus.DONE, 12, 7, "走访12户，接待群众7人")
    assert (recorded.started_at, recorded.recorded_by) == (at(2025, 10, 13, 9, 5), carol)
    for case in (first, second):
        assert (case.source, case.visit_link.visit_id, case.village_id) == (Source.VISIT, visit.pk, visit.village_id)
    assert set(visit.cases.values_list("title", flat=True)) == {"村口增设路灯", "独居老人取暖"}

    with time_machine.travel(at(2025, 10, 14, 0, 30), tick=False):
        v.mark_missed()
    coverage = visit_coverage("2025-W42")
    row = next(r for r in coverage.by_cadre if r.id == cadre.pk)
    assert (row.total, row.planned, row.done, row.missed, row.skipped_holiday, row.cancelled) == (3, 0, 1, 2, 0, 0)
    assert (row.villages_due, row.villages_visited, row.share_visited, row.cases_raised) == (3, 1, 1 / 3, 2)
    village_row = next(r for r in coverage.by_village if r.id == visit.village_id)
    assert (village_row.done, village_row.cases_raised, village_row.share_visited) == (1, 2, 1.0)
    other = next(r for r in coverage.by_village if r.id == mine[1].village_id)
    assert (other.missed, other.cases_raised, other.share_visited) == (1, 0, 0.0)
    t = coverage.totals
    assert (t.total, t.done, t.missed, t.villages_due, t.villages_visited, t.cases_raised) == (59, 1, 58, 59, 1, 2)
    assert t.share_visited == 1 / 59
    assert len(coverage.by_cadre) == 20 and len(coverage.by_village) == 59
    assert coverage.as_dict()["totals"]["cases_raised"] == 2


@pytest.mark.django_db
def test_coverage_leaves_skipped_weeks_out_of_the_share_and_counts_cancelled_visits_as_not_visited(xiji, people):
    v.plan_week("2026-W08")
    skipped = visit_coverage("2026-W08").totals
    assert (skipped.skipped_holiday, skipped.villages_due, skipped.share_visited) == (59, 0, None)
    v.plan_week("2025-W42")
    visit = Visit.objects.filter(cadre=people["cadre"]).first()
    v.cancel_visit(visit, actor=people["vic"], reason="防汛值守")
    row = next(r for r in visit_coverage("2025-W42").by_cadre if r.id == people["cadre"].pk)
    assert (row.cancelled, row.planned, row.villages_due, row.share_visited) == (1, 2, 3, 0.0)
    assert visit_coverage("2025-W43").totals.share_visited is None


@pytest.mark.django_db
def test_recording_refuses_bad_values_naming_the_fields_and_writes_nothing(xiji, people):
    v.plan_week("2025-W42")
    v.plan_week("2026-W08")
    visit = Visit.objects.filter(cadre=people["cadre"], iso_week="2025-W42").first()
    carol = people["carol"]
    with time_machine.travel(at(2025, 10, 13, 12), tick=False):
        with pytest.raises(ValidationError) as err:
            v.record_visit(visit, actor=carol, started_at=at(2025, 10, 13, 11), ended_at=at(2025, 10, 13, 9),
                           households_visited=-1, people_received="7", notes="")
        assert err.value.message_dict.keys() == {"ended_at", "households_visited", "people_received"}
        with pytest.raises(ValidationError) as err:
            v.record_visit(visit, actor=carol, started_at=at(2025, 10, 6, 9), ended_at=at(2025, 10, 6, 10),
                           households_visited=1, people_received=1)
        assert err.value.message_dict == {"started_at": ["走访时间须在该走访所属的周（10月13日–10月19日）内。"]}  # not W42
        with pytest.raises(ValidationError) as err:
            v.record_visit(visit, actor=carol, started_at=at(2025, 10, 13, 11), ended_at=at(2025, 10, 13, 13),
                           households_visited=1, people_received=1)
        assert err.value.message_dict.keys() == {"ended_at"}  # ends after now
        with pytest.raises(ValidationError) as err:
            v.record_visit(visit, actor=carol, started_at=dt.datetime(2025, 10, 13, 9), ended_at=None,
                           households_visited=1, people_received=1)
        assert err.value.message_dict.keys() == {"started_at", "ended_at"}
        visit.refresh_from_db()
        assert (visit.status, visit.households_visited, visit.started_at) == (VisitStatus.PLANNED, 0, None)

        skipped = Visit.objects.filter(iso_week="2026-W08").first()
        with pytest.raises(TransitionNotAllowed) as refused:
            v.record_visit(skipped, actor=carol, started_at=at(2026, 2, 16, 9), ended_at=at(2026, 2, 16, 10),
                           households_visited=1, people_received=1)
        assert refused.value.code == "visit_not_recordable"
        v.cancel_visit(visit, actor=people["vic"], reason="镇里集中开会")
        with pytest.raises(TransitionNotAllowed):
            v.record_visit(visit, actor=carol, started_at=at(2025, 10, 13, 9), ended_at=at(2025, 10, 13, 10),
                           households_visited=1, people_received=1)
        with pytest.raises(TransitionNotAllowed):
            v.raise_case_at_visit(visit, actor=carol, kind="help", title="x")
        other = Visit.objects.filter(cadre=people["cadre"], iso_week="2025-W42").exclude(pk=visit.pk).first()
        with pytest.raises(ValidationError) as err:
            v.raise_case_at_visit(other, actor=carol, kind="help", title="x", source=Source.HOTLINE)
        assert err.value.message_dict.keys() == {"source"}
        with pytest.raises(ValidationError) as err:
            v.raise_case_at_visit(other, actor=carol, kind="help", title="x",
                                  grid=Grid.objects.exclude(village=other.village).first())
        assert err.value.message_dict.keys() == {"grid"}
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_a_missed_visit_recorded_late_becomes_done(xiji, people):
    v.plan_week("2025-W42")
    visit = Visit.objects.filter(cadre=people["cadre"]).first()
    with time_machine.travel(at(2025, 10, 14, 0, 30), tick=False):
        v.mark_missed()
        visit.refresh_from_db()
        assert visit.status == VisitStatus.MISSED
        v.record_visit(visit, actor=people["carol"], started_at=at(2025, 10, 13, 14), ended_at=at(2025, 10, 13, 16),
                       households_visited=3, people_received=2)
    visit.refresh_from_db()
    assert visit.status == VisitStatus.DONE


# --- Calendar feed ------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(VISIT_START_TIME="09:00", VISIT_END_TIME="11:30")
def test_the_calendar_feed_has_one_event_per_planned_visit_at_local_time_and_rotation_kills_the_old_link(
    xiji, people, client
):
    cadre = people["cadre"]
    v.plan_week("2025-W41")
    v.plan_week("2025-W42")
    v.plan_week("2026-W08")  # skipped visits: not in the feed
    with time_machine.travel(at(2025, 10, 9, 12), tick=False):
        done = Visit.objects.filter(cadre=cadre, iso_week="2025-W41").order_by("village__code").first()
        v.record_visit(done, actor=people["carol"], started_at=at(2025, 10, 9, 8, 30), ended_at=at(2025, 10, 9, 10),
                       households_visited=5, people_received=3)
        old_token = cadre.calendar_token
        response = client.get(f"/calendar/{old_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = icalendar.Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    expected = {f"visit-{pk}@xiji-grid": (day, status) for pk, day, status in Visit.objects.filter(
        cadre=cadre, status__in=["planned", "done"], planned_date__isnull=False).values_list("pk", "planned_date", "status")}
    assert len(expected) == 6 and events.keys() == expected.keys()
    for uid, event in events.items():
        day, status = expected[uid]
        assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
        if status == "done":
            assert (event.start, event.end) == (at(2025, 10, 9, 8, 30), at(2025, 10, 9, 10))
        else:
            assert event.start == dt.datetime.combine(day, dt.time(9, 0), tzinfo=SH)
            assert event.end == dt.datetime.combine(day, dt.time(11, 30), tzinfo=SH)
            assert event.start.astimezone(dt.UTC).hour == 1  # 09:00 in Beijing is 01:00 UTC
    assert "走访接待日" in str(next(iter(events.values()))["SUMMARY"])
    assert b"BEGIN:VTIMEZONE" in response.content

    new_token = v.rotate_calendar_token(cadre)
    assert new_token != old_token and len(new_token) == 43
    assert client.get(f"/calendar/{old_token}.ics").status_code == 404
    assert client.get(f"/calendar/{new_token}.ics").status_code == 200
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    other = Cadre.objects.exclude(pk=cadre.pk).first()
    assert other.calendar_token != new_token  # every cadre has its own link


@pytest.mark.django_db
@override_settings(VISIT_START_TIME="14:00", VISIT_END_TIME="16:30")
def test_the_feed_hours_come_from_settings(xiji, people):
    v.plan_week("2025-W42")
    with time_machine.travel(at(2025, 10, 10, 12), tick=False):
        cal = icalendar.Calendar.from_ical(v.calendar_feed(people["cadre"]))
    starts = {e.start for e in cal.walk("VEVENT")}
    assert starts == {at(2025, 10, 13, 14, 0)}


# --- Command, tasks, beat -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_plan_visits_command_plans_and_prints_the_weeks(xiji):
    out = StringIO()
    call_command("plan_visits", "--week", "2025-W41", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "2025-W41 (Monday 2025-10-06): 59 visits created, 0 existing, 0 assignments with no visit due."
    assert sum("2025-10-09 周四  planned" in line for line in lines) == 59
    with time_machine.travel(at(2025, 10, 10, 9), tick=False):  # Friday of 2025-W41
        out = StringIO()
        call_command("plan_visits", "--current", "--next", "--summary", stdout=out)
    assert out.getvalue().splitlines() == [
        "2025-W41 (Monday 2025-10-06): 0 visits created, 59 existing, 0 assignments with no visit due.",
        "2025-W42 (Monday 2025-10-13): 59 visits created, 0 existing, 0 assignments with no visit due.",
    ]
    with pytest.raises(CommandError, match="2025-41"):
        call_command("plan_visits", "--week", "2025-41")
    with pytest.raises(CommandError):
        call_command("plan_visits")


@pytest.mark.django_db
def test_the_tasks_wrap_the_services_with_an_explicit_time(xiji, people):
    assert plan_next_week("2025-10-03T18:00:00+08:00")["iso_week"] == "2025-W41"
    # Friday 23:30 UTC is already Saturday in Beijing: still next week = W41 + 1.
    assert plan_next_week("2025-10-10T16:30:00+00:00") == {
        "iso_week": "2025-W42", "created": 59, "existing": 0, "not_due": 0, "by_status": {"planned": 59}}
    from reps.tasks import mark_missed_visits, send_visit_reminders

    assert send_visit_reminders("2025-10-08T18:00:00+08:00") == {"day": "2025-10-09", "reminded": 3,
                                                                 "without_login": 56}
    assert mark_missed_visits("2025-10-10T00:30:00+08:00") == {"marked": 59, "notified": 118}
    with pytest.raises(ValueError):
        plan_next_week("2025-10-03T18:00:00")


def test_beat_runs_the_visit_tasks_at_shanghai_times_with_expiry():
    schedule = settings.CELERY_BEAT_SCHEDULE
    expected = {
        "grids.plan_next_week": ({0}, {18}, {5}),
        "grids.mark_missed_visits": ({30}, {0}, set(range(7))),
        "grids.send_visit_reminders": ({0}, {18}, set(range(7))),
    }
    entries = {e["task"]: e for e in schedule.values() if e["task"] in expected}
    assert entries.keys() == expected.keys()
    for task, (minute, hour, weekdays) in expected.items():
        cron = entries[task]["schedule"]
        assert (cron.minute, cron.hour, cron.day_of_week) == (minute, hour, weekdays)
        assert 0 < entries[task]["options"]["expires"] <= 24 * 3600
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"
    assert str(entries["grids.plan_next_week"]["schedule"].tz) == "Asia/Shanghai"


# --- Integration: the weekly planning task in a real worker --------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_weekly_planning_task_runs_in_a_real_worker(celery_worker_process):
    from grids.services import seed_xiji

    seed_xiji()
    result = plan_next_week.apply_async(kwargs={"now": "2025-10-03T18:00:00+08:00"}, expires=120)
    assert result.get(timeout=90) == {"iso_week": "2025-W41", "created": 59, "existing": 0, "not_due": 0,
                                      "by_status": {"planned": 59}}
    assert Visit.objects.filter(iso_week="2025-W41").count() == 59
    assert set(Visit.objects.values_list("planned_date", flat=True)) == {dt.date(2025, 10, 9)}
    again = plan_next_week.delay(now="2025-10-03T18:00:00+08:00").get(timeout=90)
    assert (again["created"], again["existing"]) == (0, 59)
    assert Visit.objects.count() == 59


# --- Admin --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_visits_read_only_and_rotates_calendar_links(xiji, people, client):
    v.plan_week("2025-W41")
    admin_user = User.objects.create_superuser("ada", "ada@example.org", "pw")
    client.force_login(admin_user)
    page = client.get("/admin/reps/visit/", {"q": "马坊", "status__exact": "planned"})
    assert page.status_code == 200 and page.context["cl"].result_count == 1
    visit = Visit.objects.get(village__name__startswith="马坊")
    assert client.get(f"/admin/reps/visit/{visit.pk}/change/").status_code == 200
    assert client.post(f"/admin/reps/visit/{visit.pk}/change/", {"status": "done"}).status_code == 403
    assert client.get("/admin/reps/visit/add/").status_code == 403

    cadre = people["cadre"]
    old = cadre.calendar_token
    page = client.get(f"/admin/grids/cadre/{cadre.pk}/change/")
    assert f"/calendar/{old}.ics" in page.content.decode()
    client.post("/admin/grids/cadre/", {"action": "rotate_calendar_links", "_selected_action": [cadre.pk]})
    cadre.refresh_from_db()
    assert cadre.calendar_token != old
    assert client.get(f"/calendar/{old}.ics").status_code == 404


# --- Due and overdue before the nightly marking (issue 16, defect 10) -----------------------------------


@translation.override("zh-hans")
def test_a_planned_visit_reads_due_on_its_day_and_overdue_after_it():
    monday = dt.date(2025, 10, 13)
    assert v.shown_state(VisitStatus.PLANNED, monday, monday - dt.timedelta(days=1)) == ("planned", "计划")
    assert v.shown_state(VisitStatus.PLANNED, monday, monday) == ("due", "今日走访")
    assert v.shown_state(VisitStatus.PLANNED, monday, monday + dt.timedelta(days=2)) == ("overdue", "逾期未记录")
    # Stored states read as stored, whatever the day.
    assert v.shown_state(VisitStatus.DONE, monday, monday + dt.timedelta(days=2)) == ("done", "已走访")
    assert v.shown_state(VisitStatus.MISSED, monday, monday + dt.timedelta(days=2)) == ("missed", "未走访")
    assert v.shown_state(VisitStatus.SKIPPED_HOLIDAY, None, monday) == ("skipped_holiday", "节假日顺延无工作日")


@pytest.mark.django_db
def test_the_visits_page_shows_monday_visits_overdue_on_wednesday_before_the_marking(client, xiji, people):
    v.plan_week("2025-W42")  # Monday 2025-10-13
    mine = list(Visit.objects.filter(cadre=people["cadre"]).order_by("village__code"))
    assert mine and all(visit.status == VisitStatus.PLANNED for visit in mine)
    people["carol"].groups.add(Group.objects.get(name=Role.CADRE))  # the 走访 page is the town cadre's
    client.force_login(people["carol"])
    with time_machine.travel(at(2025, 10, 13, 10), tick=False):
        html = client.get("/visits/").content.decode()
    assert f'data-testid="visit-state-{mine[0].pk}">今日走访<' in html
    with time_machine.travel(at(2025, 10, 15, 10), tick=False):
        html = client.get("/visits/").content.decode()
        workbench = client.get("/workbench/").content.decode()
    for visit in mine:
        assert f'class="badge visit-overdue" data-testid="visit-state-{visit.pk}">逾期未记录<' in html
    assert f'data-testid="visit-state-{mine[0].pk}">逾期未记录<' in workbench
    assert Visit.objects.filter(status=VisitStatus.PLANNED).count() == 59  # shown, not stored


@pytest.mark.django_db
def test_the_start_up_marking_marks_past_weeks_once(xiji, people):
    v.plan_week("2025-W41")  # Thursday 2025-10-09
    v.plan_week("2025-W42")  # Monday 2025-10-13
    # 59 villages, one visit each per week; two supervisors hear of each (Ursula is inactive).
    with time_machine.travel(at(2025, 10, 20, 8), tick=False):  # down since before W41: both weeks are past
        out = StringIO()
        call_command("mark_missed_visits", stdout=out)
        assert out.getvalue().strip() == "Missed visits: 118 marked, 236 notifications."
        out = StringIO()
        call_command("mark_missed_visits", stdout=out)
        assert out.getvalue().strip() == "Missed visits: 0 marked, 0 notifications."
    assert Visit.objects.filter(status=VisitStatus.MISSED).count() == 118


def test_bin_run_marks_missed_visits_after_planning_them():
    lines = [line.split("#")[0].strip() for line in (settings.BASE_DIR / "bin" / "run").read_text().splitlines()]
    assert lines.index("python manage.py mark_missed_visits") > lines.index(
        "python manage.py plan_visits --current --next --summary")
