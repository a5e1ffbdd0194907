"""One lifecycle, two speeds (issue 17 build 2): the bulk import folds records through the same pure rules as
the services and the sweep, and writes the same rows as the replay."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.bulk_import import bulk_import_records
from cases.choices import Action, CaseKind, Source, Status
from cases.importing import import_file, plan_import
from cases.models import Case, CaseEvent, DailySequence, Notification
from cases.seeding import seed_categories, seed_sla_policies
from grids.models import Grid
from grids.services import seed_xiji
from tests.conftest import ROOT, SHARED_DATA

FILE_2816 = ROOT / "seeds" / "messages_with_replies_2816.csv"
BOSTON = SHARED_DATA / "open311" / "boston311_100_2022.csv"  # the export's own deadlines; open requests
NYC = SHARED_DATA / "open311" / "nyc311_1000_2014-2019.csv"
NOW = dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC)  # after every time of the file

#: Case columns that are not the lifecycle's: the row's own id and the wall-clock time it was written.
NOT_COMPARED = {"id", "updated_at"}


@pytest.fixture
def town(db):
    seed_xiji(demo=True)  # grid leaders with logins: the dispatch notices have recipients
    seed_sla_policies()
    seed_categories()


def snapshot():
    """Every case column but its id and write time, every event and every notification, per external ref."""
    columns = [f.attname for f in Case._meta.concrete_fields if f.attname not in NOT_COMPARED]
    cases = {row["external_ref"]: row for row in Case.objects.values(*columns)}
    ref_of = dict(Case.objects.values_list("pk", "external_ref"))
    events = {}
    for row in CaseEvent.objects.order_by("case_id", "id").values(
            "case_id", "actor_id", "action", "from_status", "to_status", "at", "note", "data"):
        events.setdefault(ref_of[row.pop("case_id")], []).append(row)
    notices = sorted(
        (ref_of[n["case_id"]], n["recipient_id"], n["kind"], n["title"], n["body"],
         _key_by_ref(n["dedupe_key"], ref_of), n["created_at"], n["read_at"])
        for n in Notification.objects.values("case_id", "recipient_id", "kind", "title", "body", "dedupe_key",
                                             "created_at", "read_at"))
    sequences = sorted(DailySequence.objects.values_list("day", "last"))
    return cases, events, notices, sequences


def _key_by_ref(key: str, ref_of: dict) -> str:
    """A dedupe key ``kind:<case id>:<time>`` with the case's external ref instead of its id."""
    kind, case_id, rest = key.split(":", 2)
    return f"{kind}:{ref_of[int(case_id)]}:{rest}"


def forget_imports(counters=()):
    """Delete the imported cases (their events and notices too) and put the day counters back to
    ``counters`` (``(day, last)`` pairs; none: no counter)."""
    Notification.objects.filter(case__imported=True).delete()
    Case.objects.filter(imported=True).delete()  # and their events
    DailySequence.objects.all().delete()
    DailySequence.objects.bulk_create([DailySequence(day=day, last=last) for day, last in counters])


def test_the_bulk_import_writes_the_replays_rows_for_the_2816_real_messages(town):
    replayed = import_file(FILE_2816, now=NOW, method="replay")
    before = snapshot()
    forget_imports()
    folded = import_file(FILE_2816, now=NOW, method="bulk")
    after = snapshot()

    cases, events, notices, sequences = after
    assert len(cases) == 2816 and len(events) == 2816
    assert after[0] == before[0]  # every case column of every case
    mismatched = [ref for ref in before[1] if before[1][ref] != events.get(ref)]
    assert mismatched == []  # every event: action, time, from/to, note, data, in order
    assert after[2:] == before[2:]  # the read dispatch notices, the day counters
    assert {k: v for k, v in folded.replay.as_dict().items() if k != "seconds"} == \
        {k: v for k, v in replayed.replay.as_dict().items() if k != "seconds"}

    # the known answer of the file (tests/test_replay.py counts it from the file's two time columns)
    assert (folded.replay.respond_on_time, folded.replay.resolve_on_time) == (132, 992)
    assert sum(c["status"] == Status.RESOLVED for c in cases.values()) == 2816
    assert sum(len(e) for e in events.values()) == CaseEvent.objects.count() > 5 * 2816
    assert len(notices) == 2816 and all(n[-1] == n[-2] for n in notices)  # read at their own time
    # a record's events in the replay's order: created, dispatched, accepted, … resolved, then late marks
    first = events[min(events)]
    assert [e["action"] for e in first[:3]] == [Action.CREATED, Action.DISPATCHED, Action.ACCEPTED]


def test_a_bulk_chunk_costs_the_same_statements_whatever_its_size(town):
    plan = plan_import(FILE_2816, now=NOW)
    counts = []
    for size in (100, 1000):
        forget_imports()
        with CaptureQueriesContext(connection) as queries:
            bulk_import_records(plan.records[:size], source=plan.source, now=NOW, chunk_size=size)
        # the statements on the cases' tables (the metrics counter's row is created on its first use only)
        counts.append(len([q for q in queries.captured_queries
                           if "case" in q["sql"].lower() and "opscounter" not in q["sql"].lower()]))
    assert counts[0] == counts[1]  # constant per chunk, not per record
    assert Case.objects.count() == 1000


def test_a_stopped_bulk_import_keeps_its_chunks_and_a_second_run_imports_the_rest(town, monkeypatch):
    import cases.bulk_import as bulk

    plan = plan_import(FILE_2816, now=NOW)
    real = bulk._write_chunk
    calls = {"n": 0}

    def failing(chunk, **kwargs):
        ids = real(chunk, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:  # killed after writing its rows, before the commit
            raise RuntimeError("worker killed")
        return ids

    monkeypatch.setattr(bulk, "_write_chunk", failing)
    with pytest.raises(RuntimeError):
        bulk_import_records(plan.records, source=plan.source, now=NOW, chunk_size=1000)
    assert Case.objects.count() == 1000  # the first chunk committed, the second rolled back whole
    assert CaseEvent.objects.exclude(case__in=Case.objects.all()).count() == 0
    monkeypatch.setattr(bulk, "_write_chunk", real)

    again = import_file(FILE_2816, now=NOW)
    assert (again.plan.existing, len(again.plan.records)) == (1000, 1816)
    assert Case.objects.count() == 2816
    numbers = list(Case.objects.order_by("received_at", "id").values_list("number", flat=True))
    assert len(set(numbers)) == 2816  # no number handed out twice across the two runs


@pytest.mark.parametrize("path", [BOSTON, NYC], ids=["boston-own-deadlines-and-open-requests", "nyc"])
def test_bulk_and_replay_agree_on_city_exports_beside_a_live_case(town, path):
    # a live case whose respond deadline passed 6 h ago, not swept yet: neither import may sweep past it
    live = services.create_case(actor=None, kind=CaseKind.COMPLAINT, source=Source.HOTLINE, title="路灯不亮",
                                grid=Grid.objects.order_by("code").first(), now=NOW - dt.timedelta(hours=30))
    counters = list(DailySequence.objects.values_list("day", "last"))
    replayed = import_file(path, now=NOW, method="replay")
    before = snapshot()
    forget_imports(counters)
    folded = import_file(path, now=NOW, method="bulk")
    after = snapshot()

    assert after[0] == before[0]
    assert [ref for ref in before[1] if before[1][ref] != after[1].get(ref)] == []
    assert after[2:] == before[2:]
    assert {k: v for k, v in folded.replay.as_dict().items() if k != "seconds"} == \
        {k: v for k, v in replayed.replay.as_dict().items() if k != "seconds"}
    imported = [c for ref, c in after[0].items() if c["imported"]]
    assert len(imported) == len(folded.plan.records) > 0
    live.refresh_from_db()
    assert live.respond_breached_at is None and live.next_check_at == live.respond_warn_at  # untouched
    if path == BOSTON:  # the export's own deadlines govern, and some requests are still open at NOW
        assert {c["deadline_source"] for c in imported} >= {"external"}
        assert sum(c["status"] == Status.ACCEPTED for c in imported) > 0
