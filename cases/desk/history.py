"""Caller history at intake (issue 16 build 1): a phone number's or a name's earlier cases, in scope.

A phone matches whole — the same digits once the separators ``- ( ) + space`` are dropped
(:func:`cases.models.case.phone_key`), never a part of a number — served by the functional index
``case_phone_key``. A name matches exactly (trimmed). Results are the caller's scope only, newest first;
the phone in them is shown masked unless the user sees phones whole (DESIGN §10).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from ..choices import OPEN_STATES
from ..models import Case
from ..models.case import PHONE_KEY, phone_key

#: How many earlier cases the intake panel shows per match (the API's ``limit`` is capped here too).
HISTORY_LIMIT = 20
#: A phone key shorter than this matches nothing: a partial number is not a caller.
MIN_PHONE_DIGITS = 7


@dataclasses.dataclass
class CallerHistory:
    """Earlier cases of one caller: ``by_phone`` (whole-number match) and ``by_name`` (same name, other
    phone or none), each newest first and at most ``limit``; the totals are counted in full."""

    phone_key: str
    name: str
    by_phone: list
    by_phone_total: int
    by_name: list
    by_name_total: int
    open_total: int


def normalise_phone(phone: str) -> str:
    """The digits a phone is matched by, or "" when it is too short to name a caller."""
    key = phone_key((phone or "").strip())
    return key if len(key) >= MIN_PHONE_DIGITS and key.isdigit() else ""


def with_phone_key(qs):
    """``qs`` (a Case queryset) annotated with ``phone_key``, the indexed expression."""
    return qs.annotate(phone_key=PHONE_KEY)


def filter_phone(qs, phone: str):
    """Cases of ``qs`` whose complainant phone is ``phone`` whole (separators ignored); none for a number
    shorter than :data:`MIN_PHONE_DIGITS`."""
    key = normalise_phone(phone)
    if not key:
        return qs.none()
    return with_phone_key(qs).filter(phone_key=key).exclude(complainant_phone="")


def caller_history(scope, *, phone: str = "", name: str = "", exclude_case_id: int | None = None,
                   limit: int = HISTORY_LIMIT, now: dt.datetime | None = None) -> CallerHistory:
    """The earlier cases in ``scope`` (a :class:`grids.scope.Scope`) of the caller with ``phone`` and/or
    ``name``. ``exclude_case_id``: the case being looked at. ``limit`` ≤ :data:`HISTORY_LIMIT`. At most six
    queries, whatever the history's length."""
    limit = max(1, min(int(limit), HISTORY_LIMIT))
    base = scope.cases(Case.objects.select_related("village", "grid", "category", "handler"))
    if exclude_case_id:
        base = base.exclude(pk=exclude_case_id)
    key = normalise_phone(phone)
    name = (name or "").strip()
    by_phone = filter_phone(base, phone) if key else base.none()
    by_name = base.filter(complainant_name=name) if name else base.none()
    if key and name:
        by_name = by_name.exclude(pk__in=filter_phone(base, phone).values("pk"))
    order = ("-received_at", "-pk")
    open_total = (by_phone.filter(status__in=OPEN_STATES).count() if key else 0)
    return CallerHistory(
        phone_key=key, name=name,
        by_phone=list(by_phone.order_by(*order)[:limit]) if key else [], by_phone_total=by_phone.count() if key else 0,
        by_name=list(by_name.order_by(*order)[:limit]) if name else [], by_name_total=by_name.count() if name else 0,
        open_total=open_total,
    )


__all__ = ["CallerHistory", "HISTORY_LIMIT", "MIN_PHONE_DIGITS", "caller_history", "filter_phone",
           "normalise_phone", "with_phone_key"]
