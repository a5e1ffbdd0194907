"""Downloads of what the dashboard shows (``/dashboard/export/<table>.<csv|xlsx>``): the same tables for
the same period and scope, as CSV (UTF-8 with BOM, for Excel) or XLSX."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cases import exports, selectors
from cases.models import Case
from cases.pages import int_or_404, period_from_request, stats_cases
from grids.models import Village
from grids.scope import request_now, request_scope

from .views import DASHBOARD_ROLES

EXPORT_LIMIT = 10_000

RATE_EXPORT = [
    ("rank", gettext_lazy("排名")), ("label", gettext_lazy("名称")), ("key", gettext_lazy("编码")),
    ("received", gettext_lazy("受理")), ("dispatched", gettext_lazy("派单")), ("responded", gettext_lazy("已联系")),
    ("resolved", gettext_lazy("办结")), ("closed", gettext_lazy("结案")), ("overdue", gettext_lazy("超时")),
    ("closure_rate", gettext_lazy("办结率")), ("respond_on_time_rate", gettext_lazy("按时联系率")),
    ("resolve_on_time_rate", gettext_lazy("按时办结率")), ("valid_callbacks", gettext_lazy("有效回访")),
    ("response_rate", gettext_lazy("响应率")), ("resolution_rate", gettext_lazy("解决率")),
    ("satisfaction_rate", gettext_lazy("满意率")), ("composite_score", gettext_lazy("综合得分")),
]
OVERDUE_EXPORT = [
    ("number", gettext_lazy("编号")), ("title", gettext_lazy("标题")), ("status", gettext_lazy("状态")),
    ("village", gettext_lazy("村/社区")), ("grid", gettext_lazy("微网格")), ("handler", gettext_lazy("承办人")),
    ("received_at", gettext_lazy("受理时间")), ("respond_due_at", gettext_lazy("联系时限")),
    ("resolve_due_at", gettext_lazy("办结时限")), ("lateness_hours", gettext_lazy("超时（小时）")),
]
EXPORT_TABLES = ("villages", "grids", "months", "categories", "overdue")


def _overdue_rows(cases) -> list[dict]:
    def local(moment):
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""

    return [{
        "number": c.number, "title": c.title, "status": c.get_status_display(), "village": c.village.short_name,
        "grid": c.grid.name if c.grid_id else "", "handler": c.handler.name if c.handler_id else "",
        "received_at": local(c.received_at), "respond_due_at": local(c.respond_due_at),
        "resolve_due_at": local(c.resolve_due_at), "lateness_hours": round(c.lateness.total_seconds() / 3600, 1),
    } for c in cases]


@login_required
def dashboard_export(request, table: str, fmt: str):
    """``/dashboard/export/<table>.<csv|xlsx>``: one table of the dashboard (villages, months,
    categories, overdue, grids) for the same period and scope, as CSV (UTF-8 with BOM, for Excel) or XLSX.
    ``grids`` holds one village's micro-grids with ``?village=<id>`` (a village outside the scope: 404),
    else every micro-grid with cases in the user's scope. An unknown table or format answers 404."""
    if table not in EXPORT_TABLES or fmt not in ("csv", "xlsx"):
        raise Http404
    scope, now = request_scope(request), request_now(request)
    if not scope.has(*DASHBOARD_ROLES):
        raise PermissionDenied
    form, start, end, stats_scope, _moved = period_from_request(request, scope)
    if form.errors:  # a refused period is no "everything": say why
        reasons = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponseBadRequest(reasons, content_type="text/plain; charset=utf-8")
    kw = {"start": start, "end": end, "scope": stats_scope, "now": now}
    columns = RATE_EXPORT
    if table == "overdue":
        qs = selectors.overdue_cases(now=now, cases=scope.cases(Case.objects.all()), open_only=True)
        if stats_scope == "assessed":
            qs = qs.filter(excluded=False)
        rows, columns = _overdue_rows(qs.select_related("village", "grid", "handler")[:EXPORT_LIMIT]), OVERDUE_EXPORT
    elif table == "grids":
        village_id = request.GET.get("village")
        if village_id:  # one village's micro-grids (the drill-down page's download)
            village = get_object_or_404(scope.villages(Village.objects.all()), pk=int_or_404(village_id))
            cases = scope.cases(Case.objects.filter(village=village))
        else:  # every micro-grid with cases in the user's scope
            cases = stats_cases(scope)
        rows = selectors.rates(group_by="grid", cases=cases, **kw)
    else:
        group = {"villages": "village", "months": "month", "categories": "category"}[table]
        rows = selectors.rates(group_by=group, cases=stats_cases(scope), **kw)
        if table == "villages":
            rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["key"])))
    name = f"{table}_{start or 'all'}_{end or 'all'}_{stats_scope}"
    headers = [str(label) for _key, label in columns]
    values = [[_export_value(row.get(key)) for key, _label in columns] for row in rows]
    if fmt == "csv":  # the one export path of pages and API (cases.exports): formulas neutralised
        response = HttpResponse(exports.csv_bytes(headers, values), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(exports.xlsx_bytes(headers, values, sheet_name=table),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _export_value(value):
    if isinstance(value, float):
        return round(value, 4)
    return "" if value is None else value
