"""The dispatcher's queues (issue 16 build 3): cases to dispatch and resolved cases waiting for their
callback, with filters, sorting and keyset paging, and bulk actions through the lifecycle services.

Keyset paging: a page is "the next ``limit`` rows after this cursor" in a total order (the sort key, then
the id), so its cost does not grow with how deep the dispatcher pages — an ``OFFSET`` would make page 2,000
of 100,000 waiting rows read them all. Cursors are opaque strings (base64 of the last row's sort values).

Bulk actions never set a status themselves: each case goes through its own service call (its own
transaction and event), and the answer says, per case, whether it was done and why not.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Expression, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules, services
from ..choices import Satisfaction, Status
from ..models import Case
from ..models.case import WAITING_STATES, urgency_rank_expression

#: Rows per page by default, and the most a client may ask for.
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
#: The most cases one bulk action takes.
BULK_MAX = 200
_FAR = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)

TO_DISPATCH = WAITING_STATES


class RowAfter(Expression):
    """``(e1, e2, …) > (v1, v2, …)`` (``<`` when descending): SQL row comparison, which PostgreSQL serves
    with a range scan of an index on the same expressions — the form of keyset paging that stays fast
    however deep the page (an ``OR`` of the same condition would not use the index)."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, expressions, values, *, descending: bool):
        super().__init__()
        self.expressions, self.values, self.descending = list(expressions), list(values), descending

    def get_source_expressions(self):
        return self.expressions

    def set_source_expressions(self, exprs):
        self.expressions = list(exprs)

    def as_sql(self, compiler, connection):
        parts, params = [], []
        for expression in self.expressions:
            sql, more = compiler.compile(expression)
            parts.append(sql)
            params.extend(more)
        marks = ", ".join(["%s"] * len(self.values))
        return f"({', '.join(parts)}) {'<' if self.descending else '>'} ({marks})", [*params, *self.values]


class BadQuery(ValueError):
    """A filter, sort or cursor that cannot be read (HTTP 400): ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclasses.dataclass(frozen=True)
class QueueFilters:
    """Filters common to both queues. ``sources``/``urgencies``: values (any of); ``village_id``/``grid_id``;
    ``waiting_hours``: received at least this many hours before ``now``; ``imported``: ``live`` (default for
    the callback queue), ``imported`` or ``all``; ``q``: number or title contains."""

    sources: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    village_id: int | None = None
    grid_id: int | None = None
    waiting_hours: float | None = None
    imported: str = "all"
    q: str = ""


@dataclasses.dataclass
class QueuePage:
    """One page of a queue: ``rows`` (Cases), ``next_cursor`` (None on the last page), ``total`` (all rows
    matching the filters) and the sort used."""

    rows: list
    next_cursor: str | None
    total: int
    sort: str
    total_capped: bool = False  # the total was counted only up to ``count_cap`` ("10,000+")


#: Sorts of each queue: name → list of (expression alias, descending?). Every sort ends with the id.
#: Each sort runs in one direction throughout, so a page boundary is one row comparison (:class:`RowAfter`).
SORTS = {
    "intake": {
        "received_at": [("received_at", False)], "-received_at": [("received_at", True)],
        "urgency": [("urgency_rank", False), ("received_at", False)],
        "deadline": [("deadline_key", False)],
    },
    "callback": {
        "-resolved_at": [("resolved_at", True)], "resolved_at": [("resolved_at", False)],
        "received_at": [("received_at", False)], "urgency": [("urgency_rank", False), ("resolved_at", False)],
    },
}
DEFAULT_SORT = {"intake": "received_at", "callback": "-resolved_at"}


def _annotate(qs, keys):
    """Annotate only the sort expressions ``keys`` uses (an unused CASE costs a computation per row)."""
    aliases = {alias for alias, _desc in keys}
    extra = {}
    if "urgency_rank" in aliases:
        extra["urgency_rank"] = urgency_rank_expression()  # the indexed expression (case_waiting_urgency)
    if "deadline_key" in aliases:
        # The deadline a waiting case works against: respond, else resolve; none yet sorts last.
        extra["deadline_key"] = Coalesce(F("respond_due_at"), F("resolve_due_at"), Value(_FAR))
    return qs.annotate(**extra) if extra else qs


def _filtered(qs, filters: QueueFilters, now: dt.datetime):
    if filters.sources:
        qs = qs.filter(source__in=filters.sources)
    if filters.urgencies:
        qs = qs.filter(urgency__in=filters.urgencies)
    if filters.village_id:
        qs = qs.filter(village_id=filters.village_id)
    if filters.grid_id:
        qs = qs.filter(grid_id=filters.grid_id)
    if filters.waiting_hours:
        qs = qs.filter(received_at__lte=now - dt.timedelta(hours=filters.waiting_hours))
    if filters.imported == "live":
        qs = qs.filter(imported=False)
    elif filters.imported == "imported":
        qs = qs.filter(imported=True)
    text = (filters.q or "").strip()
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(title__icontains=text))
    return qs


def intake_cases(scope):
    """Cases waiting to be dispatched in ``scope``: received or returned."""
    return scope.cases(Case.objects.filter(status__in=TO_DISPATCH))


def callback_cases(scope):
    """Resolved cases in ``scope`` without a valid callback (none yet, or the complainant unreachable)."""
    return scope.cases(Case.objects.filter(status=Status.RESOLVED, satisfaction__in=["", Satisfaction.UNREACHABLE]))


def encode_cursor(values: list) -> str:
    """An opaque cursor for the row whose sort values are ``values`` (datetimes, ints)."""
    raw = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: list[str]) -> list:
    """The sort values of ``cursor``; ``kinds`` per value: ``dt`` or ``int``. Raises BadQuery."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        out = []
        for value, kind in zip(raw, kinds, strict=True):
            if kind == "dt":
                moment = dt.datetime.fromisoformat(value)
                if timezone.is_naive(moment):
                    raise ValueError
                out.append(moment)
            else:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError
                out.append(value)
        return out
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise BadQuery("cursor", _("翻页游标无效。")) from None


def _after(keys: list[tuple[str, bool]], values: list) -> Q:
    """Rows strictly after the row with ``values`` in the order ``keys`` (alias, descending), the id last."""
    q = Q(pk__in=[])
    for i, (alias, desc) in enumerate(keys):
        equal = {keys[j][0]: values[j] for j in range(i)}
        q |= Q(**equal, **{f"{alias}__{'lt' if desc else 'gt'}": values[i]})
    return q


def queue_page(kind: str, scope, *, filters: QueueFilters = QueueFilters(), sort: str | None = None,
               cursor: str | None = None, limit: int = PAGE_SIZE, now: dt.datetime | None = None,
               with_total: bool = True, count_cap: int | None = None) -> QueuePage:
    """One page of the ``intake`` or ``callback`` queue of ``scope``. ``sort``: a key of :data:`SORTS`
    (default :data:`DEFAULT_SORT`); ``cursor``: ``next_cursor`` of the previous page; ``limit`` ≤
    :data:`MAX_PAGE_SIZE`. Two queries (rows, and the total when ``with_total``; with ``count_cap`` the
    total is counted up to that many rows and ``total_capped`` says whether there are more). Raises BadQuery."""
    now = now or timezone.now()
    sort = sort or DEFAULT_SORT[kind]
    if sort not in SORTS[kind]:
        raise BadQuery("sort", _("排序方式无效：%(sort)s。") % {"sort": sort})
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    base = intake_cases(scope) if kind == "intake" else callback_cases(scope)
    filtered = _filtered(base, filters, now)
    keys = SORTS[kind][sort] + [("pk", SORTS[kind][sort][-1][1])]
    qs = _annotate(filtered, keys)
    if cursor:
        kinds = ["int" if alias in ("urgency_rank", "pk") else "dt" for alias, _desc in keys]
        values = decode_cursor(cursor, kinds)
        directions = {desc for _alias, desc in keys}
        if len(directions) == 1:
            qs_page = qs.filter(RowAfter([F(alias) for alias, _d in keys], values, descending=directions.pop()))
        else:
            qs_page = qs.filter(_after(keys, values))
    else:
        qs_page = qs
    order = [F(alias).desc() if desc else F(alias).asc() for alias, desc in keys]
    rows = list(qs_page.select_related("village", "grid", "category", "handler").order_by(*order)[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([getattr(rows[-1], alias) for alias, _d in keys]) if more and rows else None
    capped = False
    if not with_total:
        total = -1
    elif count_cap:
        # Counting stops after count_cap + 1 rows: a page needs "more than 10,000", not the exact figure.
        total = filtered.order_by()[:count_cap + 1].count()
        capped = total > count_cap
        total = min(total, count_cap)
    else:
        total = filtered.count()
    return QueuePage(rows=rows, next_cursor=next_cursor, total=total, sort=sort, total_capped=capped)


# --- Bulk actions ---------------------------------------------------------------------------------------

#: Bulk action → the PERMISSIONS entry it needs.
BULK_ACTIONS = {"dispatch": "dispatch", "close": "close", "callback_not_needed": "close",
                "callback_unreachable": "callback"}


@dataclasses.dataclass
class BulkResult:
    """What a bulk action did to one case: ``ok``, and ``status`` after it or ``code``/``detail`` why not."""

    id: int
    number: str | None
    ok: bool
    status: str | None = None
    code: str | None = None
    detail: str | None = None


def bulk_apply(action: str, case_ids, *, actor, scope, grid=None, note: str = "",
               now: dt.datetime | None = None) -> list[BulkResult]:
    """Apply ``action`` (a key of :data:`BULK_ACTIONS`) to each case of ``case_ids`` (≤ :data:`BULK_MAX`
    distinct ids, in the order given) for ``actor`` with ``scope``: each case its own service call,
    transaction and event. ``dispatch`` needs ``grid`` (a Grid); ``close`` and ``callback_not_needed`` close
    resolved cases (the latter marked 不需回访); ``callback_unreachable`` records an unreachable callback.
    A case outside the scope reads ``not_found``, one the role may not act on ``permission_denied``, one
    whose state refuses the transition its service's code. Raises ValidationError for a bad request as a
    whole (unknown action, no ids, too many, no grid)."""
    now = now or timezone.now()
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("批量操作无效。")})
    ids = list(dict.fromkeys(int(i) for i in case_ids))
    if not ids:
        raise ValidationError({"ids": _("请选择诉求。")})
    if len(ids) > BULK_MAX:
        raise ValidationError({"ids": _("一次最多处理%(n)s件。") % {"n": BULK_MAX}})
    if action == "dispatch" and grid is None:
        raise ValidationError({"grid": _("请选择微网格。")})
    found = {c.pk: c for c in scope.cases(Case.objects.select_related("grid")).filter(pk__in=ids)}
    results = []
    for pk in ids:
        case = found.get(pk)
        if case is None:
            results.append(BulkResult(pk, None, False, code="not_found", detail=_("找不到该诉求。")))
            continue
        if not rules.can(scope, BULK_ACTIONS[action], case):
            results.append(BulkResult(pk, case.number, False, code="permission_denied",
                                      detail=rules.denial_detail(BULK_ACTIONS[action])))
            continue
        try:
            if action == "dispatch":
                done = services.dispatch(case, actor=actor, grid=grid, note=note, now=now)
            elif action == "close":
                done = services.close(case, actor=actor, note=note, now=now)
            elif action == "callback_not_needed":
                done = services.close(case, actor=actor, note=note or _("不需回访"), callback_not_needed=True, now=now)
            else:
                done = services.callback(case, actor=actor, contacted=False, solved=None,
                                         satisfaction=Satisfaction.UNREACHABLE, note=note, now=now)
        except services.TransitionNotAllowed as exc:
            results.append(BulkResult(pk, case.number, False, code=exc.code, detail=str(exc.detail)))
        except ValidationError as exc:
            results.append(BulkResult(pk, case.number, False, code="invalid", detail=" ".join(exc.messages)))
        except PermissionDenied as exc:
            results.append(BulkResult(pk, case.number, False, code="permission_denied", detail=str(exc)))
        else:
            results.append(BulkResult(pk, case.number, True, status=done.status))
    return results


__all__ = ["BULK_ACTIONS", "BULK_MAX", "BadQuery", "BulkResult", "DEFAULT_SORT", "MAX_PAGE_SIZE", "PAGE_SIZE",
           "QueueFilters", "QueuePage", "SORTS", "bulk_apply", "callback_cases", "decode_cursor",
           "encode_cursor", "intake_cases", "queue_page"]
