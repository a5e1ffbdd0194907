"""Edge inputs on which the bulk import must write the replay's rows (issue 17 build 2): hotline files with
urgencies, responses without resolution and milestones exactly at their deadlines; a file's own deadlines
at the received time; imports onto days that already hold cases; files with bad rows skipped."""
import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from cases import services
from cases.choices import CaseKind, Source, Status
from cases.importing import import_file
from cases.models import Case, DailySequence, Notification
from cases.seeding import seed_categories, seed_sla_policies
from grids.models import Grid
from grids.services import seed_xiji
from tests.test_bulk_import import snapshot

NOW = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)


@pytest.fixture
def town(db):
    seed_xiji(demo=True)  # grid leaders with logins: the dispatch notices have recipients
    seed_sla_policies()
    seed_categories()


HOTLINE = ["工单编号", "受理时间", "标题", "诉求内容", "诉求类型", "分类", "紧急程度", "诉求人", "联系电话", "地址",
           "村/社区", "微网格", "响应时间", "办结时间", "办理结果", "是否解决"]


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def hotline(ref, received, *, urgency="", category="", responded="", resolved="", result="", solved=""):
    return [ref, received, f"诉求{ref}", "路灯不亮", "求助", category, urgency, "", "", "", "大灰店村", "",
            responded, resolved, result, solved]


def forget(refs, counters):
    """Delete the cases of ``refs`` (their events and notices too) and put the day counters back."""
    Notification.objects.filter(case__external_ref__in=refs).delete()
    Case.objects.filter(external_ref__in=refs).delete()
    DailySequence.objects.all().delete()
    DailySequence.objects.bulk_create([DailySequence(day=day, last=last) for day, last in counters])


def both_ways(path, refs, **kwargs):
    """Import ``path`` with the replay, then (its cases forgotten) with the bulk path: both snapshots and
    both reports (counts without the time taken)."""
    counters = list(DailySequence.objects.values_list("day", "last"))
    replayed = import_file(path, now=NOW, method="replay", **kwargs)
    before = snapshot()
    forget(refs, counters)
    folded = import_file(path, now=NOW, method="bulk", **kwargs)
    after = snapshot()

    def counts(report):
        return {k: v for k, v in report.replay.as_dict().items() if k != "seconds"}

    return before, after, counts(replayed), counts(folded)


def assert_same(before, after, replayed, folded):
    diff = {ref: {k: (v, after[0].get(ref, {}).get(k)) for k, v in row.items() if after[0].get(ref, {}).get(k) != v}
            for ref, row in before[0].items()}
    assert {ref: d for ref, d in diff.items() if d} == {}  # case columns
    events = {ref: (before[1].get(ref), after[1].get(ref)) for ref in set(before[1]) | set(after[1])
              if before[1].get(ref) != after[1].get(ref)}
    assert events == {}  # events
    assert after[2] == before[2]  # notifications
    assert after[3] == before[3]  # day counters
    assert folded == replayed


def test_hotline_urgencies_open_but_responded_and_milestones_exactly_at_deadlines(town, tmp_path):
    rows = [
        # emergency (2 h / 24 h): responded and resolved exactly at the deadlines
        hotline("E1", "2024-03-01 08:00:00", urgency="紧急", responded="2024-03-01 10:00:00",
                resolved="2024-03-02 08:00:00", result="已处理", solved="是"),
        # emergency, responded 1 s late, not resolved: open but responded
        hotline("E2", "2024-03-01 08:00:00", urgency="紧急", responded="2024-03-01 10:00:01"),
        # utilities, responded exactly at the warning point (75 % of 2 h), left open
        hotline("E3", "2024-03-01 08:00:00", urgency="水电气热", responded="2024-03-01 09:30:00"),
        # general, resolved exactly at the resolve warning point (126 h), no response time given
        hotline("E4", "2024-03-01 08:00:00", urgency="一般", resolved="2024-03-06 14:00:00", result="已答复",
                solved="否"),
        # complex, responded exactly at its deadline, open
        hotline("E5", "2024-03-01 09:00:00", urgency="疑难复杂", responded="2024-03-02 09:00:00"),
        # no urgency: the category's default (自来水供应 → utilities); responded only
        hotline("E6", "2024-03-01 09:00:00", category="自来水供应", responded="2024-03-01 11:00:00"),
        # resolved 1 s after its emergency resolve deadline, responded on time
        hotline("E7", "2024-03-02 08:00:00", urgency="紧急", responded="2024-03-02 08:30:00",
                resolved="2024-03-03 08:00:01", result="已修复", solved="是"),
    ]
    path = write_csv(tmp_path / "hotline.csv", HOTLINE, rows)
    before, after, replayed, folded = both_ways(path, [r[0] for r in rows])
    assert len(before[0]) == 7
    assert {before[0][r]["urgency"] for r in ("E1", "E3", "E6")} == {"emergency", "utilities"}
    assert sum(c["status"] == Status.RESPONDED for c in before[0].values()) == 4  # open but responded
    assert_same(before, after, replayed, folded)


def test_an_import_onto_days_that_already_hold_cases_continues_their_counters(town, tmp_path):
    grid = Grid.objects.get(code="110112110222-01")
    received = dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Xiji, the file's first day
    services.resolve_on_the_spot(actor=None, kind=CaseKind.COMPLAINT, source=Source.HOTLINE, title="井盖缺失",
                                 grid=grid, received_at=received, result="已补", now=received)
    first = write_csv(tmp_path / "first.csv", HOTLINE, [
        hotline("P1", "2024-03-01 07:00:00", responded="2024-03-01 08:00:00", resolved="2024-03-01 09:00:00",
                result="已处理")])
    import_file(first, now=NOW)  # an earlier import, same day
    rows = [hotline(f"D{i}", f"2024-03-0{1 + i % 2} 1{i}:00:00", responded=f"2024-03-0{1 + i % 2} 1{i}:30:00",
                    resolved=f"2024-03-0{2 + i % 2} 1{i}:00:00", result="已处理") for i in range(6)]
    path = write_csv(tmp_path / "second.csv", HOTLINE, rows)
    before, after, replayed, folded = both_ways(path, [r[0] for r in rows])
    assert_same(before, after, replayed, folded)
    numbers = list(Case.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 8


def test_skip_invalid_rows_give_the_same_rows_both_ways(town, tmp_path):
    rows = [
        hotline("S1", "2024-03-01 08:00:00", urgency="紧急", responded="2024-03-01 09:00:00"),
        hotline("S2", "2024-03-01 08:00:00", urgency="无此级别"),  # bad urgency
        hotline("S3", "2024-03-01 08:00:00", responded="2024-02-29 08:00:00"),  # response before message
        hotline("S1", "2024-03-01 08:00:00"),  # duplicate id
        hotline("S4", "2024-03-01 08:10:00", resolved="2024-03-01 09:00:00", result="已处理"),
    ]
    path = write_csv(tmp_path / "bad.csv", HOTLINE, rows)
    before, after, replayed, folded = both_ways(path, ["S1", "S4"], skip_invalid=True)
    assert set(before[0]) == {"S1", "S4"}
    assert_same(before, after, replayed, folded)


def open311(path: Path, requests) -> Path:
    path.write_text(json.dumps(requests), encoding="utf-8")
    return path


def test_open311_deadlines_at_the_received_time(town, tmp_path):
    requests = [
        # still open, due at the very instant it was requested: no warning point, breached since
        {"service_request_id": "R1", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "open",
         "expected_datetime": "2024-03-01T08:00:00+00:00", "service_name": "Pothole"},
        # closed exactly at its due time, which is its requested time
        {"service_request_id": "R2", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "closed",
         "updated_datetime": "2024-03-01T08:00:00+00:00", "expected_datetime": "2024-03-01T08:00:00+00:00",
         "service_name": "Graffiti", "status_notes": "done"},
        # closed 1 s after a due time at the requested time
        {"service_request_id": "R3", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "closed",
         "updated_datetime": "2024-03-01T08:00:01+00:00", "expected_datetime": "2024-03-01T08:00:00+00:00",
         "service_name": "Graffiti"},
        # open, due a day later
        {"service_request_id": "R4", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "open",
         "expected_datetime": "2024-03-02T08:00:00+00:00", "service_name": "Streetlight"},
        # open, due in the future (after the import's clock)
        {"service_request_id": "R5", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "open",
         "expected_datetime": "2027-03-02T08:00:00+00:00", "service_name": "Tree"},
    ]
    path = open311(tmp_path / "requests.json", requests)
    before, after, replayed, folded = both_ways(path, [r["service_request_id"] for r in requests],
                                                file_format="open311")
    assert len(before[0]) == 5
    assert_same(before, after, replayed, folded)


def test_an_open_case_due_at_its_received_time_is_breached_by_the_import_not_left_for_the_live_sweep(town, tmp_path):
    path = open311(tmp_path / "one.json", [
        {"service_request_id": "Z1", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "open",
         "expected_datetime": "2024-03-01T08:00:00+00:00", "service_name": "Pothole"}])
    import_file(path, now=NOW, file_format="open311")
    case = Case.objects.get(external_ref="Z1")
    # a historical case past its deadline at the import: marked historically, nothing left for today's sweep
    assert case.resolve_breached_at == case.resolve_due_at
    assert case.next_check_at is None


LATE_AT_RECEIPT = {  # closed 1 s after its own deadline, which is the very instant it was requested
    "service_request_id": "L1", "requested_datetime": "2024-03-01T08:00:00+00:00", "status": "closed",
    "updated_datetime": "2024-03-01T08:00:01+00:00", "expected_datetime": "2024-03-01T08:00:00+00:00",
    "service_name": "Graffiti", "status_notes": "done"}


def test_a_request_closed_late_on_a_deadline_at_its_received_time_is_breached_by_the_bulk_import(town, tmp_path):
    path = open311(tmp_path / "late.json", [LATE_AT_RECEIPT])
    report = import_file(path, now=NOW, file_format="open311")  # the bulk path (default)
    case = Case.objects.get(external_ref="L1")
    assert report.replay.resolve_breaches == 1  # the replay counts it (and marks it 1 µs after the deadline)
    assert (case.resolve_breached_at, case.next_check_at) == (case.resolve_due_at, None)


def test_after_a_bulk_import_todays_sweep_has_nothing_historical_to_record_or_notify(town, tmp_path):
    from cases.deadlines import sweep

    path = open311(tmp_path / "late.json", [LATE_AT_RECEIPT])
    import_file(path, now=NOW, file_format="open311")
    swept = sweep(NOW + dt.timedelta(minutes=1))  # the live sweep, with notifications
    assert (swept.cases, swept.notifications) == (0, 0)


def test_a_second_bulk_import_still_marks_its_records_historically(town, tmp_path):
    import_file(open311(tmp_path / "late.json", [LATE_AT_RECEIPT]), now=NOW, file_format="open311")
    # a later file: a hotline call never answered, its deadlines long past at the import
    path = write_csv(tmp_path / "later.csv", HOTLINE, [hotline("N1", "2024-05-01 08:00:00", urgency="紧急")])
    report = import_file(path, now=NOW)
    case = Case.objects.get(external_ref="N1")
    assert (report.replay.respond_breaches, report.replay.resolve_breaches) == (1, 1)
    assert case.respond_breached_at == case.respond_due_at and case.escalated_at is not None


def test_the_notifications_counter_counts_the_notices_either_path_stores(town, tmp_path):
    from cases.models import OpsCounter

    def counted():
        return OpsCounter.objects.filter(name="notifications").values_list("value", flat=True).first() or 0

    rows = [hotline(f"M{i}", f"2024-03-01 0{i}:00:00", responded=f"2024-03-01 0{i}:30:00",
                    resolved=f"2024-03-02 0{i}:00:00", result="已处理") for i in range(1, 4)]
    path = write_csv(tmp_path / "m.csv", HOTLINE, rows)
    start = counted()
    import_file(path, now=NOW, method="replay")
    by_replay = counted() - start
    forget([r[0] for r in rows], [])
    start = counted()
    import_file(path, now=NOW, method="bulk")
    by_bulk = counted() - start
    stored = Notification.objects.filter(case__external_ref__in=[r[0] for r in rows]).count()
    assert stored == 3
    assert (by_replay, by_bulk) == (stored, stored)


def test_after_a_replayed_first_import_a_second_bulk_import_marks_its_records(town, tmp_path):
    import_file(open311(tmp_path / "late.json", [LATE_AT_RECEIPT]), now=NOW, file_format="open311", method="replay")
    path = write_csv(tmp_path / "later.csv", HOTLINE, [hotline("N1", "2024-05-01 08:00:00", urgency="紧急")])
    report = import_file(path, now=NOW)
    assert (report.replay.respond_breaches, report.replay.resolve_breaches) == (1, 1)


def test_neither_path_hands_historical_dispatch_notices_to_delivery(town, tmp_path, monkeypatch):
    import cases.notifications as notifications

    handed = []
    monkeypatch.setattr(notifications, "deliver_after_commit", lambda ids: handed.extend(ids))
    rows = [hotline("H1", "2024-03-01 08:00:00", responded="2024-03-01 08:30:00", resolved="2024-03-02 08:00:00",
                    result="已处理")]
    path = write_csv(tmp_path / "h.csv", HOTLINE, rows)
    delivered = {}
    for method in ("bulk", "replay"):
        forget(["H1"], [])
        handed.clear()
        import_file(path, now=NOW, method=method)
        delivered[method] = len(handed)
    assert Notification.objects.filter(case__external_ref="H1").count() == 1  # stored, read at its own time
    assert delivered == {"bulk": 0, "replay": 0}  # a notice of 2024 is not sent to anyone's phone in 2026


def test_grids_without_a_leader_or_with_a_leader_without_login_give_the_same_rows(town, tmp_path):
    no_leader = Grid.objects.get(code="110112110222-02")
    no_leader.leader = None
    no_leader.save()
    no_login = Grid.objects.select_related("leader").get(code="110112110222-03")
    no_login.leader.user = None
    no_login.leader.save()
    rows = []
    for code in ("110112110222-02", "110112110222-03"):
        for n, (responded, resolved) in enumerate([("2024-03-01 09:00:00", "2024-03-01 10:00:00"),
                                                   ("2024-03-02 09:00:00", ""), ("", "")]):
            row = hotline(f"G{code[-1]}{n}", "2024-03-01 08:00:00", responded=responded, resolved=resolved,
                          result="已处理" if resolved else "")
            row[11] = code
            rows.append(row)
    path = write_csv(tmp_path / "g.csv", HOTLINE, rows)
    before, after, replayed, folded = both_ways(path, [r[0] for r in rows])
    assert len(before[0]) == 6 and before[2] == []  # nobody to tell
    assert_same(before, after, replayed, folded)


def test_an_xlsx_message_board_file_gives_the_same_rows_both_ways(town, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["留言编号", "留言时间", "留言主题", "答复意见", "答复时间"])
    rows = [
        ["X1", dt.datetime(2024, 1, 2, 10, 0), "无人答复", None, None],
        ["X2", dt.datetime(2024, 1, 2, 10, 0), "准时答复", "已处理", dt.datetime(2024, 1, 3, 10, 0)],  # at 24 h
        ["X3", dt.datetime(2024, 1, 2, 23, 59, 59), "午夜前", "已处理", dt.datetime(2024, 1, 9, 23, 59, 59)],  # at 7 d
        ["X4", dt.datetime(2024, 1, 3, 0, 0), "午夜", "已转办", dt.datetime(2024, 1, 10, 0, 0, 1)],  # 1 s late
    ]
    for row in rows:
        sheet.append(row)
    path = tmp_path / "board.xlsx"
    book.save(path)
    before, after, replayed, folded = both_ways(path, [r[0] for r in rows])
    assert len(before[0]) == 4
    assert_same(before, after, replayed, folded)


def test_a_file_that_repeats_imported_records_and_reuses_an_id_gives_the_same_rows_both_ways(town, tmp_path):
    first = [hotline("K1", "2024-03-01 08:00:00", urgency="紧急"),
             hotline("K2", "2024-03-01 09:00:00", responded="2024-03-01 10:00:00")]
    import_file(write_csv(tmp_path / "first.csv", HOTLINE, first), now=NOW)
    rows = [*first,
            hotline("K2", "2024-03-05 09:00:00"),  # the id again, another message: refused
            hotline("K3", "2024-03-01 08:30:00", urgency="紧急", responded="2024-03-01 10:30:01"),
            hotline("K4", "2024-03-01 08:00:00", resolved="2024-03-01 08:00:00", result="当场答复")]
    path = write_csv(tmp_path / "second.csv", HOTLINE, rows)
    before, after, replayed, folded = both_ways(path, ["K3", "K4"], skip_invalid=True)
    assert set(before[0]) == {"K1", "K2", "K3", "K4"}
    assert_same(before, after, replayed, folded)
    assert [before[0][r]["number"] for r in ("K1", "K2", "K3", "K4")] == [
        "XJ20240301-0001", "XJ20240301-0002", "XJ20240301-0004", "XJ20240301-0003"]  # K4 was received first


def test_a_vote_count_beyond_the_column_and_a_too_long_system_are_refused_before_anything_is_written(town, tmp_path):
    from cases.importing import MAX_VOTES, ImportRefused

    rows = [hotline("V1", "2024-03-01 08:00:00") + [str(MAX_VOTES)],
            hotline("V2", "2024-03-01 09:00:00") + [str(MAX_VOTES + 1)]]
    path = write_csv(tmp_path / "votes.csv", HOTLINE + ["点赞数"], rows)
    report = import_file(path, now=NOW)
    assert [(f.row, f.column) for f in report.plan.faults] == [(3, "点赞数")]
    assert "more than 2,147,483,647 votes" in report.plan.faults[0].fault
    assert not report.written and not Case.objects.filter(external_ref__in=["V1", "V2"]).exists()
    with pytest.raises(ImportRefused, match="longer than 40 characters"):
        import_file(path, now=NOW, system="x" * 41)
