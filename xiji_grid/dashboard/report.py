"""The printable monthly three-rate report (月度三率通报, issue 16 build 7): one calendar month (or one
assessment month, 19th–18th) on A4, in Chinese — the town's figures and every village ranked — from the same
``cases.selectors.rates`` as the dashboard, over the user's scope."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from cases import selectors
from cases.pages import display, page, stats_cases
from grids.scope import local_today, request_now, request_scope

from .views import DASHBOARD_ROLES


def month_bounds(text: str | None, *, today: dt.date, assessment: bool) -> tuple[str, dt.date, dt.date]:
    """``(name, first, last)`` of the month ``text`` (``YYYY-MM``; default: the last complete month before
    ``today``): a calendar month, or with ``assessment`` the assessment month named after the month it ends
    in (``cases.selectors.assessment_month``)."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        anchor = dt.date(year, month, 1)
    except ValueError:
        anchor = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if assessment:
        last_day = (anchor.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return selectors.assessment_month(last_day.replace(day=min(18, last_day.day)))
    last = (anchor.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return f"{anchor:%Y-%m}", anchor, last


@login_required
def monthly_report(request):
    """``/dashboard/report/?month=YYYY-MM&kind=calendar|assessment&scope=assessed|all``: the month's three
    rates, closure and on-time rates for the town and each village (ranked), for print (A4, print CSS)."""
    scope, now = request_scope(request), request_now(request)
    if not scope.has(*DASHBOARD_ROLES):
        raise PermissionDenied
    assessment = request.GET.get("kind") == "assessment"
    stats_scope = "all" if request.GET.get("scope") == "all" else "assessed"
    name, first, last = month_bounds(request.GET.get("month"), today=local_today(now), assessment=assessment)
    kw = {"start": first, "end": last, "scope": stats_scope, "cases": stats_cases(scope), "now": now}
    town = (selectors.rates(group_by=None, **kw) or [{}])[0]
    villages = selectors.rates(group_by="village", **kw)
    villages.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["key"])))
    return page(request, "dashboard/report.html", {
        "name": name, "first": first, "last": last, "assessment": assessment, "stats_scope": stats_scope,
        "town": display(town), "villages": [display(r) for r in villages], "printed_at": now,
    })
