"""The bulk import: historical records folded through the lifecycle's pure rules in memory and written a
chunk at a time (issue 17 build 2).

For each record, in the order of its received time (as the replay, :mod:`cases.replay`), the fold applies
the same steps in the same order: :func:`cases.transitions.receive`, ``dispatch`` to the record's
micro-grid and its leader, ``accept``, then the schedule of :func:`cases.replay.replay_steps` — each sweep
point through :func:`cases.marks.sweep_outcome` and the sweep's own event rule
(:func:`cases.deadlines.mark_events`), the response and the resolution through ``respond`` and ``resolve``.
The cases of a chunk, their events and their "new dispatch" notices (already read at their own time, as the
replay files them) are then written with three bulk inserts in one transaction; the case numbers of the
chunk's days are handed out with one locked read of their counters. So the rows equal the replay's, column
for column and event for event (tests/test_bulk_import.py on the 2,816 real messages), at a constant number
of statements per chunk instead of ~49 per record.

What differs, on purpose: one transaction per chunk, not per file — an import stopped half way keeps its
committed chunks and a second run of the same file imports the rest (the plan counts the records already
present, :func:`cases.importing.plan_import`); the lifecycle listeners (:mod:`cases.hooks`, the deputies'
feedback signal) are not called, since a case that is being created by an import has no upstream order
and no raising deputy; and the historical notices are not delivered to any channel (the replay delivers
them and marks them read at once).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from grids.models import Grid

from . import transitions
from .deadlines import count_mark, mark_events
from .marks import sweep_outcome
from .models import Case, CaseEvent, Category, DailySequence, Notification, SlaPolicy
from .replay import (
    IMPORT_NOTE,
    ReplayReport,
    count_outcomes,
    record_case_fields,
    record_extra_fields,
    replay_steps,
    sweep_limit,
)
from .services import case_number, case_values, local_date

logger = logging.getLogger(__name__)

#: Records written per transaction.
CHUNK_SIZE = 2000


def bulk_import_records(records: Iterable, *, source: str, now, chunk_size: int = CHUNK_SIZE,
                        progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Create the cases of ``records`` (:class:`cases.importing.Record`, checked and new) with ``source``,
    folded through the lifecycle on their own clock, ``chunk_size`` records per transaction.

    ``now`` (aware) is the import's clock: open records are swept up to it, or short of any live case's
    pending check (:func:`cases.replay.sweep_limit`), as in the replay. ``progress(n)`` is called after each
    chunk with its size. Returns a ReplayReport with the same counts as :func:`cases.replay.replay_records`.
    Raises what the lifecycle's rules raise (ValidationError, TransitionNotAllowed); the chunk being written
    is then rolled back and the chunks before it stay.
    """
    started = time.monotonic()
    report = ReplayReport()
    categories = {c.pk: c for c in Category.objects.select_related("parent__parent")}
    grids = {g.pk: g for g in Grid.objects.select_related("village", "leader")}
    policies = {p.urgency: p for p in SlaPolicy.objects.all()}
    limit = sweep_limit(now)
    ordered = sorted(records, key=lambda r: (r.received_at, r.row))
    for start in range(0, len(ordered), chunk_size):
        chunk = ordered[start:start + chunk_size]
        with transaction.atomic():
            report.case_ids += _write_chunk(chunk, source=source, limit=limit, report=report, grids=grids,
                                            categories=categories, policies=policies)
        report.created += len(chunk)
        if progress is not None:
            progress(len(chunk))
    count_outcomes(report, now)
    report.seconds = time.monotonic() - started
    logger.info("bulk import of %s %s records: %s", len(ordered), source, report.as_dict())
    return report


def _numbers(chunk) -> list[str]:
    """The case numbers of ``chunk`` (in received order): per Asia/Shanghai day, the next ones of the day's
    counter, which is created if missing and locked until the chunk commits (as ``next_case_number``)."""
    days = [local_date(record.received_at) for record in chunk]
    wanted = sorted(set(days))
    DailySequence.objects.bulk_create([DailySequence(day=day) for day in wanted], ignore_conflicts=True)
    counters = {seq.day: seq for seq in DailySequence.objects.select_for_update().filter(day__in=wanted)}
    numbers, nxt = [], {}
    for day in days:
        seq = nxt[day] = nxt.get(day, counters[day].last) + 1
        numbers.append(case_number(day, seq))
    for day, last in nxt.items():
        counters[day].last = last
    DailySequence.objects.bulk_update(counters.values(), ["last"])
    return numbers


def _write_chunk(chunk, *, source, limit, report, grids, categories, policies) -> list[int]:
    cases, events, notices = [], [], []
    for record, number in zip(chunk, _numbers(chunk), strict=True):
        case, case_events, case_notices = fold_record(
            record, number=number, source=source, limit=limit, report=report, grid=grids[record.grid_id],
            category=categories.get(record.category_id), policies=policies)
        cases.append(case)
        events.append(case_events)
        notices.append(case_notices)
    Case.objects.bulk_create(cases)
    CaseEvent.objects.bulk_create([CaseEvent(case_id=case.pk, actor=None, **fields)
                                   for case, case_events in zip(cases, events, strict=True) for fields in case_events])
    Notification.objects.bulk_create([
        Notification(recipient_id=n.recipient_id, kind=n.kind, title=n.title, body=n.body, case_id=case.pk,
                     dedupe_key=n.key(case.pk), created_at=n.created_at, read_at=n.created_at)
        for case, case_notices in zip(cases, notices, strict=True) for n in case_notices])
    return [case.pk for case in cases]


def fold_record(record, *, number: str, source: str, limit, report: ReplayReport, grid, category, policies: dict):
    """Fold one record through the lifecycle in memory: ``(case, events, notices)`` — the unsaved Case with
    its final columns, its CaseEvent field dicts in the order the replay writes them, and its
    :class:`cases.transitions.Notice` list. ``grid``: the record's Grid with its ``leader`` loaded;
    ``category``: a Category or None; ``policies``: SlaPolicy by urgency; ``limit`` as
    :func:`cases.replay.replay_steps`. Counts sweeps and marks into ``report``. Raises ValidationError for a
    resolved record without a result, TransitionNotAllowed where the lifecycle would."""
    at = record.received_at
    fields = record_case_fields(record, grid=grid, category=category)
    deadlines = fields.pop("deadlines")
    case = Case(number=number, created_by=None, **case_values(source=source, village=grid.village, **fields),
                **record_extra_fields(record))
    policy = policies.get(case.urgency)
    events, notices = [], []

    def run(step, allowed=None):
        if allowed is not None:  # the state the step started from (``step.event``) must allow it
            transitions.check_allowed(case, transitions.ALLOWED_FROM[allowed], step.event["action"])
        transitions.apply(case, step)
        _as_stored(case)
        events.append(step.event)
        notices.extend(step.notices)

    run(transitions.receive(case, source=source, policy=policy, deadlines=deadlines, now=at))
    run(transitions.dispatch(case, grid=grid, handler=grid.leader, actor_id=None, now=at, note=IMPORT_NOTE,
                             policy=policy), "dispatch")
    run(transitions.accept(case, now=at), "accept")
    for step, moment in replay_steps(record, case, limit):
        if step == "sweep":
            report.sweeps += 1
            marks, changes = sweep_outcome(case, moment)
            for name, value in changes.items():
                setattr(case, name, value)
            _as_stored(case)
            for mark in marks:
                count_mark(report, mark)
                events.extend(mark_events(case, mark, moment))
        elif step == "respond":
            run(transitions.respond(case, now=moment, note=IMPORT_NOTE), "respond")
        else:
            if not (record.result and record.result.strip()):
                raise ValidationError({"result": _("请填写办理结果。")})
            run(transitions.resolve(case, solved=record.solved, result=record.result, leader_id=grid.leader_id,
                                    policy=policy, now=moment), "resolve")
    return case, events, notices


_TIMES = [f.attname for f in Case._meta.concrete_fields if f.get_internal_type() == "DateTimeField"]


def _as_stored(case) -> None:
    """Give the case's times in UTC, as the database returns them to the careful path's next step (the
    same instants; the event data the next steps write spell them in ISO 8601 with the offset)."""
    for name in _TIMES:
        value = getattr(case, name)
        if value is not None and value.utcoffset():
            setattr(case, name, value.astimezone(dt.UTC))


__all__ = ["CHUNK_SIZE", "bulk_import_records", "fold_record"]
