"""Statistics of cases (DESIGN §6): counts, on-time and the three rates, composite score, ranking, periods,
and the daily snapshots they are read from.

Definitions (every figure of a case is attributed to the Asia/Shanghai day of its ``received_at``):

* ``received`` cases; ``dispatched`` (``dispatched_at`` set), ``responded``, ``resolved`` (milestone set),
  ``closed`` (state ``closed``).
* ``overdue``: met a deadline late (``responded_at > respond_due_at`` or ``resolved_at > resolve_due_at``)
  or, still open, is past a deadline it has not met, at ``now``.
* ``respond_on_time`` = ``responded_at <= respond_due_at``; its rate's denominator is every case whose
  respond deadline is decided: responded (on time or late) or open, unresponded and past due at ``now``.
  Likewise for resolve. Derived from timestamps only (DESIGN §5).
* ``closure_rate`` (办结率) = resolved / dispatched.
* ``valid_callbacks`` (有效回访): callbacks that reached the complainant (satisfaction satisfied,
  basically satisfied or unsatisfied; ``unreachable`` is not valid).
  ``response_rate`` (响应率) = callbacks answering "contacted" / valid callbacks;
  ``resolution_rate`` (解决率) = callbacks answering "solved" / valid callbacks;
  ``satisfaction_rate`` (满意率) = (satisfied + w × basically satisfied) / valid callbacks,
  w = ``STATS_SATISFACTION_WEIGHT_BASIC`` (0.9).
* ``composite_score`` = Σ weight × rate over (response, resolution, satisfaction), weights
  ``STATS_WEIGHTS`` (10, 45, 45): points out of the sum of the weights (100). None without valid callbacks.
* ``satisfaction_lower_bound``: the lower bound of the Wilson score interval (95 %, z = 1.96) of the
  satisfaction rate over the valid callbacks (:func:`wilson_lower_bound`; Wilson 1927, as recommended for
  ranking by Evan Miller, "How not to sort by average rating", 2009). None without valid callbacks.
* ``rank``: competition ranking (1, 2, 2, 4) by ``satisfaction_lower_bound`` (ties broken by composite
  score) among the rows with at least ``STATS_MIN_VALID_CALLBACKS`` valid callbacks; None for the others.
  So 5 perfect callbacks (bound 0.5655) rank below 38 of 40 (0.95, bound 0.8350): a high rate on few
  callbacks is not proof of a high rate.
* A rate whose denominator is 0 is None ("no data"), never 0 and never an error.
* Handling times (:mod:`cases.durations`, issue 12 §5): ``<dispatch|respond|resolve>_<mean|median|p90>_seconds``
  — mean, median and 90th percentile (linear interpolation, PostgreSQL ``percentile_cont``) of the
  seconds from ``received_at`` to ``dispatched_at`` / ``responded_at`` / ``resolved_at`` over the group's
  cases that have the milestone; None without any. Always counted live (a median cannot be summed).

Snapshots: :class:`cases.models.DailyStat` holds the figures that do not depend on the reading time,
per day × village × grid × top-level category × source × handler × excluded. :func:`rates` reads them for
closed days (before today) whose cases have not changed since the last refresh, and counts live: today,
every "dirty" day (a case of that day changed after ``StatFillState.clean_until``), and the time-dependent
"open and past due" figures. So the result always equals a direct count over the cases; the snapshots only
make it cheaper. :func:`refresh_daily_stats` (Celery beat: hourly for today, nightly for a trailing window;
``manage.py rebuild_stats``) recomputes dirty days. Deleting cases or reorganising the category tree is
not detected: run ``rebuild_stats`` afterwards.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict

from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models import Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone

from grids.models import Cadre, Grid, Town, Village

from .boundary import late_q, met_q, open_past_q
from .choices import OPEN_STATES, CallbackSource, Satisfaction, Source, Status
from .durations import FIELDS as DURATION_FIELDS
from .durations import durations, durations_sql
from .models import Case, Category, DailyStat, StatFillState

GROUP_BYS = (None, "village", "grid", "category", "source", "handler", "callback_source", "month", "day", "week",
             "assessment_month")
#: Groupings the daily snapshots do not hold: always counted live.
LIVE_GROUPS = ("callback_source",)
TIME_GROUPS = ("month", "day", "week", "assessment_month")
PERIOD_KINDS = ("day", "week", "month", "assessment_month")
SCOPES = ("assessed", "all")
FILL_STATE = "daily"
#: Above this many dirty days a reading counts everything live (one scan) instead of mixing.
MAX_DIRTY_DAYS = 200

VALID_SATISFACTION = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.UNSATISFIED)

#: Figures stored in DailyStat (independent of the reading time).
STATIC_FIELDS = (
    "received", "dispatched", "responded", "resolved", "closed", "dispatch_met", "dispatch_on_time",
    "respond_met", "respond_on_time",
    "resolve_met", "resolve_on_time", "met_late", "valid_callbacks", "callback_contacted", "callback_solved",
    "satisfied", "basically_satisfied", "unsatisfied",
)
#: Figures always counted live over open cases, at ``now``.
DYNAMIC_FIELDS = ("dispatch_open_late", "respond_open_late", "resolve_open_late", "open_overdue")
#: How on-time verdicts and callbacks are counted (cases.rounds): per case (default, "ever late") or per round.
COUNTINGS = ("case", "round")


def _tz():
    return timezone.get_default_timezone()


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware datetime."""
    return timezone.localtime(moment, _tz()).date()


def day_start(day: dt.date) -> dt.datetime:
    """00:00 Asia/Shanghai of ``day`` as an aware UTC datetime (16:00 UTC of the day before)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=_tz()).astimezone(dt.UTC)


# --- Periods -----------------------------------------------------------------------------------------


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def assessment_month(day: dt.date, first_day: int | None = None) -> tuple[str, dt.date, dt.date]:
    """The assessment month containing ``day``: ``(name, first, last)`` (dates inclusive).

    With first day *f* (``STATS_ASSESSMENT_MONTH_FIRST_DAY``, Beijing practice 19) the month runs from the
    *f*-th to the (*f*−1)-th of the next month and is named after the month in which it ends:
    2025-01-19 … 2025-02-18 is ``"2025-02"``. With *f* = 1 it is the calendar month. *f* must be 1–28
    (ValueError otherwise).
    """
    f = settings.STATS_ASSESSMENT_MONTH_FIRST_DAY if first_day is None else first_day
    if not 1 <= f <= 28:
        raise ValueError("the assessment month's first day must be between 1 and 28")
    if f == 1:
        first = day.replace(day=1)
        name_month = first
    elif day.day >= f:
        first = day.replace(day=f)
        name_month = _add_months(first, 1)
    else:
        first = _add_months(day.replace(day=f), -1)
        name_month = day
    last = _add_months(first, 1) - dt.timedelta(days=1)
    return f"{name_month:%Y-%m}", first, last


def period_bounds(kind: str, day: dt.date, first_day: int | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The period of ``kind`` containing ``day`` as ``[start, end)``, aware UTC datetimes of Asia/Shanghai
    midnights. ``kind``: ``day``, ``week`` (ISO, Monday first), ``month`` (calendar) or
    ``assessment_month`` (:func:`assessment_month`, ``first_day`` default from settings). Raises ValueError.
    """
    if kind == "day":
        first, after = day, day + dt.timedelta(days=1)
    elif kind == "week":
        first = day - dt.timedelta(days=day.weekday())
        after = first + dt.timedelta(days=7)
    elif kind == "month":
        first = day.replace(day=1)
        after = _add_months(first, 1)
    elif kind == "assessment_month":
        _, first, last = assessment_month(day, first_day)
        after = last + dt.timedelta(days=1)
    else:
        raise ValueError(f"unknown period kind {kind!r}; one of {', '.join(PERIOD_KINDS)}")
    return day_start(first), day_start(after)


def _period_key(group_by: str, day: dt.date, first_day: int) -> tuple[str, str]:
    if group_by == "day":
        return day.isoformat(), day.isoformat()
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{day:%Y-%m}", f"{day:%Y-%m}"
    name, first, last = assessment_month(day, first_day)
    return name, f"{name}（{first:%m-%d}至{last:%m-%d}）"


# --- Aggregates --------------------------------------------------------------------------------------


def _verdicts(counting: str = "case") -> dict[str, Q]:
    """The on-time conditions of a case (:mod:`cases.boundary`): ``<deadline>_met`` (decided: a deadline and
    its milestone), ``<deadline>_on_time`` and ``late`` (any deadline met late). Per case (``counting="case"``)
    an earlier round's late verdict (:mod:`cases.rounds`) decides the case as late: it is on time only when
    no round was late. Per round, only the current round's columns (earlier rounds: :func:`_round_aggregates`).
    The dispatch deadline is the case's own, from receipt to the first dispatch, in either counting."""
    out = {
        "dispatch_met": Q(dispatched_at__isnull=False, dispatch_due_at__isnull=False),
        "dispatch_on_time": met_q("dispatched_at", "dispatch_due_at"),
        "respond_met": Q(responded_at__isnull=False, respond_due_at__isnull=False),
        "respond_on_time": met_q("responded_at", "respond_due_at"),
        "resolve_met": Q(resolved_at__isnull=False, resolve_due_at__isnull=False),
        "resolve_on_time": met_q("resolved_at", "resolve_due_at"),
        "late": (late_q("dispatched_at", "dispatch_due_at") | late_q("responded_at", "respond_due_at")
                 | late_q("resolved_at", "resolve_due_at")),
    }
    if counting == "case":
        for name in ("respond", "resolve"):
            earlier = Q(**{f"earlier_{name}_late": True})
            out[f"{name}_met"] |= earlier
            out[f"{name}_on_time"] &= ~earlier
            out["late"] |= earlier
    return out


def _static_aggregates(counting: str = "case") -> dict:
    verdicts = _verdicts(counting)
    return {
        "received": Count("pk"),
        "dispatched": Count("pk", filter=Q(dispatched_at__isnull=False)),
        "responded": Count("pk", filter=Q(responded_at__isnull=False)),
        "resolved": Count("pk", filter=Q(resolved_at__isnull=False)),
        "closed": Count("pk", filter=Q(status=Status.CLOSED)),
        **{name: Count("pk", filter=verdicts[name]) for name in (
            "dispatch_met", "dispatch_on_time", "respond_met", "respond_on_time", "resolve_met", "resolve_on_time")},
        "met_late": Count("pk", filter=verdicts["late"]),
        **_callback_aggregates(),
    }


def _callback_aggregates() -> dict:
    """The callback figures over rows with the callback columns (a Case, or a finished CaseRound)."""
    valid = Q(satisfaction__in=VALID_SATISFACTION)
    return {
        "valid_callbacks": Count("pk", filter=valid),
        "callback_contacted": Count("pk", filter=valid & Q(callback_contacted=True)),
        "callback_solved": Count("pk", filter=valid & Q(callback_solved=True)),
        "satisfied": Count("pk", filter=Q(satisfaction=Satisfaction.SATISFIED)),
        "basically_satisfied": Count("pk", filter=Q(satisfaction=Satisfaction.BASICALLY_SATISFIED)),
        "unsatisfied": Count("pk", filter=Q(satisfaction=Satisfaction.UNSATISFIED)),
    }


def _dynamic_aggregates(now: dt.datetime, counting: str = "case") -> dict:
    """Over open cases only (open cases have no ``resolved_at``): unmet deadlines past due at ``now``, each
    left out where the case is already decided late on that deadline (an earlier round, per case);
    ``open_overdue`` leaves out the cases already counted in ``met_late``."""
    respond_late = open_past_q("responded_at", "respond_due_at", now)
    resolve_late = open_past_q("resolved_at", "resolve_due_at", now)
    dispatch_late = open_past_q("dispatched_at", "dispatch_due_at", now)
    if counting == "case":
        respond_late &= Q(earlier_respond_late=False)
        resolve_late &= Q(earlier_resolve_late=False)
    open_past = (open_past_q("responded_at", "respond_due_at", now) | open_past_q("resolved_at", "resolve_due_at", now)
                 | dispatch_late)
    return {
        "dispatch_open_late": Count("pk", filter=dispatch_late),
        "respond_open_late": Count("pk", filter=respond_late),
        "resolve_open_late": Count("pk", filter=resolve_late),
        "open_overdue": Count("pk", filter=open_past & ~_verdicts(counting)["late"]),
    }


def _round_aggregates() -> dict:
    """The finished rounds' own figures (:class:`cases.models.CaseRound`), added per round
    (``counting="round"``): each round one verdict per deadline and its own valid callback."""
    return {
        "respond_met": Count("pk", filter=Q(respond_late__isnull=False)),
        "respond_on_time": Count("pk", filter=Q(respond_late=False)),
        "resolve_met": Count("pk", filter=Q(resolve_late__isnull=False)),
        "resolve_on_time": Count("pk", filter=Q(resolve_late=False)),
        "met_late": Count("pk", filter=Q(respond_late=True) | Q(resolve_late=True)),
        **_callback_aggregates(),
    }


def _top_category():
    return Coalesce("category__parent__parent_id", "category__parent_id", "category_id")


def _case_group(group_by, prefix: str = ""):
    """The group expression of ``group_by`` over cases, or over a model relating to them through ``prefix``
    (``"case__"`` for CaseRound)."""
    if group_by in TIME_GROUPS:
        return TruncDate(f"{prefix}received_at", tzinfo=_tz())
    if group_by == "category":
        return Coalesce(f"{prefix}category__parent__parent_id", f"{prefix}category__parent_id",
                        f"{prefix}category_id")
    if group_by == "callback_source" and prefix:
        return F("callback_source")  # a round's own callback
    return F(prefix + {
        None: "village__town_id", "village": "village_id", "grid": "grid_id", "source": "source",
        "handler": "handler_id", "callback_source": "callback_source",
    }[group_by])


def _stat_group(group_by):
    if group_by in TIME_GROUPS:
        return F("day")
    return {
        None: F("village__town_id"), "village": F("village_id"), "grid": F("grid_id"), "source": F("source"),
        "handler": F("handler_id"), "category": F("category_id"),
    }[group_by]


def _accumulate(totals: dict, queryset, group, aggregates: dict) -> None:
    named = {f"n_{name}": agg for name, agg in aggregates.items()}
    for row in queryset.order_by().values(g=group).annotate(**named):
        bucket = totals[row.pop("g")]
        for name, value in row.items():
            bucket[name[2:]] += value or 0


def _received_between(start: dt.date | None, end: dt.date | None) -> Q:
    q = Q()
    if start is not None:
        q &= Q(received_at__gte=day_start(start))
    if end is not None:
        q &= Q(received_at__lt=day_start(end + dt.timedelta(days=1)))
    return q


def _day_ranges(days) -> list[tuple[dt.date, dt.date]]:
    """Sorted days folded into inclusive runs of consecutive days."""
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


def _received_in_runs(runs) -> Q:
    q = Q(pk__in=[])
    for first, last in runs:
        q |= _received_between(first, last)
    return q


def dirty_days(clean_until: dt.datetime) -> set[dt.date]:
    """Received days (Asia/Shanghai) of the cases changed after ``clean_until`` (aware)."""
    return set(
        Case.objects.filter(updated_at__gt=clean_until).order_by()
        .annotate(d=TruncDate("received_at", tzinfo=_tz())).values_list("d", flat=True).distinct()
    )


def days_of_cases(ids) -> set[dt.date]:
    """Received days (Asia/Shanghai) of the cases with these primary keys."""
    ids = list(ids)
    days: set[dt.date] = set()
    for i in range(0, len(ids), 1000):
        days.update(Case.objects.filter(pk__in=ids[i:i + 1000]).order_by()
                    .annotate(d=TruncDate("received_at", tzinfo=_tz())).values_list("d", flat=True).distinct())
    return days


# --- Rates -------------------------------------------------------------------------------------------


#: z for a two-sided 95 % interval.
WILSON_Z = 1.96


def wilson_lower_bound(rate: float | None, n: int, z: float = WILSON_Z) -> float | None:
    """Lower bound of the Wilson score interval for a proportion (E. B. Wilson, "Probable inference, the
    law of succession, and statistical inference", JASA 22, 1927; its use for ranking: Evan Miller, "How
    not to sort by average rating", 2009).

    ``rate``: the observed proportion in 0..1 (may come from weighted successes, as the satisfaction rate
    does); ``n``: the number of trials (valid callbacks); ``z``: the normal quantile (1.96 → 95 %).
    Returns a float in 0..1, or None when ``rate`` is None or ``n`` is 0. E.g. 5 of 5 → 0.565509,
    38 of 40 → 0.834958.
    """
    if rate is None or not n:
        return None
    z2 = z * z
    centre = rate + z2 / (2 * n)
    margin = z * math.sqrt(max(rate * (1 - rate), 0.0) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else None


def _figures(c: Counter) -> dict:
    w_basic = float(settings.STATS_SATISFACTION_WEIGHT_BASIC)
    weights = tuple(float(w) for w in settings.STATS_WEIGHTS)
    valid = c["valid_callbacks"]
    dispatch_decided = c["dispatch_met"] + c["dispatch_open_late"]
    respond_decided = c["respond_met"] + c["respond_open_late"]
    resolve_decided = c["resolve_met"] + c["resolve_open_late"]
    out = {
        "received": c["received"], "dispatched": c["dispatched"], "responded": c["responded"],
        "resolved": c["resolved"], "closed": c["closed"], "overdue": c["met_late"] + c["open_overdue"],
        "dispatch_on_time": c["dispatch_on_time"], "dispatch_decided": dispatch_decided,
        "dispatch_on_time_rate": _ratio(c["dispatch_on_time"], dispatch_decided),
        "respond_on_time": c["respond_on_time"], "respond_decided": respond_decided,
        "resolve_on_time": c["resolve_on_time"], "resolve_decided": resolve_decided,
        "respond_on_time_rate": _ratio(c["respond_on_time"], respond_decided),
        "resolve_on_time_rate": _ratio(c["resolve_on_time"], resolve_decided),
        "closure_rate": _ratio(c["resolved"], c["dispatched"]),
        "valid_callbacks": valid, "callback_contacted": c["callback_contacted"],
        "callback_solved": c["callback_solved"], "satisfied": c["satisfied"],
        "basically_satisfied": c["basically_satisfied"], "unsatisfied": c["unsatisfied"],
        "response_rate": _ratio(c["callback_contacted"], valid),
        "resolution_rate": _ratio(c["callback_solved"], valid),
        "satisfaction_rate": _ratio(c["satisfied"] + w_basic * c["basically_satisfied"], valid),
    }
    out["satisfaction_lower_bound"] = wilson_lower_bound(out["satisfaction_rate"], valid)
    three = (out["response_rate"], out["resolution_rate"], out["satisfaction_rate"])
    out["composite_score"] = None if None in three else sum(w * r for w, r in zip(weights, three, strict=True))
    return out


def _labels(group_by, keys) -> dict:
    """Raw group values → (public key, label, sort key)."""
    keys = [k for k in keys if k is not None]
    out = {}
    if group_by is None:
        for town in Town.objects.filter(pk__in=keys):
            out[town.pk] = (town.code, town.name, town.code)
    elif group_by == "village":
        for v in Village.objects.filter(pk__in=keys):
            out[v.pk] = (v.code, v.short_name, v.code)
    elif group_by == "grid":
        for g in Grid.objects.filter(pk__in=keys).select_related("village"):
            out[g.pk] = (g.code, f"{g.village.short_name}·{g.name}", g.code)
    elif group_by == "category":
        for c in Category.objects.filter(pk__in=keys):
            out[c.pk] = (c.name, c.name, c.name)
    elif group_by == "source":
        order = list(Source.values)
        for value in keys:
            label = Source(value).label if value in Source.values else value
            out[value] = (value, str(label), f"{order.index(value) if value in order else 99:02d}")
    elif group_by == "handler":
        for cadre in Cadre.objects.filter(pk__in=keys):
            out[cadre.pk] = (cadre.pk, cadre.name, cadre.name)
    elif group_by == "callback_source":
        order = list(CallbackSource.values)
        for value in keys:
            if value == "":
                out[value] = (None, "无回访", "99")
            else:
                out[value] = (value, str(CallbackSource(value).label), f"{order.index(value):02d}")
    return out


_NONE_LABEL = {None: "全镇", "village": "未指定村", "grid": "未派网格", "category": "未分类", "source": "未知来源",
               "handler": "未指定承办人", "callback_source": "无回访"}


def rates(*, group_by: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
          scope: str = "assessed", cases=None, now: dt.datetime | None = None, counting: str = "case",
          times: bool = True) -> list[dict]:
    """The DESIGN §6 figures per group (definitions in the module docstring).

    ``group_by``: None (the town), ``village``, ``grid``, ``category`` (top level), ``source``,
    ``handler``, ``callback_source`` (who called back: ``local``, ``upstream``; cases without a callback
    in a row of their own, key None), ``day``, ``week`` (ISO), ``month`` (calendar) or ``assessment_month``.
    ``start``/``end``: inclusive Asia/Shanghai dates bounding ``received_at``. ``scope``: ``assessed``
    (``excluded=False``) or ``all`` (全口径). ``cases``: an optional pre-scoped Case queryset (then
    everything is counted live from it). ``now`` (aware, default the current time): the reading time for
    "past due". ``counting`` (:mod:`cases.rounds`): ``case`` (default, the stricter) counts each case once,
    late on a deadline if any of its rounds was; ``round`` counts every round of handling — each finished
    round's respond and resolve verdicts and its valid callback besides the current round's (counted live).
    ``times=False`` leaves the handling times out (their fields None): they are always counted live over the
    cases (a median cannot be summed), the dearest part of a reading, so callers that show none skip them.

    Returns a list of dicts ordered by key (codes, names, Source order, time), each with ``key``,
    ``label``, ``received``, ``dispatched``, ``responded``, ``resolved``, ``closed``, ``overdue``,
    ``respond_on_time``, ``resolve_on_time``, ``respond_on_time_rate``, ``resolve_on_time_rate``,
    ``closure_rate``, ``dispatch_on_time``, ``dispatch_decided``, ``dispatch_on_time_rate``, ``valid_callbacks``, ``response_rate``, ``resolution_rate``, ``satisfaction_rate``,
    ``satisfaction_lower_bound``, ``composite_score``, ``rank``, the nine handling times ``<dispatch|respond|resolve>_<mean|median|p90>_seconds``
    (float seconds or None) — plus the denominators ``respond_decided``, ``resolve_decided`` and the
    callback answers ``callback_contacted``, ``callback_solved``, ``satisfied``, ``basically_satisfied``,
    ``unsatisfied``. Rates are floats in 0..1 or None ("no data"); the score is in points (0..Σ weights).
    Only groups with cases appear, except that ``group_by=None`` always returns the town row(s).
    Raises ValueError for an unknown ``group_by``, ``scope`` or ``counting``, or ``start`` after ``end``.
    """
    if group_by not in GROUP_BYS:
        raise ValueError(f"unknown group_by {group_by!r}")
    if counting not in COUNTINGS:
        raise ValueError(f"unknown counting {counting!r}; one of {', '.join(COUNTINGS)}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; one of {', '.join(SCOPES)}")
    if start is not None and end is not None and start > end:
        raise ValueError("start is after end")
    now = now or timezone.now()
    today = local_date(now)
    base = cases if cases is not None else Case.objects.all()
    if scope == "assessed":
        base = base.filter(excluded=False)
    base = base.filter(_received_between(start, end))
    totals: dict = defaultdict(Counter)
    case_group = _case_group(group_by)
    _accumulate(totals, base.filter(status__in=OPEN_STATES), case_group, _dynamic_aggregates(now, counting))
    live = base
    if cases is None and group_by not in LIVE_GROUPS and counting == "case":
        live = _add_snapshots(totals, base, group_by=group_by, start=start, end=end, scope=scope, today=today)
    _accumulate(totals, live, case_group, _static_aggregates(counting))
    if counting == "round":
        from .models import CaseRound

        _accumulate(totals, CaseRound.objects.filter(case__in=base.values("pk")), _case_group(group_by, "case__"),
                    _round_aggregates())
    return _rows(group_by, totals, _durations(base, group_by, case_group) if times else None)


def _durations(base, group_by, case_group) -> dict:
    """Handling times (:mod:`cases.durations`) per group, counted live over ``base``. Time groups are
    bucketed by their period key: in SQL on PostgreSQL (:func:`_period_sql`: the period's first day, named
    in Python afterwards), elsewhere per received day in Python."""
    if group_by in TIME_GROUPS:
        first_day = settings.STATS_ASSESSMENT_MONTH_FIRST_DAY
        if connections[base.db].vendor == "postgresql":
            expression, name = _period_sql(group_by, first_day)
            return {name(first): figures for first, figures in durations_sql(base, expression).items()}
        return durations(base, case_group, key=lambda day: _period_key(group_by, day, first_day)[0])
    return durations(base, case_group)


def _period_sql(group_by: str, first_day: int):
    """``(expression, name)``: an SQL expression of a case's period of ``group_by`` (``day``, ``week``,
    ``month``, ``assessment_month``) as a date, and the function naming that date as :func:`_period_key`
    does. An assessment month starting on day *f* is the calendar month of ``received_at − (f − 1)`` days,
    named after the month that follows (2025-01-19 − 18 d = 2025-01-01 → ``2025-02``); *f* = 1 is the
    calendar month. Asia/Shanghai has no daylight saving, so shifting the instant shifts the local date."""
    tz = _tz()
    if group_by == "day":
        return TruncDate("received_at", tzinfo=tz), lambda day: day.isoformat()
    if group_by == "week":
        return (TruncWeek("received_at", tzinfo=tz, output_field=models.DateField()),
                lambda monday: _period_key("week", monday, first_day)[0])
    if group_by == "month" or first_day == 1:
        return (TruncMonth("received_at", tzinfo=tz, output_field=models.DateField()),
                lambda first: f"{first:%Y-%m}")
    shifted = ExpressionWrapper(F("received_at") - Value(dt.timedelta(days=first_day - 1)),
                                output_field=DateTimeField())
    return (TruncMonth(shifted, tzinfo=tz, output_field=models.DateField()),
            lambda first: f"{_add_months(first, 1):%Y-%m}")


def _add_snapshots(totals, base, *, group_by, start, end, scope, today):
    """Add the stored figures of clean closed days to ``totals``; return the queryset still to count live
    (or ``base`` itself when the snapshots cannot be used)."""
    state = StatFillState.objects.filter(name=FILL_STATE).first()
    if state is None or state.clean_until is None:
        return base
    last_closed = today - dt.timedelta(days=1)
    snap_end = last_closed if end is None else min(end, last_closed)
    dirty = {d for d in dirty_days(state.clean_until)
             if (start is None or d >= start) and d <= snap_end}
    if len(dirty) > MAX_DIRTY_DAYS:
        return base
    if start is None or start <= snap_end:
        stats = DailyStat.objects.filter(day__lte=snap_end)
        if start is not None:
            stats = stats.filter(day__gte=start)
        if scope == "assessed":
            stats = stats.filter(excluded=False)
        if dirty:
            stats = stats.exclude(day__in=sorted(dirty))
        _accumulate(totals, stats, _stat_group(group_by), {name: Sum(name) for name in STATIC_FIELDS})
    live = Q(received_at__gte=day_start(snap_end + dt.timedelta(days=1)))
    if dirty:
        live |= _received_in_runs(_day_ranges(dirty))
    return base.filter(live)


def _rows(group_by, totals: dict, times: dict | None = None) -> list[dict]:
    times = times or {}
    first_day = settings.STATS_ASSESSMENT_MONTH_FIRST_DAY
    if group_by in TIME_GROUPS:
        folded: dict = defaultdict(Counter)
        labels = {}
        for day, counts in totals.items():
            key, label = _period_key(group_by, day, first_day)
            folded[key].update(counts)
            labels[key] = (key, label, key)
        totals = folded
    else:
        if group_by is None and not totals:  # no case at all: the town(s) with zeros, "no data"
            for town in Town.objects.all():
                totals.setdefault(town.pk, Counter())
        labels = _labels(group_by, totals.keys())
    rows = []
    for raw, counts in totals.items():
        key, label, sort = labels.get(raw, (raw, _NONE_LABEL.get(group_by, "—"), "\uffff"))
        if raw is None:
            key, label, sort = None, _NONE_LABEL.get(group_by, "—"), "\uffff"
        timing = times.get(key if group_by in TIME_GROUPS else raw) or dict.fromkeys(DURATION_FIELDS)
        rows.append((str(sort), {"key": key, "label": label, **_figures(counts), **timing}))
    rows.sort(key=lambda item: item[0])
    out = [row for _, row in rows]
    _rank(out)
    return out


def _rank(rows: list[dict]) -> None:
    minimum = settings.STATS_MIN_VALID_CALLBACKS
    eligible = [r for r in rows if r["composite_score"] is not None and r["valid_callbacks"] >= minimum]
    eligible.sort(key=lambda r: (-r["satisfaction_lower_bound"], -r["composite_score"]))
    for row in rows:
        row["rank"] = None
    previous, rank = None, 0
    for position, row in enumerate(eligible, start=1):
        score = (round(row["satisfaction_lower_bound"], 9), round(row["composite_score"], 9))
        if score != previous:
            rank, previous = position, score
        row["rank"] = rank


# --- Overdue list ------------------------------------------------------------------------------------


def overdue_cases(*, now: dt.datetime, cases=None, open_only: bool = False):
    """Overdue cases (DESIGN §6: open past a deadline they have not met, or met one late — in any round,
    :mod:`cases.rounds`), annotated with ``lateness`` (timedelta: the largest of now − missed deadline for
    open cases, met − deadline for late milestones, and an earlier round's lateness) and ordered most late
    first, then by received time and id.

    ``now``: aware reading time. ``cases``: optional pre-scoped Case queryset. ``open_only``: only cases
    still open and past due in their current round (the supervisor's action list). Returns a Case queryset.
    """
    qs = cases if cases is not None else Case.objects.all()
    open_ = Q(status__in=OPEN_STATES)
    dispatch_open = open_ & open_past_q("dispatched_at", "dispatch_due_at", now)
    respond_open = open_ & open_past_q("responded_at", "respond_due_at", now)
    resolve_open = open_ & open_past_q("resolved_at", "resolve_due_at", now)
    dispatch_late = late_q("dispatched_at", "dispatch_due_at")
    respond_late = late_q("responded_at", "respond_due_at")
    resolve_late = late_q("resolved_at", "resolve_due_at")
    condition = dispatch_open | respond_open | resolve_open
    if not open_only:
        condition |= dispatch_late | respond_late | resolve_late | Q(earlier_respond_late=True) \
            | Q(earlier_resolve_late=True)
    zero = Value(dt.timedelta(0), output_field=DurationField())
    at_now = Value(now, output_field=DateTimeField())

    def late(cond, later, due):
        return models.Case(When(cond, then=ExpressionWrapper(later - F(due), output_field=DurationField())), default=zero,
                     output_field=DurationField())

    parts = [late(dispatch_open, at_now, "dispatch_due_at"), late(respond_open, at_now, "respond_due_at"),
             late(resolve_open, at_now, "resolve_due_at"), late(dispatch_late, F("dispatched_at"), "dispatch_due_at"),
             late(respond_late, F("responded_at"), "respond_due_at"),
             late(resolve_late, F("resolved_at"), "resolve_due_at")]
    if not open_only:
        parts.append(Coalesce(F("earlier_lateness"), zero))
    return qs.filter(condition).annotate(lateness=Greatest(*parts)).order_by("-lateness", "received_at", "id")


# --- Snapshots ---------------------------------------------------------------------------------------


#: DailyStat's grain columns, in the order :func:`_insert_rows` selects them.
_GRAIN = ("day", "village_id", "grid_id", "category_id", "source", "handler_id", "excluded")


def _insert_rows(queryset) -> int:
    """Aggregate ``queryset`` (cases) into DailyStat rows with one ``INSERT … SELECT … GROUP BY`` statement:
    the rows never pass through Python, so memory stays flat whatever the number of cases (issue 17 §3).
    The SELECT is the ORM's own (the aggregates of :func:`_static_aggregates`, the one definition the live
    readings use too). Returns the number of rows written."""
    grouped = queryset.order_by().values(
        g_day=TruncDate("received_at", tzinfo=_tz()), g_village=F("village_id"), g_grid=F("grid_id"),
        g_category=_top_category(), g_source=F("source"), g_handler=F("handler_id"), g_excluded=F("excluded"),
    ).annotate(**{f"n_{name}": agg for name, agg in _static_aggregates().items()})
    grouped = grouped.values_list("g_day", "g_village", "g_grid", "g_category", "g_source", "g_handler",
                                  "g_excluded", *(f"n_{name}" for name in STATIC_FIELDS))
    using = router.db_for_write(DailyStat)  # read and write on the primary (never a statistics replica)
    select, params = grouped.query.get_compiler(using=using).as_sql()
    ops = connections[using].ops
    table = ops.quote_name(DailyStat._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in (*_GRAIN, *STATIC_FIELDS))
    with connections[using].cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {select}", params)
        return cursor.rowcount


def _compute_rows(queryset) -> list[DailyStat]:
    """The DailyStat rows of ``queryset`` in memory (unsaved): what :func:`_insert_rows` writes, for tests
    and small checks."""
    grouped = queryset.order_by().values(
        g_day=TruncDate("received_at", tzinfo=_tz()), g_village=F("village_id"), g_grid=F("grid_id"),
        g_category=_top_category(), g_source=F("source"), g_handler=F("handler_id"), g_excluded=F("excluded"),
    ).annotate(**{f"n_{name}": agg for name, agg in _static_aggregates().items()})
    return [
        DailyStat(day=r["g_day"], village_id=r["g_village"], grid_id=r["g_grid"], category_id=r["g_category"],
                  source=r["g_source"], handler_id=r["g_handler"], excluded=r["g_excluded"],
                  **{name: r[f"n_{name}"] for name in STATIC_FIELDS})
        for r in grouped
    ]


def refresh_daily_stats(*, days=(), since: dt.date | None = None, full: bool = False,
                        now: dt.datetime | None = None) -> dict:
    """Recompute the stored daily statistics; returns ``{"full", "days", "rows", "clean_until"}`` (days and
    rows written).

    Always recomputes every dirty day (a case of it changed since the last refresh), plus ``days``
    (iterable of dates), plus every day from ``since`` on; ``full`` (or a first run) replaces all rows.
    Then ``StatFillState.clean_until`` becomes ``now − STATS_SNAPSHOT_MARGIN_SECONDS``: the margin covers
    transactions that set ``updated_at`` before this refresh read but committed after it. ``now`` must be
    the current time (default); it is a parameter only for tests that pin the clock. Runs in one
    transaction holding the fill-state row, so concurrent refreshes queue. Idempotent.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state, _ = StatFillState.objects.select_for_update().get_or_create(name=FILL_STATE)
        full = full or state.clean_until is None
        written = 0
        touched = Q()  # the stored days rewritten
        if full:
            DailyStat.objects.all().delete()
            for first, last in _year_runs():  # one statement per year: short statements, flat memory
                written += _insert_rows(Case.objects.filter(_received_between(first, last)))
        else:
            target = set(days) | dirty_days(state.clean_until)
            if since is not None:
                target = {d for d in target if d < since}
            runs = _day_ranges(target)
            if since is not None:
                runs.append((since, None))
            for i in range(0, len(runs), 50):
                chunk = runs[i:i + 50]
                stored = Q(pk__in=[])
                received = Q(pk__in=[])
                for first, last in chunk:
                    stored |= Q(day__gte=first) & (Q(day__lte=last) if last else Q())
                    received |= _received_between(first, last)
                DailyStat.objects.filter(stored).delete()
                written += _insert_rows(Case.objects.filter(received))
            touched = Q(pk__in=[])
            for first, last in runs:
                touched |= Q(day__gte=first) & (Q(day__lte=last) if last else Q())
        state.clean_until = now - dt.timedelta(seconds=settings.STATS_SNAPSHOT_MARGIN_SECONDS)
        state.refreshed_at = now
        state.save()
    days = DailyStat.objects.filter(touched).order_by().values("day").distinct().count() if written else 0
    return {"full": full, "days": days, "rows": written, "clean_until": state.clean_until.isoformat()}


def _year_runs() -> list[tuple[dt.date | None, dt.date | None]]:
    """The received years of the cases as inclusive ``(first, last)`` date runs (Asia/Shanghai), the first
    and last open-ended so nothing falls outside; ``[(None, None)]`` without cases."""
    bounds = Case.objects.aggregate(first=models.Min("received_at"), last=models.Max("received_at"))
    if bounds["first"] is None:
        return [(None, None)]
    years = range(local_date(bounds["first"]).year, local_date(bounds["last"]).year + 1)
    return [(None if y == years[0] else dt.date(y, 1, 1), None if y == years[-1] else dt.date(y, 12, 31))
            for y in years]


__all__ = [
    "GROUP_BYS", "PERIOD_KINDS", "SCOPES", "assessment_month", "day_start", "days_of_cases", "dirty_days",
    "local_date", "overdue_cases", "period_bounds", "rates", "refresh_daily_stats", "wilson_lower_bound",
]
