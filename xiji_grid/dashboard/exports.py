"""Downloads of what the dashboard shows (``/dashboard/export/<table>.<csv|xlsx>``): the same tables for
the same period and scope, as CSV (UTF-8 with BOM, for Excel) or XLSX."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
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
    ("satisfaction_rate", gettext_lazy("满意率")),
    ("satisfaction_lower_bound", gettext_lazy("满意率置信下限")), ("composite_score", gettext_lazy("综合得分")),
    ("dispatch_mean_hours", gettext_lazy("派单用时均值（小时）")), ("dispatch_median_hours", gettext_lazy("派单用时中位数（小时）")),
    ("dispatch_p90_hours", gettext_lazy("派单用时P90（小时）")), ("respond_mean_hours", gettext_lazy("联系用时均值（小时）")),
    ("respond_median_hours", gettext_lazy("联系用时中位数（小时）")), ("respond_p90_hours", gettext_lazy("联系用时P90（小时）")),
    ("resolve_mean_hours", gettext_lazy("办结用时均值（小时）")), ("resolve_median_hours", gettext_lazy("办结用时中位数（小时）")),
    ("resolve_p90_hours", gettext_lazy("办结用时P90（小时）")),
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
    if table != "overdue":
        rows = [_with_hours(row) for row in rows]
    period = _("%(start)s至%(end)s") % {"start": start or _("最早"), "end": end or _("最新")}
    title = str(TABLE_TITLES[table])
    name = f"{title}_{period}_{ALL_SCOPE_LABEL if stats_scope == 'all' else ASSESSED_LABEL}"
    headers = [str(label) for _key, label in columns]
    keys = [key for key, _label in columns]
    if fmt == "csv":  # the one export path of pages and API (cases.exports): formulas neutralised
        values = [[_csv_value(key, row.get(key)) for key in keys] for row in rows]
        response = HttpResponse(exports.csv_bytes(headers, values), content_type="text/csv; charset=utf-8")
    else:
        values = [[_export_value(key, row.get(key)) for key in keys] for row in rows]
        rate_formats = {i: "0.0%" for i, key in enumerate(keys) if _is_rate(key)}  # 95.3% on screen
        response = HttpResponse(exports.xlsx_bytes(headers, values, sheet_name=_sheet_title(f"{title} {period}"),
                                                   number_formats=rate_formats),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.{fmt}")
    return response


#: Chinese names of the downloads (file and sheet names carry the period too, issue 16 §9).
TABLE_TITLES = {"villages": gettext_lazy("各村三率"), "grids": gettext_lazy("各微网格三率"),
                "months": gettext_lazy("逐月三率"), "categories": gettext_lazy("分类三率"),
                "overdue": gettext_lazy("超时未办")}
ASSESSED_LABEL, ALL_SCOPE_LABEL = gettext_lazy("考核口径"), gettext_lazy("全口径")


def _is_rate(key: str) -> bool:
    return key.endswith("_rate") or key == "satisfaction_lower_bound"


def _sheet_title(text: str) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``."""
    for char in "[]:*?/\\":
        text = text.replace(char, "-")
    return text[:31]


def _with_hours(row: dict) -> dict:
    """The row with each ``<milestone>_<stat>_seconds`` handling time also as ``…_hours`` (float hours,
    two decimals; None for no data) — pages and exports show hours, the API seconds."""
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_seconds") and key.split("_")[0] in ("dispatch", "respond", "resolve"):
            out[key[: -len("_seconds")] + "_hours"] = None if value is None else round(value / 3600, 2)
    return out


def _csv_value(key, value):
    """A cell of the CSV: rates as percentages with one decimal ("95.3%"), the score with one decimal."""
    if value is None:
        return ""
    if _is_rate(key):
        return f"{value * 100:.1f}%"
    if key == "composite_score":
        return f"{value:.1f}"
    return value


def _export_value(key, value):
    """A cell of the XLSX: rates as fractions (shown as percentages by the cell format), the score with one
    decimal."""
    if value is None:
        return ""
    if _is_rate(key):
        return round(value, 3)
    if key == "composite_score":
        return round(value, 1)
    if isinstance(value, float):
        return round(value, 4)
    return value
