"""Case lists (issue 6 §6): the case list in scope with its filters (the intake queues: ``intake.py``)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q

from grids.models import Grid, Village
from grids.scope import request_scope

from ..choices import OPEN_STATES, Status
from ..models import Case
from ..pages import date_or_none, int_or_none, page
from ..selectors import day_start

LIST_PAGE = 50


@login_required
def case_list(request):
    """Cases in scope, newest first, filtered by status, village, grid, text, period (received,
    Asia/Shanghai dates) and assessment scope: the deputy's "my cases" and the dashboard's drill-down."""
    scope = request_scope(request)
    qs = scope.cases(Case.objects.select_related("village", "grid", "category"))
    params = request.GET
    statuses = [s for s in params.getlist("status") if s in Status.values]
    if statuses:
        qs = qs.filter(status__in=statuses)
    if params.get("open"):
        qs = qs.filter(status__in=OPEN_STATES)
    village = int_or_none(params.get("village"))
    grid = int_or_none(params.get("grid"))
    if village:
        qs = qs.filter(village_id=village)
    if grid:
        qs = qs.filter(grid_id=grid)
    start, end = date_or_none(params.get("start")), date_or_none(params.get("end"))
    if start:
        qs = qs.filter(received_at__gte=day_start(start))
    if end:
        qs = qs.filter(received_at__lt=day_start(end + dt.timedelta(days=1)))
    if params.get("scope", "all") == "assessed":
        qs = qs.filter(excluded=False)
    text = (params.get("q") or "").strip()
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(title__icontains=text) | Q(external_ref__icontains=text))
    paginator = Paginator(qs.order_by("-received_at", "-pk"), LIST_PAGE)
    page_obj = paginator.get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    return page(request, "cases/case_list.html", {
        "page_obj": page_obj, "statuses": Status.choices, "chosen": statuses, "q": text,
        "grid": Grid.objects.select_related("village").filter(pk=grid).first() if grid else None,
        "village": Village.objects.filter(pk=village).first() if village else None,
        "start": start, "end": end, "query": query.urlencode(),
    })
