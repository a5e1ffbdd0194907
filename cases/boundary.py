"""The one rule for the deadline instant (issue 12 §3), used by the sweep, the met/late verdict, the lists
and the statistics alike.

* A point in time (a deadline, or a warning point) **has passed** at ``now`` iff ``now > point``: at the
  instant itself it has not, 1 µs later it has. So a sweep exactly at a deadline records no breach and
  sends no notification; a sweep 1 µs later does.
* A deadline **is met** iff the milestone's time ``done_at <= due``: a response at the instant itself is
  on time, 1 µs later it is late (and then breached).

Both halves agree at the instant: a case answered at ``due`` is on time and never breached. Pure functions
on aware datetimes, and the same rule as ORM conditions for querysets.
"""
from __future__ import annotations

import datetime as dt

from django.db.models import F, Q


def has_passed(point: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether ``point`` (aware, or None = no such point) has passed at ``now`` (aware): ``now > point``.
    False for None."""
    return point is not None and now > point


def met(done_at: dt.datetime | None, due: dt.datetime | None) -> bool | None:
    """The met/late verdict of a deadline: True when ``done_at <= due``, False when ``done_at > due``, None
    while undecided by the timestamps (no ``due`` or not yet done)."""
    if due is None or done_at is None:
        return None
    return done_at <= due


def missed(done_at: dt.datetime | None, due: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the deadline ``due`` is missed at ``now``: done late (``done_at > due``), or not done and
    ``due`` has passed (``now > due``). False without ``due``."""
    if due is None:
        return False
    return done_at > due if done_at is not None else has_passed(due, now)


def open_past(done_at: dt.datetime | None, due: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the deadline is not done and has passed at ``now`` (an open case's overdue rule)."""
    return done_at is None and has_passed(due, now)


def iso_utc(moment: dt.datetime | None) -> str | None:
    """``moment`` (aware) in ISO 8601 in UTC (``2025-04-07T01:00:00+00:00``), or None: how event data and
    dedupe keys spell a time, the same whether the time was just parsed (e.g. in Asia/Shanghai) or read back
    from the database (UTC)."""
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def passed_q(field: str, now: dt.datetime) -> Q:
    """ORM condition: the point in ``field`` has passed at ``now`` (``now > field``)."""
    return Q(**{f"{field}__lt": now})


def met_q(done_field: str, due_field: str) -> Q:
    """ORM condition: the deadline was met (``done_field <= due_field``; both set)."""
    return Q(**{f"{done_field}__lte": F(due_field)})


def late_q(done_field: str, due_field: str) -> Q:
    """ORM condition: the deadline was met late (``done_field > due_field``; both set)."""
    return Q(**{f"{done_field}__gt": F(due_field)})


def open_past_q(done_field: str, due_field: str, now: dt.datetime) -> Q:
    """ORM condition: not done and the deadline has passed at ``now``."""
    return Q(**{f"{done_field}__isnull": True}) & passed_q(due_field, now)


__all__ = ["has_passed", "iso_utc", "late_q", "met", "met_q", "missed", "open_past", "open_past_q", "passed_q"]
