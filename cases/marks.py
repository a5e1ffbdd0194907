"""Which warnings and breaches a case owes at an instant, and its next check: the one rule, as pure functions
(DESIGN §5, issue 17 build 1).

Every path that records marks decides them here: the set-based sweep of a batch of claimed cases, the
careful per-case sweep (:mod:`cases.deadlines`), and ``Case.compute_next_check_at`` that every transition
stores. Nothing here touches the database; a *state* is a Case or any mapping / object with the same
attribute names (``status`` and the ``*_due_at``, ``*_warn_at``, ``*_warned_at``, ``*_breached_at`` and
milestone columns, aware UTC datetimes or None).

The instant is :mod:`cases.boundary`'s: a point has passed iff ``now > point``, a deadline is met iff
``done_at <= due``. A warning is owed once its point has passed while the milestone is not done; a breach
once the deadline has passed unmet — or met late, which no sweep saw before. Cancelled cases owe nothing.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, NamedTuple

from .boundary import has_passed, met
from .choices import OPEN_STATES, Action, Status

#: (deadline, field of the point in time, field marked, met-at field, event action, is breach), in the
#: order a sweep records them.
MARK_SPECS = (
    ("dispatch", "dispatch_warn_at", "dispatch_warned_at", "dispatched_at", Action.DISPATCH_WARNING, False),
    ("dispatch", "dispatch_due_at", "dispatch_breached_at", "dispatched_at", Action.DISPATCH_BREACH, True),
    ("respond", "respond_warn_at", "respond_warned_at", "responded_at", Action.RESPOND_WARNING, False),
    ("respond", "respond_due_at", "respond_breached_at", "responded_at", Action.RESPOND_BREACH, True),
    ("resolve", "resolve_warn_at", "resolve_warned_at", "resolved_at", Action.RESOLVE_WARNING, False),
    ("resolve", "resolve_due_at", "resolve_breached_at", "resolved_at", Action.RESOLVE_BREACH, True),
)

#: (met-at, deadline, warning point, warned mark, breached mark) of each deadline.
DEADLINES = (
    ("dispatched_at", "dispatch_due_at", "dispatch_warn_at", "dispatch_warned_at", "dispatch_breached_at"),
    ("responded_at", "respond_due_at", "respond_warn_at", "respond_warned_at", "respond_breached_at"),
    ("resolved_at", "resolve_due_at", "resolve_warn_at", "resolve_warned_at", "resolve_breached_at"),
)

#: The columns a sweep may change on a case (besides ``updated_at``).
SWEPT_COLUMNS = ("dispatch_warned_at", "dispatch_breached_at", "respond_warned_at", "respond_breached_at",
                 "resolve_warned_at", "resolve_breached_at", "escalated_at", "next_check_at")

#: The columns the rule reads.
STATE_COLUMNS = ("status", *sorted({f for row in DEADLINES for f in row}), "escalated_at")


class Mark(NamedTuple):
    """One warning or breach owed by a case.

    ``deadline``: ``"dispatch"``, ``"respond"`` or ``"resolve"``; ``field``: the mark column it sets (e.g.
    ``respond_breached_at``); ``point``: the warning point or the deadline (aware UTC), the mark's time;
    ``action``: the Action of its event, also the notification kind; ``breach``: a breach (else a warning);
    ``escalate``: a resolve breach of an open case, escalated to the supervisors at the sweep's time.
    """

    deadline: str
    field: str
    point: dt.datetime
    action: Action
    breach: bool
    escalate: bool


def _reader(state):
    if isinstance(state, Mapping):
        return state.get
    return lambda name: getattr(state, name, None)


def due_marks(state: Any, now: dt.datetime) -> list[Mark]:
    """The marks ``state`` (a Case, or a mapping / object with its column names) owes at ``now`` (aware UTC),
    in :data:`MARK_SPECS` order; empty for a cancelled case.

    A warning is owed when its point has passed (``now > point``), it is not marked yet and the milestone is
    not done; a breach when the deadline has passed, it is not marked yet and the deadline is not met
    (``done_at <= due``, :func:`cases.boundary.met`) — a late milestone still owes its breach. Rule: DESIGN §5,
    the instant of issue 12 §3.
    """
    get = _reader(state)
    status = get("status")
    if status == Status.CANCELLED:
        return []
    out = []
    for deadline, point_field, mark_field, met_field, action, breach in MARK_SPECS:
        point = get(point_field)
        if get(mark_field) is not None or not has_passed(point, now):
            continue
        met_at = get(met_field)
        if met(met_at, point) if breach else met_at is not None:
            continue
        out.append(Mark(deadline, mark_field, point, action, breach,
                        escalate=breach and deadline == "resolve" and status in OPEN_STATES))
    return out


def next_check_at(state: Any) -> dt.datetime | None:
    """The earliest pending warning or breach of ``state`` (a Case or mapping / object with its column names),
    or None: what ``next_check_at`` stores.

    A warning is pending while its milestone is not done and it is unwarned; a breach while unrecorded and
    its deadline is not met (a late milestone the sweep has not seen yet still counts). A deadline that is
    None has neither. Cancelled cases have none. Returns an aware UTC datetime or None.
    """
    get = _reader(state)
    if get("status") == Status.CANCELLED:
        return None
    pending = []
    for met_field, due_field, warn_field, warned_field, breached_field in DEADLINES:
        due = get(due_field)
        if due is None:
            continue
        met_at, warn = get(met_field), get(warn_field)
        if met_at is None and get(warned_field) is None and warn is not None:
            pending.append(warn)
        if get(breached_field) is None and not met(met_at, due):
            pending.append(due)
    return min(pending) if pending else None


def sweep_outcome(state: Any, now: dt.datetime) -> tuple[list[Mark], dict[str, dt.datetime | None]]:
    """What one sweep at ``now`` (aware UTC) does to ``state``: ``(marks, changes)``.

    ``marks`` as :func:`due_marks`; ``changes`` maps columns of :data:`SWEPT_COLUMNS` to their new values:
    each mark's field to its point, ``escalated_at`` to ``now`` when a mark escalates, and always
    ``next_check_at`` recomputed (:func:`next_check_at`) on the marked state. ``state`` is not modified.
    """
    marks = due_marks(state, now)
    changes: dict[str, dt.datetime | None] = {m.field: m.point for m in marks}
    if any(m.escalate for m in marks):
        changes["escalated_at"] = now
    get = _reader(state)
    view = {name: get(name) for name in STATE_COLUMNS}
    view.update(changes)
    changes["next_check_at"] = next_check_at(view)
    return marks, changes


__all__ = ["DEADLINES", "MARK_SPECS", "SWEPT_COLUMNS", "Mark", "due_marks", "next_check_at", "sweep_outcome"]
