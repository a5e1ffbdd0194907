"""The dispatcher's intake page (issue 16 build 3): the queue of cases to dispatch and the queue of resolved
cases waiting for their callback, with filters, sorting, waiting-time and deadline columns, keyset paging
(``cases.desk.queues``) and bulk actions through the lifecycle services (one service call, transaction and
event per case)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grids.choices import Role
from grids.models import Grid, Village
from grids.scope import request_now, request_scope

from ..choices import Source, Urgency
from ..desk import queues
from ..pages import int_or_none, page, safe_next

#: Rows per page of each queue on the page.
PAGE_ROWS = 50
#: The page counts each queue up to this many rows and shows "10000+" beyond (the API counts exactly).
COUNT_CAP = 10_000
COMMAND_CENTRE = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)


def _filters(params, *, imported_default: str) -> queues.QueueFilters:
    """The queue filters of the page's query string; values that cannot be read are left out."""
    try:
        waiting = float(params.get("waiting_hours") or 0) or None
    except ValueError:
        waiting = None
    if waiting is not None and not 0 < waiting <= 24 * 3660:
        waiting = None
    imported = params.get("imported") or imported_default
    return queues.QueueFilters(
        sources=tuple(s for s in params.getlist("source") if s in Source.values),
        urgencies=tuple(u for u in params.getlist("urgency") if u in Urgency.values),
        village_id=int_or_none(params.get("village")), waiting_hours=waiting,
        imported=imported if imported in ("live", "imported", "all") else imported_default,
        q=(params.get("q") or "").replace("\x00", "")[:100])


def _queue(request, kind, scope, now, *, sort_param, cursor_param, imported_default):
    params = request.GET
    filters = _filters(params, imported_default=imported_default)
    sort = params.get(sort_param) or None
    if sort not in queues.SORTS[kind]:
        sort = None
    try:
        result = queues.queue_page(kind, scope, filters=filters, sort=sort, cursor=params.get(cursor_param) or None,
                                   limit=PAGE_ROWS, now=now, count_cap=COUNT_CAP)
    except queues.BadQuery:
        messages.warning(request, _("翻页链接已失效，已回到第一页。"))
        result = queues.queue_page(kind, scope, filters=filters, sort=sort, limit=PAGE_ROWS, now=now,
                                   count_cap=COUNT_CAP)
    query = params.copy()
    query.pop(cursor_param, None)
    next_query = None
    if result.next_cursor:
        query[cursor_param] = result.next_cursor
        next_query = query.urlencode()
    first = params.copy()
    first.pop(cursor_param, None)
    return {"page": result, "next_query": next_query,
            "first_query": "?" + first.urlencode() if params.get(cursor_param) else None,
            "sorts": list(queues.SORTS[kind]), "filters": filters}


def _short(name: str) -> str:
    """A village's short name as ``Village.short_name`` gives it (without 村委会/居委会)."""
    return Village(name=name).short_name


#: The session key of the rows ticked in a bulk action that was refused as a whole (shown ticked once).
TICKED_KEY = "intake_ticked"


@login_required
def intake(request):
    """``/intake/``: both queues of the command centre for dispatchers, supervisors and admins (else 403).

    Query: ``source``/``urgency`` (repeatable), ``village``, ``waiting_hours``, ``imported``, ``q`` filter
    both queues; ``sort``/``cursor`` page the queue to dispatch, ``call_sort``/``call_cursor`` the callback
    queue (imported history left out unless ``imported=all|imported``). A fixed number of queries whatever
    the queues' lengths."""
    scope, now = request_scope(request), request_now(request)
    if not scope.has(*COMMAND_CENTRE):
        raise PermissionDenied
    dispatch = _queue(request, "intake", scope, now, sort_param="sort", cursor_param="cursor",
                      imported_default="all")
    callback = _queue(request, "callback", scope, now, sort_param="call_sort", cursor_param="call_cursor",
                      imported_default="live")
    chosen_village = str(request.GET.get("village") or "")
    villages = format_html_join("", '<option value="{}"{}>{}</option>', (
        (pk, mark_safe(" selected") if str(pk) == chosen_village else "", _short(name))
        for pk, name in Village.objects.order_by("code").values_list("pk", "name")))
    grids = format_html_join("", '<option value="{}">{}·{}（{}）</option>', (
        (pk, _short(village), name, code)
        for pk, name, code, village in Grid.objects.order_by("code").values_list("pk", "name", "code", "village__name")))
    return page(request, "cases/intake.html", {
        "dispatch": dispatch, "callback": callback, "village_options": villages, "grid_options": grids,
        "sources": Source.choices, "urgencies": Urgency.choices, "params": request.GET,
        "chosen_sources": set(request.GET.getlist("source")), "chosen_urgencies": set(request.GET.getlist("urgency")),
        "here": request.get_full_path(), "ticked": set(request.session.pop(TICKED_KEY, [])),
        "sort_labels": {"received_at": _("受理时间（早→晚）"), "-received_at": _("受理时间（晚→早）"),
                        "urgency": _("紧急程度"), "deadline": _("时限（近→远）"),
                        "-resolved_at": _("办结时间（晚→早）"), "resolved_at": _("办结时间（早→晚）")},
    })


@login_required
@require_POST
def intake_bulk(request):
    """``POST /intake/bulk/``: one action on the ticked cases (``ids``) — ``dispatch`` (to ``grid``),
    ``close``, ``callback_not_needed`` or ``callback_unreachable`` — each through its own service; the page
    says how many were done and why the others were not. Back to ``next`` (the queue as it was)."""
    scope, now = request_scope(request), request_now(request)
    if not scope.has(*COMMAND_CENTRE):
        raise PermissionDenied
    back = safe_next(request, request.POST.get("next"), "/intake/")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    grid = None
    if request.POST.get("grid", "").isdigit():
        grid = Grid.objects.select_related("village", "leader__user").filter(pk=int(request.POST["grid"])).first()
    try:
        results = queues.bulk_apply(request.POST.get("action", ""), ids, actor=request.user, scope=scope, grid=grid,
                                    note=(request.POST.get("note") or "")[:2000], now=now)
    except ValidationError as exc:
        messages.warning(request, _("批量操作未执行：%(detail)s") % {"detail": " ".join(exc.messages)})
        request.session[TICKED_KEY] = ids[:500]  # the queue comes back with the same rows ticked
        return redirect(back)
    done = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    if done:
        messages.success(request, _("已完成 %(n)s 件。") % {"n": len(done)})
    for r in failed[:10]:
        messages.warning(request, _("%(number)s 未执行：%(detail)s") % {"number": r.number or r.id, "detail": r.detail})
    if len(failed) > 10:
        messages.warning(request, _("另有 %(n)s 件未执行。") % {"n": len(failed) - 10})
    return redirect(back)
