"""The supervisor dashboard's pages (issue 6 §9): the dashboard for a period and scope, and one village's
micro-grids. Figures come from :mod:`.figures`; the downloads are in :mod:`.exports`."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import reverse

from cases import maps, rules, selectors
from cases.choices import OPEN_STATES, HotspotStatus
from cases.heartbeat import engine_status
from cases.models import Case, Hotspot
from cases.pages import display, page, period_from_request, presets
from cases.text.topics import RAISE_ROLES as HOTSPOT_PAGE_ROLES
from cases.text.topics import hotspots_in_scope
from grids.choices import Role
from grids.models import Grid, Village
from grids.scope import local_today, request_now, request_scope

from .figures import build_dashboard, coverage_and_stations, lateness_display, month_series

#: Roles that see the dashboard (a village leader: own village's figures).
DASHBOARD_ROLES = (Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.VILLAGE_LEADER)


def top_hotspots(scope, limit: int = 5) -> list:
    """The ``limit`` hottest hotspots in ``scope`` that are still found and not cleared, villages loaded."""
    qs = (Hotspot.objects.filter(active=True).exclude(status=HotspotStatus.CLEARED)
          .select_related("category").prefetch_related("villages").order_by("-heat", "id"))
    return list(hotspots_in_scope(scope, qs).distinct()[:limit])


@login_required
def dashboard(request):
    """The supervisor's dashboard for a period and scope (assessed / all, DESIGN §6): the three rates,
    closure and on-time rates by village with the ranking, the overdue list with escalate, the monthly
    trend and the categories as charts (data embedded as JSON), this week's visit coverage and the
    liaison stations' figures. Every figure is ``cases.selectors`` over the user's scope."""
    scope, now = request_scope(request), request_now(request)
    if not scope.has(*DASHBOARD_ROLES):
        raise PermissionDenied
    form, start, end, stats_scope, moved = period_from_request(request, scope)
    board = build_dashboard(scope, now, start, end, stats_scope)
    trend = month_series(board.months)
    category_chart = {"labels": [r["label"] for r in board.categories],
                      "received": [r["received"] for r in board.categories],
                      "resolved": [r["resolved"] for r in board.categories]}
    village_ids = dict(Village.objects.values_list("code", "pk"))
    query = request.GET.copy()
    query["start"] = start.isoformat() if start else ""
    query["end"] = end.isoformat() if end else ""
    query["scope"] = stats_scope
    for case in board.overdue:
        case.lateness_display = lateness_display(case.lateness)
    encoded = query.urlencode()
    context = {
        "form": form, "board": board, "trend": trend, "category_chart": category_chart, "town": display(board.town),
        "village_rows": [
            (reverse("web:dashboard-village", args=[village_ids[r["key"]]]) + "?" + encoded
             if r["key"] in village_ids else None, display(r))
            for r in board.villages],
        "can_escalate": scope.has(*rules.PERMISSIONS["escalate"]),
        "presets": [(label, s.isoformat() if s else "", e.isoformat() if e else "")
                    for label, s, e in presets(local_today(now))],
        "query": encoded, "here": request.get_full_path(), "period_moved": moved,
        "engine": engine_status(now),  # "last sweep N s ago" (cases.heartbeat)
        # the map (issue 14): open cases in scope (overdue ones red) and the village points
        "map": maps.map_context(cases_query="&".join(f"status={s}" for s in OPEN_STATES)),
        # the hottest current hotspots (高频难点, issue 11) in scope, with their villages
        "hotspots": top_hotspots(scope), "hotspot_pages": bool(scope.roles & HOTSPOT_PAGE_ROLES),
    }
    if scope.town_wide:
        context.update(coverage_and_stations(now, start, end, stats_scope))
    # A period the form refuses (a malformed or far-off date) answers 400 with the form's reason shown.
    return page(request, "dashboard/dashboard.html", context, status=400 if form.errors else 200)


@login_required
def dashboard_village(request, pk: int):
    """Drill-down: one village's micro-grids with their figures for the period and scope, each linking to
    its cases."""
    scope, now = request_scope(request), request_now(request)
    village = get_object_or_404(scope.villages(Village.objects.all()), pk=pk)
    form, start, end, stats_scope, _moved = period_from_request(request, scope)
    cases = scope.cases(Case.objects.filter(village=village))
    rows = selectors.rates(group_by="grid", start=start, end=end, scope=stats_scope, cases=cases, now=now)
    grid_ids = dict(Grid.objects.filter(village=village).values_list("code", "pk"))
    query = request.GET.copy()
    query["start"] = start.isoformat() if start else ""
    query["end"] = end.isoformat() if end else ""
    query["scope"] = stats_scope
    encoded = query.urlencode()
    rows = [(f"{reverse('web:case-list')}?grid={grid_ids[r['key']]}&{encoded}" if r["key"] in grid_ids else None,
             display(r)) for r in rows]
    return page(request, "dashboard/village.html", {
        "village": village, "form": form, "rows": rows, "query": encoded,
        "query_with_village": f"{encoded}&village={village.pk}",
        "start": start, "end": end, "stats_scope": stats_scope,
    })
