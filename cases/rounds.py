"""Rounds of handling (办理轮次, issue 12 §1): a reopened case keeps every earlier round.

A case's columns hold its current round. When it is reopened (重办), :func:`round_record` turns those
columns into a finished :class:`cases.models.CaseRound` row, and :func:`fold_into_case` carries the round's
verdicts into the case's ``earlier_*`` columns, which only ever go from False to True: a breach once recorded
is never un-recorded by a later round. Both are pure functions of the values they are given, shared by the
reopen transition (under the row lock), the migration that backfills rounds from the audit trail, and the
statistics, so every path reads the same verdicts.

Verdict of a deadline in a finished round (:mod:`cases.boundary`, the one rule of the instant): late when a
breach was recorded, or when it was met after the deadline, or left unmet with the deadline passed when the
round ended; met when done at or before it; None when the round had no such deadline.

Statistics count either per case (``counting="case"``, the default and the stricter: a case is on time on a
deadline only if every one of its rounds was, "ever late" counts as late) or per round (``counting="round"``:
each round is one on-time/late verdict and each round's valid callback counts) — :func:`cases.selectors.rates`.
"""
from __future__ import annotations

import datetime as dt

from .boundary import has_passed, met

#: The deadlines a round has: (name, met-at field, due field, breach mark field). The dispatch deadline is
#: the case's, not a round's: it runs from receipt to the first dispatch, and a reopen keeps it.
DEADLINES = (
    ("respond", "responded_at", "respond_due_at", "respond_breached_at"),
    ("resolve", "resolved_at", "resolve_due_at", "resolve_breached_at"),
)
#: The case columns a finished round keeps besides its deadlines.
OUTCOME_FIELDS = ("solved", "result", "callback_at", "callback_contacted", "callback_solved", "satisfaction",
                  "callback_source")


def verdict(done_at: dt.datetime | None, due: dt.datetime | None, breached_at: dt.datetime | None,
            ended_at: dt.datetime) -> bool | None:
    """Whether a finished round was late on one deadline: True (late), False (met), None (no deadline).

    ``done_at``: when the milestone was reached (aware, or None: never in this round); ``due``: the deadline
    (aware or None); ``breached_at``: the recorded breach mark (or None); ``ended_at``: when the round ended
    (the reopen). Late iff a breach was recorded, or ``done_at > due``, or not done and ``ended_at > due``.
    """
    if due is None:
        return None
    if breached_at is not None:
        return True
    decided = met(done_at, due)
    if decided is not None:
        return not decided
    return has_passed(due, ended_at)


def lateness(done_at: dt.datetime | None, due: dt.datetime | None, ended_at: dt.datetime) -> dt.timedelta | None:
    """How late a finished round was on one deadline: ``(done_at or ended_at) − due`` when positive, else None."""
    if due is None:
        return None
    late_by = (done_at or ended_at) - due
    return late_by if late_by > dt.timedelta(0) else None


def round_record(values, *, number: int, started_at: dt.datetime, ended_at: dt.datetime) -> dict:
    """The fields of the finished :class:`cases.models.CaseRound` for a round whose case columns are
    ``values`` (a Case, or any object or mapping with its milestone, deadline, mark and callback fields).

    ``number``: the round's number (1 from receipt); ``started_at``/``ended_at``: aware, the round's start
    (``received_at`` or the previous reopen) and the reopen that ends it. Returns a dict of CaseRound field
    values (without ``case``), including ``<deadline>_late`` from :func:`verdict` and, under the key
    ``lateness``, the largest :func:`lateness` (a timedelta or None; not a CaseRound field).
    """
    get = values.get if isinstance(values, dict) else (lambda name: getattr(values, name, None))
    record: dict = {"number": number, "started_at": started_at, "ended_at": ended_at}
    late_by = []
    for name, done_field, due_field, mark_field in DEADLINES:
        done_at, due, mark = get(done_field), get(due_field), get(mark_field)
        record[done_field], record[due_field], record[mark_field] = done_at, due, mark
        record[f"{name}_late"] = verdict(done_at, due, mark, ended_at)
        if record[f"{name}_late"]:
            late_by.append(lateness(done_at, due, ended_at) or dt.timedelta(0))
    for name in OUTCOME_FIELDS:
        value = get(name)
        record[name] = "" if value is None and name in ("result", "satisfaction", "callback_source") else value
    record["lateness"] = max(late_by) if late_by else None
    return record


def fold_into_case(case, record: dict) -> None:
    """Carry a finished round's verdicts into the case's ``earlier_<deadline>_late`` flags (only ever from
    False to True) and ``earlier_lateness`` (the largest so far), and advance ``round_number``. In memory;
    the caller saves."""
    for name, *_fields in DEADLINES:
        if record.get(f"{name}_late"):
            setattr(case, f"earlier_{name}_late", True)
    if record.get("lateness") is not None:
        case.earlier_lateness = max(case.earlier_lateness or dt.timedelta(0), record["lateness"])
    case.round_number = record["number"] + 1


__all__ = ["DEADLINES", "fold_into_case", "lateness", "round_record", "verdict"]
