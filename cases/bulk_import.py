"""The bulk import: historical records folded through the lifecycle's pure rules in memory and written a
chunk at a time (issue 17 build 2).

For each record, in the order of its received time (as the replay, :mod:`cases.replay`), the fold applies
the same steps in the same order: :func:`cases.transitions.receive`, ``dispatch`` to the record's
micro-grid and its leader, ``accept``, then the schedule of :func:`cases.replay.replay_steps` — each sweep
point through :func:`cases.marks.sweep_outcome` and the sweep's own event rule
(:func:`cases.deadlines.mark_events`), the response and the resolution through ``respond`` and ``resolve``.
The cases of a chunk, their events and their "new dispatch" notices (already read at their own time, as the
replay files them) are then written with three bulk inserts in one transaction; the case numbers of the
chunk's days come from :func:`cases.services.next_case_numbers`, as at the desk. So the rows equal the replay's, column
for column and event for event (tests/test_bulk_import.py on the 2,816 real messages), at a constant number
of statements per chunk instead of ~49 per record.

What differs, on purpose: one transaction per chunk, not per file — an import stopped half way keeps its
committed chunks and a second run of the same file imports the rest (the plan counts the records already
present, :func:`cases.importing.plan_import`); the lifecycle listeners (:mod:`cases.hooks`, the deputies'
feedback signal) are not called, since a case that is being created by an import has no upstream order
and no raising deputy. Like the replay, it delivers no historical notice to any channel
(:func:`cases.notifications.stored_only`) and ends with the replay's safety-net sweep up to the limit.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from operator import itemgetter

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.models import Grid

from . import metrics, transitions
from .bulk import copy_rows, reserve_ids
from .deadlines import count_mark, mark_events
from .marks import sweep_outcome
from .models import Case, CaseEvent, Category, Notification, SlaPolicy
from .replay import (
    IMPORT_NOTE,
    ReplayReport,
    advance_clock,
    count_outcomes,
    quiet_sweeps,
    record_case_fields,
    record_extra_fields,
    replay_steps,
    sweep_limit,
)
from .services import case_values, next_case_numbers

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
    with quiet_sweeps():
        advance_clock(limit, report)  # the replay's safety net, the same: normally nothing is left to sweep
    count_outcomes(report, now)
    report.seconds = time.monotonic() - started
    logger.info("bulk import of %s %s records: %s", len(ordered), source, report.as_dict())
    return report


_CASE_FIELDS = [f.attname for f in Case._meta.concrete_fields]
_EVENT_FIELDS = ["case_id", "actor_id", "action", "from_status", "to_status", "at", "note", "data"]
_NOTICE_FIELDS = ["recipient_id", "kind", "title", "body", "case_id", "dedupe_key", "created_at", "read_at"]


def _write_chunk(chunk, *, source, limit, report, grids, categories, policies) -> list[int]:
    def fold(record, number):
        return fold_record(record, number=number, source=source, limit=limit, report=report,
                           grid=grids[record.grid_id], category=categories.get(record.category_id), policies=policies)

    written = timezone.now()
    numbers = next_case_numbers([record.received_at for record in chunk])
    folded = []
    if connection.vendor == "postgresql":  # COPY, with the case ids drawn first for the events and notices
        with connection.cursor() as c:
            # A chunk is resumable (a second run imports what is missing), so its commit need not wait for
            # the WAL flush; this transaction only (a server crash may lose the last chunks, never half one).
            c.execute("SET LOCAL synchronous_commit TO OFF")
        row_of = itemgetter(*_CASE_FIELDS)
        ids = reserve_ids(Case, len(chunk))

        def case_rows():  # folded while the rows before stream: the server inserts them meanwhile
            for record, number, pk in zip(chunk, numbers, ids, strict=True):
                case, events, notices = fold(record, number)
                case.id, case.updated_at = pk, written
                folded.append((case, events, notices))
                yield row_of(vars(case))

        copy_rows(Case, _CASE_FIELDS, case_rows())
        copy_rows(CaseEvent, _EVENT_FIELDS, (
            (case.id, None, e["action"], e["from_status"], e["to_status"], e["at"], e["note"], json.dumps(e["data"]))
            for case, events, _n in folded for e in events))
        copy_rows(Notification, _NOTICE_FIELDS, (
            (n.recipient_id, n.kind, n.title, n.body, case.id, n.key(case.id), n.created_at, n.created_at)
            for case, _e, notices in folded for n in notices))
    else:  # the embedded default (SQLite): the ORM's bulk inserts
        folded = [fold(record, number) for record, number in zip(chunk, numbers, strict=True)]
        rows = Case.objects.bulk_create([Case(**{**vars(case), "updated_at": written}) for case, _e, _n in folded])
        for (case, _events, _notices), row in zip(folded, rows, strict=True):
            case.id = row.pk
        CaseEvent.objects.bulk_create([CaseEvent(case_id=case.id, actor=None, **fields)
                                       for case, events, _n in folded for fields in events])
        Notification.objects.bulk_create([
            Notification(**dict(zip(_NOTICE_FIELDS, (n.recipient_id, n.kind, n.title, n.body, case.id,
                                                     n.key(case.id), n.created_at, n.created_at), strict=True)))
            for case, _e, notices in folded for n in notices])
    metrics.increment(notifications=sum(len(notices) for _c, _e, notices in folded))  # as notify() counts them
    return [case.id for case, _e, _n in folded]


class CaseState:
    """A new case's columns as a plain object, the *state* the pure steps read (:mod:`cases.transitions`):
    every concrete Case field by its attname (``village_id`` …), starting from the field defaults, then
    ``values``. Lighter than a Case instance (the fold builds one per record); the writers read it by
    attname."""

    _defaults: dict | None = None

    def __init__(self, **values):
        if CaseState._defaults is None:
            CaseState._defaults = {f.attname: f.get_default() for f in Case._meta.concrete_fields}
        self.__dict__.update(CaseState._defaults)
        self.__dict__.update(values)


def fold_record(record, *, number: str, source: str, limit, report: ReplayReport, grid, category, policies: dict):
    """Fold one record through the lifecycle in memory: ``(case, events, notices)`` — a :class:`CaseState`
    with the new case's final columns (no id yet), its CaseEvent field dicts in the order the replay writes them, and its
    :class:`cases.transitions.Notice` list. ``grid``: the record's Grid with its ``leader`` loaded;
    ``category``: a Category or None; ``policies``: SlaPolicy by urgency; ``limit`` as
    :func:`cases.replay.replay_steps`. Counts sweeps and marks into ``report``. Raises ValidationError for a
    resolved record without a result, TransitionNotAllowed where the lifecycle would."""
    at = record.received_at
    fields = record_case_fields(record, grid=grid, category=category)
    deadlines = fields.pop("deadlines")
    values = case_values(source=source, village=grid.village, **fields)
    for relation in ("category", "village", "grid"):
        related = values.pop(relation)
        values[f"{relation}_id"] = related.pk if related is not None else None
    case = CaseState(number=number, created_by_id=None, **values, **record_extra_fields(record))
    policy = policies.get(case.urgency)
    events, notices = [], []

    def run(step, allowed=None):
        if allowed is not None:  # the state the step started from (``step.event``) must allow it
            transitions.check_allowed(case, transitions.ALLOWED_FROM[allowed], step.event["action"])
        transitions.apply(case, step)
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


__all__ = ["CHUNK_SIZE", "bulk_import_records", "fold_record"]
