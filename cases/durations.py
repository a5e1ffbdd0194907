"""Handling-time figures (issue 12 §5): per group, the mean, median and 90th percentile of the time from
``received_at`` to each stored milestone — dispatch (``dispatched_at``), respond (``responded_at``) and
resolve (``resolved_at``) — in seconds. Never from ``updated_at − created_at``: only the milestone columns
the lifecycle services stamp. A case without the milestone does not count in that figure.

Percentiles interpolate linearly between the closest ranks, as PostgreSQL's ``percentile_cont`` does:
for sorted values x₀ … xₙ₋₁ and fraction q, position h = (n − 1)·q, result x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋₊₁ − x⌊h⌋).
Worked example: 600, 1200, 1800, 3600, 7200 s → mean 2880, median 1800, p90 3600 + 0.6 × 3600 = 5760.
On PostgreSQL the figures are aggregated in SQL (``AVG`` and ``percentile_cont … WITHIN GROUP``); on other
databases (SQLite) in Python with :func:`percentile`; a test holds both to the same figures.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

from django.db import connections
from django.db.models import Aggregate, Avg, DurationField, ExpressionWrapper, F, FloatField
from django.db.models.functions import Extract

#: (name, milestone field): the figures are ``<name>_<stat>_seconds``.
MILESTONES = (("dispatch", "dispatched_at"), ("respond", "responded_at"), ("resolve", "resolved_at"))
STATS = (("mean", None), ("median", 0.5), ("p90", 0.9))
FIELDS = tuple(f"{name}_{stat}_seconds" for name, _field in MILESTONES for stat, _q in STATS)


class PercentileCont(Aggregate):
    """PostgreSQL ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``: the continuous
    (linearly interpolated) percentile; NULLs are ignored."""

    function = "percentile_cont"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must lie in 0..1")
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``values`` (any order) by linear interpolation between closest ranks,
    equal to PostgreSQL's ``percentile_cont(q)``. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def summarise(values: list[float]) -> dict[str, float | None]:
    """``{"mean", "median", "p90"}`` of ``values`` (seconds); None each for no values."""
    if not values:
        return {stat: None for stat, _q in STATS}
    return {stat: (sum(values) / len(values) if q is None else percentile(values, q)) for stat, q in STATS}


def _empty() -> dict[str, float | None]:
    return dict.fromkeys(FIELDS)


def _seconds(field: str):
    return Extract(ExpressionWrapper(F(field) - F("received_at"), output_field=DurationField()), "epoch")


def durations_sql(queryset, group) -> dict:
    """PostgreSQL: ``{group value: {field: seconds or None}}`` over ``queryset`` grouped by the expression
    ``group``."""
    aggregates = {}
    for name, field in MILESTONES:
        for stat, q in STATS:
            seconds = _seconds(field)
            aggregates[f"{name}_{stat}_seconds"] = Avg(seconds) if q is None else PercentileCont(seconds, q)
    out = {}
    for row in queryset.order_by().values(g=group).annotate(**aggregates):
        key = row.pop("g")
        out[key] = {name: (float(value) if value is not None else None) for name, value in row.items()}
    return out


def durations_python(queryset, group, *, key: Callable | None = None) -> dict:
    """Any database: the same figures as :func:`durations_sql`, read as rows and summarised in Python.
    ``key`` (optional) maps each group value to the bucket it belongs to (e.g. a day to its month)."""
    fields = [field for _name, field in MILESTONES]
    buckets: dict = defaultdict(lambda: defaultdict(list))
    rows = queryset.order_by().values_list(group, "received_at", *fields)
    for g, received, *stamps in rows.iterator(chunk_size=5000):
        bucket = buckets[key(g) if key else g]
        for (name, _field), stamp in zip(MILESTONES, stamps, strict=True):
            if stamp is not None and received is not None:
                bucket[name].append((stamp - received).total_seconds())
    out = {}
    for g, lists in buckets.items():
        figures = _empty()
        for name, _field in MILESTONES:
            for stat, value in summarise(lists.get(name, [])).items():
                figures[f"{name}_{stat}_seconds"] = value
        out[g] = figures
    return out


def durations(queryset, group, *, key: Callable | None = None) -> dict:
    """``{bucket: {"<dispatch|respond|resolve>_<mean|median|p90>_seconds": float or None}}`` over the Case
    ``queryset`` grouped by the expression ``group`` (an F or another expression on Case). In SQL on
    PostgreSQL unless ``key`` asks for buckets SQL does not know; else in Python."""
    if key is None and connections[queryset.db].vendor == "postgresql":
        return durations_sql(queryset, group)
    return durations_python(queryset, group, key=key)


__all__ = ["FIELDS", "MILESTONES", "PercentileCont", "durations", "durations_python", "durations_sql",
           "percentile", "summarise"]
