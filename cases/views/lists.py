"""Case lists (issue 6 §6): the case list in scope with its filters (the intake queues: ``intake.py``)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from grids.models import Grid, Village
from grids.scope import request_now, request_scope

from ..boundary import open_past
from ..choices import OPEN_STATES, Status
from ..filtersets import CaseFilterSet
from ..models import Case
from ..pages import date_or_none, int_or_none, page
from ..selectors import day_start

LIST_PAGE = 50


def filtered_cases(request):
    """The cases of the list in the user's scope with the request's filters: the page's own (``status``,
    ``open``, ``village``, ``grid``, ``start``/``end`` dates, ``scope=assessed``, ``q``) and every filter of
    the API (:class:`cases.filtersets.CaseFilterSet`, same names, including ``ordering``). Returns
    ``(queryset ordered, filterset, parsed)`` where ``parsed`` holds the page's own values."""
    scope = request_scope(request)
    qs = scope.cases(Case.objects.select_related("village", "grid", "category", "handler"))
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
    text = (params.get("q") or "").replace("\x00", "").strip()
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(title__icontains=text) | Q(external_ref__icontains=text))
    # Every filter of the API (issue 16 build 5): the same FilterSet, the same parameter names.
    api_params = params.copy()
    for name in PAGE_PARAMS:
        api_params.pop(name, None)
    filterset = CaseFilterSet(api_params, queryset=qs, request=request)
    ordered = filterset.qs if filterset.is_valid() else qs.order_by("-received_at", "-pk")
    if not api_params.get("ordering") or not filterset.is_valid():
        ordered = ordered.order_by("-received_at", "-pk")
    parsed = {"statuses": statuses, "village": village, "grid": grid, "start": start, "end": end, "q": text,
              "api_params": api_params}
    return ordered, filterset, parsed


#: Chinese labels of the API's filters on the page ("更多筛选"); filters not named here are not shown there
#: (ids, map boxes and the page's own duplicates) but still apply when given in the address.
FILTER_LABELS = {
    "source": _l("来源"), "kind": _l("诉求类型"), "urgency": _l("紧急程度"), "overdue": _l("超时"),
    "complainant_name": _l("诉求人姓名"), "complainant_phone": _l("诉求人电话（完整号码）"),
    "number": _l("编号（精确）"), "external_ref": _l("外部编号"), "satisfaction": _l("满意度"),
    "callback": _l("回访"), "solved": _l("是否解决"), "excluded": _l("剔除"), "imported": _l("历史导入"),
    "escalated": _l("督办过"), "extension_pending": _l("待审批延期"), "has_grid": _l("已定微网格"),
    "received_after": _l("受理不早于"), "received_before": _l("受理早于"), "due_after": _l("办结时限不早于"),
    "due_before": _l("办结时限早于"), "resolved_after": _l("办结不早于"), "resolved_before": _l("办结早于"),
    "ordering": _l("排序"),
}


#: The sort keys of ``ordering`` as the page names them; the dates read "from early to late".
ORDERING_LABELS = {
    "received_at": _l("受理时间"), "resolve_due_at": _l("办结时限"), "respond_due_at": _l("联系时限"),
    "resolved_at": _l("办结时间"), "updated_at": _l("更新时间"), "number": _l("编号"), "urgency": _l("紧急程度"),
    "status": _l("状态"),
}
ORDERING_DATES = {"received_at", "resolve_due_at", "respond_due_at", "resolved_at", "updated_at"}
CALLBACK_LABELS = {"pending": _l("未回访"), "valid": _l("有效回访"), "unreachable": _l("联系不上")}


def ordering_label(value: str) -> str:
    key = value.lstrip("-")
    field = ORDERING_LABELS.get(key, key)
    if key in ORDERING_DATES:
        text = _("%(field)s（从晚到早）") if value.startswith("-") else _("%(field)s（从早到晚）")
    else:
        text = _("%(field)s（降序）") if value.startswith("-") else _("%(field)s（升序）")
    return text % {"field": field}


def label_filters(form) -> None:
    """Give the filter form's fields the page's Chinese labels; leave out the ones without a label. Choices
    read in Chinese too: the sort keys, the callback states, and "不限" (an empty value, so nothing lands
    in the address) as the "any" choice of every yes/no and one-of filter."""
    from django import forms as dj_forms

    for name in list(form.fields):
        if name not in FILTER_LABELS:
            del form.fields[name]
            continue
        field = form.fields[name]
        field.label = FILTER_LABELS[name]
        field.help_text = ""
        if isinstance(field, dj_forms.NullBooleanField):
            field.widget = dj_forms.Select(choices=[("", _("不限")), ("true", _("是")), ("false", _("否"))])
        elif name == "ordering":
            field.empty_label = _("默认（最新受理在前）")
            field.choices = [(value, ordering_label(value)) for value, _label in field.choices if value]
        elif name == "callback":
            field.empty_label = _("不限")
            field.choices = [(value, CALLBACK_LABELS.get(value, label)) for value, label in field.choices if value]


#: The list page's own parameters (the rest are the API's filters).
PAGE_PARAMS = ("q", "status", "village", "grid", "start", "end", "scope", "open", "page")


@login_required
def case_list(request):
    """Cases in scope, newest first, filtered as :func:`filtered_cases` says — the deputy's "my cases", the
    dashboard's drill-down and the desk's list — with urgency, handler, deadline and overdue columns, the
    API's filters under "更多筛选", saved filters (kept in the browser) and CSV/XLSX of the filtered list."""
    qs, filterset, parsed = filtered_cases(request)
    # A fresh form to show (the filtering one has bound its fields with the API's labels already).
    shown = CaseFilterSet(parsed["api_params"], queryset=Case.objects.none(), request=request).form
    label_filters(shown)
    params = request.GET
    page_obj = Paginator(qs, LIST_PAGE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    for key in list(query):  # filters left at "不限" stay out of the pager's and the export's address
        values = [value for value in query.getlist(key) if value != ""]
        if values:
            query.setlist(key, values)
        else:
            del query[key]
    grid, village = parsed["grid"], parsed["village"]
    return page(request, "cases/case_list.html", {
        "page_obj": page_obj, "statuses": Status.choices, "chosen": parsed["statuses"], "q": parsed["q"],
        "grid": Grid.objects.select_related("village").filter(pk=grid).first() if grid else None,
        "village": Village.objects.filter(pk=village).first() if village else None,
        "start": parsed["start"], "end": parsed["end"], "query": query.urlencode(), "filter_form": shown,
        "export_query": query.urlencode(), "now": request_now(request),
    })


EXPORT_COLUMNS = [
    ("number", _l("编号")), ("title", _l("标题")), ("status", _l("状态")), ("source", _l("来源")),
    ("kind", _l("诉求类型")), ("urgency", _l("紧急程度")), ("category", _l("分类")), ("village", _l("村/社区")),
    ("grid", _l("微网格")), ("handler", _l("承办人")), ("received_at", _l("受理时间")),
    ("respond_due_at", _l("联系时限")), ("resolve_due_at", _l("办结时限")), ("resolved_at", _l("办结时间")),
    ("overdue", _l("超时")), ("satisfaction", _l("满意度")),
]
EXPORT_LIMIT = 10_000


@login_required
def case_export(request, fmt: str):
    """``/cases/export.<csv|xlsx>``: the case list as filtered (the same parameters), at most
    :data:`EXPORT_LIMIT` rows, through the one export path (``cases.exports``: formulas neutralised). The
    phone is not exported. Unknown format: 404."""
    from django.http import Http404, HttpResponse
    from django.utils.http import content_disposition_header

    from .. import exports

    if fmt not in ("csv", "xlsx"):
        raise Http404
    now = request_now(request)
    qs, _filterset, _parsed = filtered_cases(request)

    def local(moment):
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""

    rows = []
    for c in qs[:EXPORT_LIMIT]:
        late = (open_past(c.responded_at, c.respond_due_at, now)
                or open_past(c.resolved_at, c.resolve_due_at, now)) and c.is_open
        rows.append([c.number, c.title, c.get_status_display(), c.get_source_display(), c.get_kind_display(),
                     c.get_urgency_display(), c.category.name if c.category_id else "", c.village.short_name,
                     c.grid.name if c.grid_id else "", c.handler.name if c.handler_id else "", local(c.received_at),
                     local(c.respond_due_at), local(c.resolve_due_at), local(c.resolved_at), "是" if late else "",
                     c.get_satisfaction_display() if c.satisfaction else ""])
    headers = [str(label) for _k, label in EXPORT_COLUMNS]
    name = f"{_('诉求列表')}_{timezone.localtime(now):%Y-%m-%d}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(exports.csv_bytes(headers, rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.xlsx_bytes(headers, rows, sheet_name=_("诉求列表")),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
