"""What every web page shares (issue 15): the renderer, the navigation, start pages and page hooks, and the
small parsers of page input. The lowest layer that can hold them (the unread badge reads
``cases.Notification``); the apps above (``reps``, the project's dashboard) register into it from their
``AppConfig.ready()`` instead of being named here.

Registries (each entry is added once per process, at start-up):

- :func:`register_nav` — an entry of the main menu: URL name, label, order and who sees it;
- :func:`register_start_page` — where ``/`` sends a user whose roles match (lowest ``order`` wins);
- :func:`register_workbench_panel` — a section below the workbench's case list (template + context);
- :func:`register_case_origin` — a thing a case can be logged from on "log a case" (``?visit=<id>``);
- :func:`register_case_creator` — who writes a case of one source logged on the page (a deputy's demand).

Views of every app render with :func:`page`; the request's scope and clock come from
:func:`grids.scope.request_scope` / :func:`grids.scope.request_now`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from grids.choices import Role
from grids.scope import local_today, request_now, request_scope

from .forms import PeriodForm
from .models import Case, Notification

# --- Registries ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NavEntry:
    """One entry of the main menu: ``url_name`` (``web:…``, no arguments), ``label`` (lazy text), ``order``
    (ascending, left to right) and ``visible(scope) -> bool``."""

    url_name: str
    label: object
    order: int
    visible: Callable


@dataclasses.dataclass(frozen=True)
class StartPage:
    """Where ``/`` sends a user: the first entry by ``order`` whose ``applies(scope)`` is true."""

    url_name: str
    order: int
    applies: Callable


@dataclasses.dataclass(frozen=True)
class WorkbenchPanel:
    """A section of the workbench below the case list: ``context(request, scope, now)`` returns the dict
    given to ``template`` as ``panel``, or None to leave the section out."""

    template: str
    order: int
    context: Callable


@dataclasses.dataclass(frozen=True)
class CaseOrigin:
    """What a case logged on the page comes from (a visit): it fixes the village and the source.

    ``param``/``value``: the query or form parameter that names it (``visit``, the id); ``note``: the line
    shown above the form (translated); ``create(actor=, now=, **case_fields) -> Case``: writes the case and
    the origin's link, inside the page's transaction (``case_fields`` as ``cases.services.create_case``
    takes them, without village and source). ``villages`` (optional, a Village queryset): the villages the
    user may choose among instead (a liaison station's reception: the villages it serves), ``village`` then
    being the preset; the chosen one is passed to ``create`` as ``village``.
    """

    param: str
    value: str
    village: object
    source: str
    note: str
    create: Callable
    villages: object = None


_NAV: dict[str, NavEntry] = {}
_START: dict[str, StartPage] = {}
_PANELS: dict[str, WorkbenchPanel] = {}
_ORIGINS: dict[str, Callable] = {}
_CREATORS: dict[str, Callable] = {}

#: Where a user none of whose roles has a start page lands.
NO_ROLE_PAGE = "web:no-role"


def register_nav(url_name: str, label, *, order: int, visible: Callable) -> None:
    """Add (or replace, by ``url_name``) a main-menu entry. ``visible(scope)`` decides per request. The
    entries of this release: workbench 10, intake 20, dashboard 30, log a case 40, cases 50, visits 60."""
    _NAV[url_name] = NavEntry(url_name, label, order, visible)


def register_start_page(url_name: str, *, order: int, applies: Callable) -> None:
    """Add (or replace) a start page: ``/`` redirects to the first ``url_name`` by ``order`` whose
    ``applies(scope)`` is true (dashboard 10, intake 20, workbench 30, cases 40)."""
    _START[url_name] = StartPage(url_name, order, applies)


def register_workbench_panel(template: str, *, order: int, context: Callable) -> None:
    """Add (or replace, by ``template``) a workbench section; see :class:`WorkbenchPanel`."""
    _PANELS[template] = WorkbenchPanel(template, order, context)


def register_case_origin(param: str, resolve: Callable) -> None:
    """Let "log a case" be opened from something named by ``?<param>=<id>``: ``resolve(scope, value)``
    returns its :class:`CaseOrigin`, or raises Http404 when it is outside the user's scope."""
    _ORIGINS[param] = resolve


def case_origin(request, scope) -> CaseOrigin | None:
    """The origin named in the request's query or form (the first registered parameter present), or None.
    Raises Http404 for one outside the scope."""
    for param, resolve in _ORIGINS.items():
        value = request.GET.get(param) or request.POST.get(param)
        if value:
            return resolve(scope, value)
    return None


def register_case_creator(source: str, create: Callable) -> None:
    """Let an app write the cases of ``source`` logged on the page: ``create(actor=, now=, **case_fields)``
    returns the Case it created (with its own link rows, in the page's transaction), or None to leave it to
    ``cases.services.create_case`` (e.g. the user is not a deputy)."""
    _CREATORS[source] = create


def case_creator(source: str) -> Callable | None:
    """The creator registered for ``source``, or None."""
    return _CREATORS.get(source)


def nav_for(scope) -> list[tuple[str, str]]:
    """The menu of ``scope``: ``(url_name, label)`` pairs in order."""
    return [(e.url_name, e.label) for e in sorted(_NAV.values(), key=lambda e: (e.order, e.url_name))
            if e.visible(scope)]


def start_url_name(scope) -> str:
    """The start page of a user's roles (issue 6 §2): the first registered start page that applies, else
    :data:`NO_ROLE_PAGE`."""
    for entry in sorted(_START.values(), key=lambda e: (e.order, e.url_name)):
        if entry.applies(scope):
            return entry.url_name
    return NO_ROLE_PAGE


def workbench_panels(request, scope, now) -> list[dict]:
    """The workbench sections for this request: ``[{"template", "context"}]`` in order, empty ones left out."""
    panels = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.template)):
        context = panel.context(request, scope, now)
        if context is not None:
            panels.append({"template": panel.template, "context": context})
    return panels


# --- Rendering ----------------------------------------------------------------------------------------------


def page(request, template: str, context: dict | None = None, *, status: int = 200):
    """Render ``template`` with what every page shows: the scope, the request's clock, the menu, the current
    URL name, the unread-notification badge and the user's role labels. Returns the HttpResponse."""
    scope = request_scope(request)
    ctx = {
        "scope": scope,
        "now": request_now(request),
        "nav": nav_for(scope),
        "current": request.resolver_match.view_name if request.resolver_match else "",
        "unread": Notification.objects.filter(recipient=request.user, read_at__isnull=True).count(),
        "roles": [Role(r).label for r in Role.values if r in scope.roles],
    }
    ctx.update(context or {})
    return render(request, template, ctx, status=status)


# --- Input ----------------------------------------------------------------------------------------------------


def safe_next(request, candidate: str | None, fallback: str) -> str:
    """``candidate`` when it is a local URL of this host (``next`` of a form), else ``fallback``."""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return fallback


def int_or_404(value) -> int:
    """``value`` as an int; Http404 when it is not one (an id in a URL or query)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def int_or_none(value):
    """``value`` as an int, None when empty or not a number (a filter of a list page)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def date_or_none(value):
    """An ISO date (``2025-04-07``) as a date, None when empty, malformed or outside the dates a period may
    name (``PeriodForm.FIRST_DAY`` … ``LAST_DAY``: far years overflowed the local-midnight arithmetic)."""
    from .forms import PeriodForm

    try:
        day = dt.date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
    return day if day is None or PeriodForm.FIRST_DAY <= day <= PeriodForm.LAST_DAY else None


def apply_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the form's fields (unknown fields: above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Periods of the statistics pages ---------------------------------------------------------------------------


def presets(today: dt.date) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """The period presets offered above a statistics page for ``today`` (Asia/Shanghai date):
    ``(label, first, last)`` inclusive dates — this month, last month, this and last assessment month
    (19th–18th, ``cases.selectors.assessment_month``), the last twelve months day for day, this year, and
    all (None, None)."""
    from .selectors import assessment_month

    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    _name, am_first, am_last = assessment_month(today)
    _name, prev_first, prev_last = assessment_month(am_first - dt.timedelta(days=1))
    # The last twelve months, day for day (the day after this day a year ago, through today): unlike
    # "this year" also in December (issue 16 §8), and month-aligned when today is a month's last day.
    try:
        twelve = today.replace(year=today.year - 1) + dt.timedelta(days=1)
    except ValueError:  # 29 February
        twelve = today.replace(year=today.year - 1, day=28) + dt.timedelta(days=1)
    return [
        (_("本月"), first, today),
        (_("上月"), last_month_end.replace(day=1), last_month_end),
        (_("本考核月"), am_first, min(am_last, today)),
        (_("上考核月"), prev_first, prev_last),
        (_("近12个月"), twelve, today),
        (_("今年"), today.replace(month=1, day=1), today),
        (_("全部"), None, None),
    ]


def default_period(scope, now: dt.datetime) -> tuple[dt.date, dt.date, bool]:
    """A statistics page's period when the user gave neither start nor end: ``(start, end, moved)``,
    inclusive Asia/Shanghai dates.

    The twelve calendar months ending with today's (the "近12个月" preset) when a case in ``scope`` was
    received in them, or when no case in scope was ever received; otherwise the twelve calendar months
    ending with the month of the latest case received in scope (imported history, e.g. 2011–2020), and
    ``moved`` is True so that the page can say so. At most two queries."""
    from .selectors import day_start, local_date

    today = local_today(now)
    _label, start, end = presets(today)[4]
    cases = scope.cases(Case.objects.all())
    recent = cases.filter(received_at__gte=day_start(start), received_at__lt=day_start(end + dt.timedelta(days=1)))
    if recent.exists():
        return start, end, False
    latest = cases.aggregate(latest=models.Max("received_at"))["latest"]
    if latest is None:
        return start, end, False
    last_day = local_date(latest)
    month_end = (last_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    _label, first, _end = presets(month_end)[4]
    return first, month_end, True


def period_from_request(request, scope) -> tuple[PeriodForm, dt.date | None, dt.date | None, str, bool]:
    """The period form of the request and its ``start``, ``end``, statistics scope (``assessed``/``all``)
    and whether the default period was moved back to the latest case (:func:`default_period`). Explicit
    start/end (even empty: "全部") are taken as given; an invalid form gives ``(form, None, None,
    "assessed", False)``."""
    now = request_now(request)
    data = request.GET.copy()
    moved = False
    if "start" not in data and "end" not in data:
        start, end, moved = default_period(scope, now)
        data["start"], data["end"] = start.isoformat(), end.isoformat()
    form = PeriodForm(data)
    if form.is_valid():
        d = form.cleaned_data
        return form, d.get("start"), d.get("end"), d["scope"], moved
    return form, None, None, "assessed", False


def stats_cases(scope):
    """The cases the statistics count for this user: None (whole town; selectors may use their stored
    daily figures) for town-wide roles, else the scoped queryset."""
    return None if scope.town_wide else scope.cases(Case.objects.all())


RATE_KEYS = ("closure_rate", "respond_on_time_rate", "resolve_on_time_rate", "response_rate", "resolution_rate",
             "satisfaction_rate", "satisfaction_lower_bound", "on_time_rate")


def display(row: dict) -> dict:
    """A statistics row with its rates as percentages (``<rate>_pct``, one decimal, "—" for no data), the
    composite score as ``score`` (one decimal) and the handling times as ``<dispatch|respond|resolve>_hours``
    ("mean / median / p90" in hours, one decimal), for the tables and tiles."""
    out = dict(row)
    for key in RATE_KEYS:
        if key in row:
            out[f"{key}_pct"] = "—" if row[key] is None else f"{row[key] * 100:.1f}%"
    score = row.get("composite_score")
    out["score"] = "—" if score is None else f"{score:.1f}"
    for milestone in ("dispatch", "respond", "resolve"):  # handling times in hours: mean / median / p90
        figures = [row.get(f"{milestone}_{stat}_seconds") for stat in ("mean", "median", "p90")]
        if any(f is not None for f in figures):
            out[f"{milestone}_hours"] = " / ".join("—" if f is None else f"{f / 3600:.1f}" for f in figures)
        else:
            out[f"{milestone}_hours"] = "—"
    return out
