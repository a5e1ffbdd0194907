"""Case lists (issue 6 §6, §7): the case list in scope with its filters, and the dispatcher's intake queue."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Q

from grids.choices import Role
from grids.models import Grid, Village
from grids.scope import request_scope

from ..choices import OPEN_STATES, Satisfaction, Status
from ..models import Case
from ..pages import date_or_none, int_or_none, page
from ..selectors import day_start

INTAKE_LIMIT = 200
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


@login_required
def intake(request):
    """The dispatcher's queue: cases received or returned (to dispatch), oldest first (the first
    :data:`INTAKE_LIMIT`), and resolved cases waiting for their callback (回访), newest resolved first in pages
    of :data:`LIST_PAGE` (``?call_page=N``; a page out of range shows the last). A fixed number of
    queries, whatever the queue's length."""
    scope = request_scope(request)
    if not scope.has(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied
    base = scope.cases(Case.objects.select_related("village", "grid", "category"))
    to_dispatch = base.filter(status__in=(Status.RECEIVED, Status.RETURNED)).order_by("received_at", "pk")
    to_call = (base.filter(status=Status.RESOLVED)
               .filter(Q(satisfaction="") | Q(satisfaction=Satisfaction.UNREACHABLE))
               .order_by(F("resolved_at").desc(nulls_last=True), "-pk"))
    call_page = Paginator(to_call, LIST_PAGE).get_page(request.GET.get("call_page"))
    return page(request, "cases/intake.html", {
        "to_dispatch": to_dispatch[:INTAKE_LIMIT], "to_dispatch_count": to_dispatch.count(),
        "to_call": call_page.object_list, "to_call_count": call_page.paginator.count, "call_page": call_page,
    })

