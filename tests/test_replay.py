"""Replay of imported records through the lifecycle and the deadline sweep on their own clock (issue 4)."""
import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from cases import services
from cases.choices import Action, NotificationKind, Source, Status
from cases.deadlines import sweep
from cases.importing import import_file
from cases.models import Case, CaseEvent, Notification
from cases.replay import IMPORT_NOTE
from cases.seeding import seed_categories, seed_sla_policies
from cases.selectors import rates
from grids.models import Grid
from grids.services import seed_xiji
from tests.conftest import ROOT, SHARED_DATA

FILE_2816 = ROOT / "seeds" / "messages_with_replies_2816.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def town(db):
    report = seed_xiji(demo=True)  # with logins: grid leaders and supervisors who could be notified
    seed_sla_policies()
    seed_categories()
    return report


def local(text):
    """The test's own reading of the file's times (a date alone: 23:59:59 for replies, as documented)."""
    text = text.strip().replace("-", "/")
    if " " in text:
        return dt.datetime.strptime(text, "%Y/%m/%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    return (dt.datetime.strptime(text, "%Y/%m/%d") + dt.timedelta(hours=23, minutes=59, seconds=59)).replace(
        tzinfo=SHANGHAI)


def test_replay_of_the_2816_file_under_the_general_policy(town):
    with FILE_2816.open(encoding="utf-8-sig", newline="") as fh:
        rows = {row["留言编号"]: (local(row["留言时间"]), local(row["答复时间"])) for row in csv.DictReader(fh)}
    # the independent count, straight from the file's two time columns: general = respond 24 h, resolve 7 days
    respond_on_time = sum(1 for received, reply in rows.values() if reply - received <= dt.timedelta(hours=24))
    resolve_on_time = sum(1 for received, reply in rows.values() if reply - received <= dt.timedelta(days=7))
    assert (len(rows), respond_on_time, resolve_on_time) == (2816, 132, 992)

    out = io.StringIO()
    call_command("import_cases", str(FILE_2816), stdout=out, stderr=io.StringIO())
    assert ("2816 imported; 0 already present; 0 bad rows (0 faults); 2816 replayed to resolved, 0 left open, "
            "respond on time 132/2816, resolve on time 992/2816") in out.getvalue()

    cases = {c.external_ref: c for c in Case.objects.filter(source=Source.ONLINE)}
    assert len(cases) == 2816
    for ref, (received, reply) in rows.items():
        case = cases[ref]
        assert case.urgency == "general" and case.status == Status.RESOLVED and case.solved is True
        assert case.received_at == case.dispatched_at == case.accepted_at == received
        assert case.responded_at == case.resolved_at == reply
        assert case.respond_due_at == received + dt.timedelta(hours=24)
        assert case.resolve_due_at == received + dt.timedelta(days=7)
        assert case.satisfaction == "" and case.callback_at is None  # no callback is ever invented
        assert case.next_check_at is None  # nothing left for the live sweep
    assert sum(c.responded_on_time for c in cases.values()) == respond_on_time
    assert sum(c.resolved_on_time for c in cases.values()) == resolve_on_time

    # the statistics agree: on-time rates of the whole file
    town_row = rates(scope="all")[0]
    assert (town_row["received"], town_row["respond_on_time"], town_row["resolve_on_time"]) == (2816, 132, 992)
    assert town_row["respond_on_time_rate"] == pytest.approx(132 / 2816)
    assert town_row["resolve_on_time_rate"] == pytest.approx(992 / 2816)
    assert town_row["valid_callbacks"] == 0 and town_row["satisfaction_rate"] is None

    # breaches and escalations carry the historical deadlines, once each
    events = CaseEvent.objects.select_related("case")
    breaches = list(events.filter(action=Action.RESPOND_BREACH))
    assert len(breaches) == 2816 - respond_on_time
    assert all(e.at == e.case.respond_due_at == e.case.respond_breached_at for e in breaches)
    resolve_breaches = list(events.filter(action=Action.RESOLVE_BREACH))
    assert len(resolve_breaches) == 2816 - resolve_on_time
    assert all(e.at == e.case.resolve_due_at for e in resolve_breaches)
    escalations = list(events.filter(action=Action.ESCALATED))
    assert len(escalations) == 2816 - resolve_on_time
    # escalated by the sweep at the first instant the deadline has passed (due + 1 µs, cases.boundary)
    assert all(e.at == e.case.resolve_due_at + dt.timedelta(microseconds=1) == e.case.escalated_at
               for e in escalations)
    warnings = events.filter(action=Action.RESPOND_WARNING)
    expected_warnings = sum(1 for received, reply in rows.values() if reply - received > dt.timedelta(hours=18))
    assert warnings.count() == expected_warnings
    assert all(e.at == e.case.received_at + dt.timedelta(hours=18) for e in warnings)
    # imported actions have no actor and say so
    assert not events.filter(actor__isnull=False).exists()
    assert events.filter(action=Action.DISPATCHED, note=IMPORT_NOTE).count() == 2816
    assert events.filter(action=Action.RESPONDED, note=IMPORT_NOTE).count() == 2816

    # nobody was flooded: only the historical "new dispatch" notices, already read
    assert set(Notification.objects.values_list("kind", flat=True)) == {NotificationKind.DISPATCHED}
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert sweep().cases == 0  # the live sweep finds nothing due

    # re-import of the CSV, then of the XLSX: the same cases, nothing new
    for path in (FILE_2816, SHARED_DATA / "complaints" / "tipdm2020c"
                 / "messages_with_replies_2816.xlsx"):
        out = io.StringIO()
        call_command("import_cases", str(path), stdout=out, stderr=io.StringIO())
        assert "0 imported; 2816 already present" in out.getvalue()
    assert Case.objects.count() == 2816


def write(path: Path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["留言编号", "留言时间", "留言主题", "答复意见", "答复时间"])
        writer.writerows(rows)
    return path


def test_a_record_without_reply_stays_open_and_is_marked_historically(town, tmp_path):
    path = write(tmp_path / "open.csv", [["1", "2024/1/2 10:00:00", "无人答复", "", ""],
                                         ["2", "2024/1/3 10:00:00", "准时答复", "已处理", "2024/1/3 20:00:00"]])
    with time_machine.travel(dt.datetime(2025, 6, 1, 12, tzinfo=SHANGHAI), tick=False):
        report = import_file(path)
    assert report.written and report.replay.open == 1 and report.replay.resolved == 1
    open_case = Case.objects.get(external_ref="1")
    received = open_case.received_at
    assert received == dt.datetime(2024, 1, 2, 2, 0, tzinfo=dt.UTC)
    assert open_case.status == Status.ACCEPTED and open_case.next_check_at is None
    marks = list(open_case.events.filter(action__in=[Action.RESPOND_WARNING, Action.RESPOND_BREACH,
                                                     Action.RESOLVE_WARNING, Action.RESOLVE_BREACH,
                                                     Action.ESCALATED]).values_list("action", "at"))
    assert marks == [
        (Action.RESPOND_WARNING, received + 18 * HOUR), (Action.RESPOND_BREACH, received + 24 * HOUR),
        (Action.RESOLVE_WARNING, received + 126 * HOUR), (Action.RESOLVE_BREACH, received + 168 * HOUR),
        (Action.ESCALATED, received + 168 * HOUR + dt.timedelta(microseconds=1)),  # swept just past the instant
    ]
    on_time = Case.objects.get(external_ref="2")
    assert on_time.status == Status.RESOLVED and on_time.responded_on_time and on_time.resolved_on_time
    assert not on_time.events.filter(action__in=[Action.RESPOND_WARNING, Action.RESPOND_BREACH]).exists()
    assert Notification.objects.exclude(kind=NotificationKind.DISPATCHED).count() == 0


def test_the_replay_never_sweeps_a_live_case(town, tmp_path):
    """A live case whose warning is due but not yet swept (beat was down) keeps it for the live sweep,
    which then notifies as usual; the imported history before it is replayed all the same."""
    now = dt.datetime(2025, 6, 1, 12, tzinfo=SHANGHAI)
    grid = Grid.objects.get(code="110112110222-01")
    received = now - 20 * HOUR  # respond warning at 18 h: due 2 h ago, unswept
    live = services.create_case(actor=None, kind="complaint", source=Source.HOTLINE, title="路灯不亮", grid=grid,
                                received_at=received, now=received)
    live = services.dispatch(live, actor=None, grid=grid, now=received)
    assert live.next_check_at == received + 18 * HOUR < now
    path = write(tmp_path / "old.csv", [["1", "2025/5/1 10:00:00", "五月的留言", "", ""],
                                        ["2", "2025/6/1 8:00:00", "今天早上的留言", "", ""]])
    with time_machine.travel(now, tick=False):
        import_file(path)
    live.refresh_from_db()
    assert live.respond_warned_at is None and live.next_check_at == received + 18 * HOUR
    old = Case.objects.get(external_ref="1")
    assert old.resolve_breached_at == old.resolve_due_at and old.next_check_at is None
    # the record received after the live case's pending point is left for the live sweep too
    recent = Case.objects.get(external_ref="2")
    assert recent.respond_warned_at is None and recent.next_check_at == recent.received_at + 18 * HOUR
    report = sweep(now)
    assert report.respond_warnings == 1 and report.notifications > 0  # the live case, notified as usual
    live.refresh_from_db()
    assert live.respond_warned_at == received + 18 * HOUR
