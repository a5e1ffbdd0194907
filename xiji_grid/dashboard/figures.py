"""The figures of the supervisor dashboard (issue 6 §9, DESIGN §6): one period and scope, composed from the
apps below — ``cases.selectors`` (rates, overdue cases), the weekly visits' coverage and the liaison
stations' figures — so it sits above them. Also the source of the dashboard's downloads."""
from __future__ import annotations

import dataclasses
import datetime as dt

from django.utils.translation import gettext as _

from cases import selectors
from cases.models import Case
from cases.pages import display, stats_cases
from reps.coverage import missed_visits, visit_coverage
from reps.selectors import station_stats
from reps.visits import current_week

OVERDUE_ON_SCREEN = 50


@dataclasses.dataclass
class Dashboard:
    """What the dashboard shows for one period and scope; also the source of its downloads."""

    start: dt.date | None
    end: dt.date | None
    scope: str
    town: dict
    villages: list[dict]
    months: list[dict]
    categories: list[dict]
    overdue: list
    overdue_count: int


def build_dashboard(scope, now, start, end, stats_scope) -> Dashboard:
    """Compute every figure of the dashboard with ``cases.selectors`` over the user's scope."""
    cases = stats_cases(scope)
    kw = {"start": start, "end": end, "scope": stats_scope, "cases": cases, "now": now}
    town_rows = selectors.rates(group_by=None, **kw)
    town = town_rows[0] if town_rows else {}  # one town (Xiji); the model allows several
    villages = selectors.rates(group_by="village", **kw)
    villages.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["key"])))
    overdue_qs = selectors.overdue_cases(now=now, cases=scope.cases(Case.objects.all()), open_only=True)
    if stats_scope == "assessed":
        overdue_qs = overdue_qs.filter(excluded=False)
    overdue_qs = overdue_qs.select_related("village", "grid", "handler")
    return Dashboard(
        start=start, end=end, scope=stats_scope, town=town, villages=villages,
        months=selectors.rates(group_by="month", times=False, **kw), categories=selectors.rates(group_by="category", **kw),
        overdue=_with_escalations(list(overdue_qs[:OVERDUE_ON_SCREEN])), overdue_count=overdue_qs.count(),
    )


def month_series(rows: list[dict]) -> dict:
    """The monthly trend for the chart: every calendar month from the first to the last (months without
    cases are zeros), received / resolved / resolved on time and the on-time rate."""
    by_key = {r["key"]: r for r in rows}
    if not by_key:
        return {"months": [], "received": [], "resolved": [], "resolve_on_time": [], "resolve_on_time_rate": []}
    first = min(by_key)
    last = max(by_key)
    months = []
    year, month = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    get = lambda key, name: (by_key.get(key) or {}).get(name) or 0  # noqa: E731
    rate = lambda key: (by_key.get(key) or {}).get("resolve_on_time_rate")  # noqa: E731
    return {
        "months": months,
        "received": [get(m, "received") for m in months],
        "resolved": [get(m, "resolved") for m in months],
        "resolve_on_time": [get(m, "resolve_on_time") for m in months],
        "resolve_on_time_rate": [None if rate(m) is None else round(rate(m) * 100, 1) for m in months],
    }


def lateness_display(delta: dt.timedelta) -> str:
    """How late, for people: "3天4小时", "5小时12分" (English when the page is)."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s天%(h)s小时") % {"d": days, "h": hours}
    return _("%(h)s小时%(m)s分") % {"h": hours, "m": mins}


def coverage_and_stations(now, start, end, stats_scope) -> dict:
    """The town-wide sections: this ISO week's visit coverage and missed visits (``coverage``, ``missed``,
    ``week``) and the liaison stations' figures for the period (``stations``, rows of
    :func:`reps.selectors.station_stats` shown with :func:`cases.pages.display`)."""
    week = current_week(now)
    out = {"coverage": visit_coverage(week), "missed": list(missed_visits(week)), "week": week}
    out["stations"] = [display(row) for row in station_stats(
        start=selectors.day_start(start) if start else None,
        end=selectors.day_start(end + dt.timedelta(days=1)) if end else None,
        full_scope=stats_scope == "all")]
    return out


def _with_escalations(cases: list) -> list:
    """``cases`` with ``escalations`` set on each: how many 督办 events it has (manual and automatic), one
    query for the whole list (issue 16 §8)."""
    from django.db.models import Count

    from cases.choices import Action
    from cases.models import CaseEvent

    counts = dict(CaseEvent.objects.filter(case_id__in=[c.pk for c in cases], action=Action.ESCALATED)
                  .values_list("case_id").annotate(n=Count("id")).values_list("case_id", "n"))
    for case in cases:
        case.escalations = counts.get(case.pk, 0)
    return cases
