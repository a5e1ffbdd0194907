"""The web pages (issue 6; DESIGN §1, §9): grid leaders' workbench, dispatchers' intake, the supervisors'
dashboard, case pages, notifications and weekly visits.

Plain Django views over the same pieces the API uses: every read is narrowed by the user's scope
(:func:`grids.scope.request_scope`; an object outside it is a 404), who may act comes from
:func:`cases.rules.can`, and every change is one call of ``cases.services`` / ``grids.visits`` (no view
sets a status). A transition that the case's current state no longer allows — typically lost to a
concurrent change — is answered with a message and the case as it now is; bad input with the errors next
to their fields, in the user's language. The request's clock (:func:`grids.scope.request_now`) is read
once and passed down.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models, transaction
from django.db.models import F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from grids.choices import Role, VisitStatus
from grids.models import Cadre, Grid, Village, Visit
from grids.scope import local_today, request_now, request_scope

from . import forms, rules, services
from .api.serializers import deadline_state
from .choices import OPEN_STATES, Action, Satisfaction, Source, Status
from .models import Case, CaseEvent, Category, Notification

LOCAL_ROLES = (Role.GRID_LEADER, Role.VILLAGE_LEADER, Role.CADRE)
WORKBENCH_LIMIT = 200
INTAKE_LIMIT = 200
LIST_PAGE = 50
OVERDUE_ON_SCREEN = 50
EXPORT_LIMIT = 10_000


# --- Shared page plumbing ---------------------------------------------------------------------------


def start_url_name(scope) -> str:
    """The start page of a user's roles (issue 6 §2): supervisors and admins → dashboard; dispatchers →
    intake queue; grid leaders, village leaders and cadres → workbench; deputies → their cases;
    a user without a role → a page saying so."""
    if scope.has(Role.SUPERVISOR, Role.ADMIN):
        return "web:dashboard"
    if scope.has(Role.DISPATCHER):
        return "web:intake"
    if scope.has(*LOCAL_ROLES):
        return "web:workbench"
    if scope.has(Role.DEPUTY):
        return "web:case-list"
    return "web:no-role"


def _nav(scope) -> list[tuple[str, str]]:
    items = []
    if scope.has(*LOCAL_ROLES):
        items.append(("web:workbench", _("工作台")))
    if scope.has(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN):
        items.append(("web:intake", _("受理队列")))
    if scope.has(Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.VILLAGE_LEADER):
        items.append(("web:dashboard", _("督办看板")))
    if scope.roles - {Role.DEPUTY}:
        items.append(("web:case-new", _("登记诉求")))
    if scope.roles:
        items.append(("web:case-list", _("诉求列表")))
    if scope.cadre_id and scope.has(Role.CADRE):
        items.append(("web:visits", _("走访")))
    return items


def page(request, template: str, context: dict | None = None, *, status: int = 200):
    """Render ``template`` with what every page shows: navigation, unread notifications, the clock."""
    scope = request_scope(request)
    ctx = {
        "scope": scope,
        "now": request_now(request),
        "nav": _nav(scope),
        "current": request.resolver_match.view_name if request.resolver_match else "",
        "unread": Notification.objects.filter(recipient=request.user, read_at__isnull=True).count(),
        "roles": [Role(r).label for r in Role.values if r in scope.roles],
    }
    ctx.update(context or {})
    return render(request, template, ctx, status=status)


def _safe_next(request, candidate: str | None, fallback: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return fallback


def home(request):
    """``/``: the start page of the user's roles; the login page when not logged in."""
    if not request.user.is_authenticated:
        return redirect("web:login")
    return redirect(start_url_name(request_scope(request)))


@login_required
def no_role(request):
    """The start page of a login without any role: says so."""
    return page(request, "web/no_role.html")


# --- Deadlines and countdowns ---------------------------------------------------------------------------


@dataclasses.dataclass
class Countdown:
    """The deadline a case is working against now, for the countdown (DESIGN §5): the respond deadline
    until the complainant is contacted, then the resolve deadline. ``state`` is ``normal``, ``warned``
    (past the warning point) or ``breached`` (past the deadline), from timestamps at ``now``."""

    which: str  # "respond" | "resolve"
    label: str
    due_at: dt.datetime
    warn_at: dt.datetime | None
    state: str
    remaining_seconds: int


def countdown(case: Case, now: dt.datetime) -> Countdown | None:
    """The running deadline of an open case at ``now`` (aware), or None (no deadline yet, or not open)."""
    if case.status not in OPEN_STATES:
        return None
    for which, label, due, warn, met in (
        ("respond", pgettext("countdown", "联系时限"), case.respond_due_at, case.respond_warn_at, case.responded_at),
        ("resolve", pgettext("countdown", "办结时限"), case.resolve_due_at, case.resolve_warn_at, case.resolved_at),
    ):
        if due is None or met is not None:
            continue
        state = deadline_state(due_at=due, warn_at=warn, met_at=None, now=now)
        kind = "breached" if state["breached"] else "warned" if state["warned"] else "normal"
        return Countdown(which, label, due, warn, kind, state["remaining_seconds"])
    return None


def _next_due():
    """Annotation: the deadline a case works against (respond until contacted, then resolve)."""
    return models.Case(
        models.When(responded_at__isnull=True, respond_due_at__isnull=False, then=F("respond_due_at")),
        default=F("resolve_due_at"), output_field=models.DateTimeField())


# --- Grid leader's workbench ------------------------------------------------------------------------------


@login_required
def workbench(request):
    """My open cases, nearest deadline first, each with a live countdown coloured normal / warned /
    breached; links to log a case, my notifications and (cadres) this week's visits."""
    scope, now = request_scope(request), request_now(request)
    cases = (scope.cases(Case.objects.open()).select_related("village", "grid", "category")
             .annotate(next_due=_next_due())
             .order_by(F("next_due").asc(nulls_last=True), "received_at", "pk"))[:WORKBENCH_LIMIT]
    rows = [(case, countdown(case, now)) for case in cases]
    summary = {
        "breached": sum(1 for _c, cd in rows if cd and cd.state == "breached"),
        "warned": sum(1 for _c, cd in rows if cd and cd.state == "warned"),
        "total": len(rows),
    }
    visits = _week_visits(scope, now) if scope.cadre_id else []
    return page(request, "web/workbench.html", {"rows": rows, "summary": summary, "visits": visits})


# --- Logging a case ---------------------------------------------------------------------------------------


def category_tree() -> list[dict]:
    """The three-level taxonomy as nested ``{"id", "name", "urgency", "children"}`` dicts (one query), for
    the page's dependent selects."""
    nodes, roots = {}, []
    for pk, parent_id, name, urgency in Category.objects.order_by("level", "name", "pk").values_list(
            "pk", "parent_id", "name", "default_urgency"):
        node = {"id": pk, "name": name, "urgency": urgency, "children": []}
        nodes[pk] = node
        (nodes[parent_id]["children"] if parent_id in nodes else roots).append(node)
    return roots


def _default_source(scope) -> str:
    """The source preset on the "log a case" form: the hotline for the command centre (town-wide roles),
    the liaison station (``deputy``) for a user whose only role is deputy, grid patrol for the local roles."""
    if scope.town_wide:
        return Source.HOTLINE
    if scope.roles == {Role.DEPUTY}:
        return Source.DEPUTY
    return Source.PATROL


def _own_grid(scope):
    if not scope.own_grid_ids:
        return None
    return Grid.objects.filter(pk__in=scope.own_grid_ids).order_by("code").first()


def _apply_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError next to the form's fields (unknown fields: above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def case_new(request):
    """Log a case (登记): category picker, kind, urgency, place (grid preset to mine), description,
    optional complainant, "resolved on the spot" with its result. ``?visit=<id>`` logs it from a visit
    (source ``visit``, the visit's village). A grid leader's case in own grid is dispatched to it at once
    (DESIGN §5, :func:`cases.rules.dispatches_on_logging`)."""
    scope, now = request_scope(request), request_now(request)
    if not scope.roles & rules.PERMISSIONS["create"]:
        raise PermissionDenied
    visit = None
    visit_id = request.GET.get("visit") or request.POST.get("visit")
    if visit_id:
        visit = get_object_or_404(_visits_in_scope(scope), pk=_int_or_404(visit_id))
    if request.method == "POST":
        form = forms.CaseForm(request.POST, scope=scope, visit=visit)
        if form.is_valid():
            case = _log_case(request, form, scope, visit, now)
            if case is not None:
                messages.success(request, _("已登记诉求 %(number)s。") % {"number": case.number})
                return redirect("web:case-detail", pk=case.pk)
        status = 400
    else:
        own = _own_grid(scope)
        initial = {}
        if visit is None:
            initial["source"] = _default_source(scope)
            if own is not None:
                initial.update(grid=own.pk, village=own.village_id)
        form = forms.CaseForm(initial=initial, scope=scope, visit=visit)
        status = 200
    return page(request, "web/case_form.html", {"form": form, "visit": visit, "categories": category_tree()},
                status=status)


def _deputy_of(user):
    """The active deputy whose login is ``user`` (``reps`` app), or None (not a deputy, or no reps app)."""
    try:
        from reps.services import deputy_of
    except ImportError:  # the liaison-station app is optional
        return None
    return deputy_of(user)


def _log_case(request, form, scope, visit, now):
    """Create (and, where the rules say, dispatch or resolve) the case of a valid form; None after
    putting errors on the form."""
    fields = form.case_fields()
    grid = fields.get("grid")
    village = visit.village if visit is not None else fields["village"]
    on_the_spot = form.cleaned_data.get("on_the_spot")
    action = "resolve_on_the_spot" if on_the_spot else "create"
    if not rules.can_create(scope, village_id=village.pk, grid_id=grid.pk if grid else None, action=action):
        form.add_error("grid" if (grid is not None or scope.has(Role.GRID_LEADER)) else "village",
                       _("不在您的管辖范围内。") if scope.roles & rules.PERMISSIONS[action]
                       else _("您的角色不能就地解决诉求。"))
        return None
    actor = request.user
    try:
        with transaction.atomic():
            if visit is not None:
                from grids.visits import raise_case_at_visit

                case = raise_case_at_visit(visit, actor=actor, now=now, **fields)
                if on_the_spot:  # received → resolved in one step, both events recorded (DESIGN §4)
                    return services.resolve(case, actor=actor, solved=True, result=form.cleaned_data["result"],
                                            now=now)
            elif fields["source"] == Source.DEPUTY and (deputy := _deputy_of(actor)) is not None:
                # A deputy's demand: the case with its raising deputy and station (DESIGN §8).
                from reps.services import raise_demand

                fields.pop("source")
                case = raise_demand(actor=actor, deputy=deputy, now=now, **fields)
                if on_the_spot:
                    return services.resolve(case, actor=actor, solved=True, result=form.cleaned_data["result"],
                                            now=now)
            elif on_the_spot:
                return services.resolve_on_the_spot(actor=actor, now=now, result=form.cleaned_data["result"],
                                                    solved=True, **fields)
            else:
                case = services.create_case(actor=actor, now=now, **fields)
            if rules.dispatches_on_logging(scope, grid_id=grid.pk if grid else None):
                handler = Cadre.objects.select_related("user").get(pk=scope.cadre_id)
                case = services.dispatch(case, actor=actor, grid=grid, handler=handler, now=now)
            return case
    except ValidationError as exc:
        _apply_errors(form, exc)
    except services.TransitionNotAllowed as exc:
        form.add_error(None, exc.detail)
    return None


# --- One case: timeline and actions -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """One action of the case page. ``name`` is the key of :data:`cases.rules.PERMISSIONS`; ``states`` the
    states the service accepts (its ``allowed_from``; the service stays the authority and raises
    TransitionNotAllowed otherwise); ``when`` a further condition on the case; ``run`` calls the service
    with the cleaned form data."""

    name: str
    label: object
    form: type
    states: tuple
    run: Callable
    when: Callable = lambda case: True
    style: str = ""


def _valid_callback(case) -> bool:
    return bool(case.satisfaction) and case.satisfaction != Satisfaction.UNREACHABLE


ACTIONS: list[ActionSpec] = [
    ActionSpec("accept", gettext_lazy("签收"), forms.ActionForm, services.ALLOWED_FROM["accept"], style="primary",
               run=lambda c, d, a, n: services.accept(c, actor=a, now=n)),
    ActionSpec("respond", gettext_lazy("已联系诉求人"), forms.NoteForm, services.ALLOWED_FROM["respond"], style="primary",
               run=lambda c, d, a, n: services.respond(c, actor=a, note=d["note"], now=n)),
    ActionSpec("resolve", pgettext_lazy("action", "办结"), forms.ResolveForm, services.ALLOWED_FROM["resolve"],
               style="primary", when=lambda c: c.status == Status.RESPONDED or c.grid_id is not None,
               run=lambda c, d, a, n: services.resolve(c, actor=a, solved=d["solved"], result=d["result"], now=n)),
    ActionSpec("dispatch", gettext_lazy("派单 / 改派"), forms.DispatchForm,
               services.ALLOWED_FROM["dispatch"], style="primary",
               run=lambda c, d, a, n: services.dispatch(c, actor=a, grid=d["grid"], note=d["note"], now=n)),
    ActionSpec("callback", gettext_lazy("回访"), forms.CallbackForm, services.ALLOWED_FROM["callback"], style="primary",
               when=lambda c: not _valid_callback(c),
               run=lambda c, d, a, n: services.callback(c, actor=a, contacted=d["contacted"], solved=d["solved"],
                                                        satisfaction=d["satisfaction"], note=d["note"], now=n)),
    ActionSpec("close", pgettext_lazy("action", "结案"), forms.NoteForm, services.ALLOWED_FROM["close"],
               run=lambda c, d, a, n: services.close(c, actor=a, note=d["note"], now=n)),
    ActionSpec("reopen", gettext_lazy("重办"), forms.NoteForm, services.ALLOWED_FROM["reopen"],
               when=lambda c: c.satisfaction == Satisfaction.UNSATISFIED or c.callback_solved is False,
               run=lambda c, d, a, n: services.reopen(c, actor=a, note=d["note"], now=n)),
    ActionSpec("return", gettext_lazy("退单"), forms.ReasonForm, services.ALLOWED_FROM["return"],
               run=lambda c, d, a, n: services.return_case(c, actor=a, reason=d["reason"], now=n)),
    ActionSpec("extend", gettext_lazy("申请延期"), forms.ExtendForm, services.ALLOWED_FROM["extend"],
               when=lambda c: c.extension_requested_until is None and c.resolve_due_at is not None,
               run=lambda c, d, a, n: services.request_extension(c, actor=a, until=d["until"], reason=d["reason"],
                                                                 now=n)),
    ActionSpec("approve_extension", gettext_lazy("批准延期"), forms.NoteForm, services.ALLOWED_FROM["approve_extension"],
               when=lambda c: c.extension_requested_until is not None, style="primary",
               run=lambda c, d, a, n: services.approve_extension(c, actor=a, note=d["note"], now=n)),
    ActionSpec("decline_extension", gettext_lazy("驳回延期"), forms.NoteForm, services.ALLOWED_FROM["decline_extension"],
               when=lambda c: c.extension_requested_until is not None,
               run=lambda c, d, a, n: services.decline_extension(c, actor=a, note=d["note"], now=n)),
    ActionSpec("escalate", gettext_lazy("督办"), forms.EscalateForm, services.ALLOWED_FROM["escalate"],
               run=lambda c, d, a, n: services.escalate(c, actor=a, note=d["note"], now=n)),
    ActionSpec("change_urgency", gettext_lazy("调整紧急程度"), forms.UrgencyForm, services.ALLOWED_FROM["change_urgency"],
               run=lambda c, d, a, n: services.change_urgency(c, actor=a, urgency=d["urgency"], note=d["note"],
                                                              now=n)),
    ActionSpec("cancel", gettext_lazy("撤销"), forms.CancelForm, services.ALLOWED_FROM["cancel"], style="danger",
               run=lambda c, d, a, n: services.cancel(c, actor=a, reason=d["reason"], duplicate_of=d["duplicate_of"],
                                                      exclude=d["exclude"], now=n)),
    ActionSpec("comment", gettext_lazy("备注"), forms.RequiredNoteForm, services.ALLOWED_FROM["comment"],
               run=lambda c, d, a, n: services.comment(c, actor=a, note=d["note"], now=n)),
]
ACTION_BY_NAME = {spec.name: spec for spec in ACTIONS}


def available_actions(scope, case) -> list[ActionSpec]:
    """The actions this user may take on ``case`` in its current state: the role may (rules.can) and the
    state allows (the service's ``allowed_from`` and conditions)."""
    return [spec for spec in ACTIONS
            if case.status in spec.states and spec.when(case) and rules.can(scope, spec.name, case)]


def _make_form(spec: ActionSpec, case, scope, data=None, next_url=""):
    kwargs = {"scope": scope} if spec.form is forms.CancelForm else {}
    initial = {"seen": case.status, "next": next_url}
    if spec.form is forms.DispatchForm:
        initial.update(village=case.village_id, grid=case.grid_id)
    if spec.form is forms.UrgencyForm:
        initial["urgency"] = case.urgency
    if spec.form is forms.ExtendForm and case.resolve_due_at:
        initial["until"] = forms.local_input(case.resolve_due_at + dt.timedelta(days=3))
    form = spec.form(data, initial=initial, prefix=spec.name, **kwargs)
    return form


def _case_in_scope(request, pk) -> Case:
    scope = request_scope(request)
    qs = Case.objects.select_related("village", "grid", "category__parent__parent", "handler", "duplicate_of",
                                     "visit")
    return get_object_or_404(scope.cases(qs), pk=pk)


def _event_detail(event: CaseEvent) -> str:
    data = event.data or {}
    parts = []
    if event.action == Action.DISPATCHED and data.get("grid"):
        grid = Grid.objects.filter(code=data["grid"]).select_related("village").first()
        parts.append(_("派往 %(grid)s") % {"grid": grid or data["grid"]})
    if event.action == Action.RESOLVED:
        parts.append(_("已解决") if data.get("solved") else _("未解决"))
        if data.get("on_the_spot"):
            parts.append(_("就地解决"))
    if event.action == Action.CALLBACK and data.get("satisfaction") in Satisfaction.values:
        parts.append(str(Satisfaction(data["satisfaction"]).label))
    if event.action == Action.EXTENSION_REQUESTED and data.get("until"):
        until = dt.datetime.fromisoformat(data["until"])
        parts.append(_("至 %(until)s") % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")})
    return " · ".join(parts)


def _case_context(request, case, *, bound: dict | None = None) -> dict:
    scope, now = request_scope(request), request_now(request)
    bound = bound or {}
    next_url = request.GET.get("next", "")
    actions = [(spec, bound.get(spec.name) or _make_form(spec, case, scope, next_url=next_url))
               for spec in available_actions(scope, case)]
    events = list(case.events.select_related("actor").order_by("at", "id"))
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = dict(Cadre.objects.filter(user_id__in=actor_ids).values_list("user_id", "name"))
    timeline = [(e, names.get(e.actor_id) or (e.actor.get_username() if e.actor_id else _("系统")), _event_detail(e))
                for e in events]
    stopped = case.cancelled_at if case.status == Status.CANCELLED else None
    deadlines = [
        (_("联系时限"), deadline_state(due_at=case.respond_due_at, warn_at=case.respond_warn_at,
                                      met_at=case.responded_at, now=now, stopped_at=stopped)),
        (_("办结时限"), deadline_state(due_at=case.resolve_due_at, warn_at=case.resolve_warn_at,
                                      met_at=case.resolved_at, now=now, stopped_at=stopped)),
    ]
    category_path = []
    node = case.category
    while node is not None:
        category_path.insert(0, node.name)
        node = node.parent
    phone = case.complainant_phone if rules.sees_full_phone(scope) else rules.mask_phone(case.complainant_phone)
    return {"case": case, "actions": actions, "timeline": timeline, "deadlines": deadlines,
            "countdown": countdown(case, now), "category_path": category_path, "phone": phone,
            "open_action": next(iter(bound), None)}


@login_required
def case_detail(request, pk: int):
    """One case in scope (404 otherwise): its facts, deadlines, timeline of events and exactly the
    actions this user may take in its current state."""
    case = _case_in_scope(request, pk)
    return page(request, "web/case_detail.html", _case_context(request, case))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def case_act(request, pk: int, action: str):
    """Perform ``action`` on a case through its service (POST). The case must be in scope (404), the user's
    role allowed (403), and the case still in the state the page showed (``seen``), checked under the row
    lock so that of two racing submissions only the first applies; the other gets a message and the case as
    it now is. Bad input re-renders the case page with the errors next to the fields (HTTP 400) at this
    address, so a GET here (reloading that page, or a bookmark) redirects to the case page (302)."""
    spec = ACTION_BY_NAME.get(action)
    if spec is None:
        raise Http404
    scope, now = request_scope(request), request_now(request)
    case = _case_in_scope(request, pk)
    if request.method != "POST":
        return redirect("web:case-detail", pk=case.pk)
    if not rules.can(scope, action, case):
        raise PermissionDenied(rules.denial_detail(action))
    form = _make_form(spec, case, scope, data=request.POST)
    detail_url = reverse("web:case-detail", args=[case.pk])
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                current = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
                if current.status != data["seen"]:
                    raise services.TransitionNotAllowed(
                        _("诉求 %(number)s 已被他人更改（现为“%(status)s”）。")
                        % {"number": current.number, "status": current.get_status_display()}, code="changed")
                if current.status not in spec.states or not spec.when(current):
                    raise services.TransitionNotAllowed(
                        _("诉求 %(number)s 当前状态为“%(status)s”，不能执行“%(action)s”。")
                        % {"number": current.number, "status": current.get_status_display(), "action": spec.label})
                spec.run(current, data, request.user, now)
        except services.TransitionNotAllowed as exc:
            messages.warning(request, _("操作未执行：%(detail)s 下面是诉求的当前状态。") % {"detail": exc.detail})
            return redirect(detail_url)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("已完成：%(action)s。") % {"action": spec.label})
            return redirect(_safe_next(request, data.get("next"), detail_url))
    case.refresh_from_db()
    context = _case_context(request, case, bound={action: form})
    return page(request, "web/case_detail.html", context, status=400)


# --- Case lists -------------------------------------------------------------------------------------------


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _date_or_none(value):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


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
    village = _int_or_none(params.get("village"))
    grid = _int_or_none(params.get("grid"))
    if village:
        qs = qs.filter(village_id=village)
    if grid:
        qs = qs.filter(grid_id=grid)
    start, end = _date_or_none(params.get("start")), _date_or_none(params.get("end"))
    from .selectors import day_start

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
    return page(request, "web/case_list.html", {
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
    return page(request, "web/intake.html", {
        "to_dispatch": to_dispatch[:INTAKE_LIMIT], "to_dispatch_count": to_dispatch.count(),
        "to_call": call_page.object_list, "to_call_count": call_page.paginator.count, "call_page": call_page,
    })


# --- Notifications ----------------------------------------------------------------------------------------


@login_required
def notifications(request):
    """My notifications, newest first (the latest 200), unread ones marked."""
    notes = (Notification.objects.filter(recipient=request.user).select_related("case")
             .order_by("-created_at", "-id")[:200])
    return page(request, "web/notifications.html", {"notes": notes})


@login_required
@require_POST
def notification_read(request, pk: int):
    """Mark one of my notifications read (others' answer 404)."""
    note = get_object_or_404(Notification, pk=pk, recipient=request.user)
    Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=request_now(request))
    return redirect(_safe_next(request, request.POST.get("next"), reverse("web:notifications")))


@login_required
@require_POST
def notifications_read_all(request):
    """Mark all my unread notifications read."""
    marked = Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(
        read_at=request_now(request))
    messages.success(request, _("已将 %(n)s 条通知标为已读。") % {"n": marked})
    return redirect("web:notifications")


# --- Weekly visits (走访接待日) -------------------------------------------------------------------------------


def _visits_in_scope(scope):
    """Visits the user may record or log cases from (:meth:`grids.scope.Scope.recordable_visits`)."""
    return scope.recordable_visits(Visit.objects.select_related("village", "cadre"))


def _week_visits(scope, now):
    from grids.visits import current_week

    week = current_week(now)
    today = local_today(now)
    return list(_visits_in_scope(scope).filter(cadre_id=scope.cadre_id).filter(
        Q(iso_week=week) | Q(status=VisitStatus.MISSED, planned_date__gte=today - dt.timedelta(days=14)))
        .order_by("planned_date", "village__code"))


@login_required
def visits(request):
    """This week's visits of the logged-in cadre (and missed ones of the last two weeks), each with
    "record" and "log a case from the visit", and the cases already raised there."""
    scope, now = request_scope(request), request_now(request)
    if not scope.cadre_id:
        raise Http404
    rows = _week_visits(scope, now)
    raised = {}
    for case in Case.objects.filter(visit__in=[v.pk for v in rows]).order_by("received_at"):
        raised.setdefault(case.visit_id, []).append(case)
    return page(request, "web/visits.html", {
        "rows": [(v, raised.get(v.pk, [])) for v in rows], "today": local_today(now),
        "recordable": {VisitStatus.PLANNED, VisitStatus.MISSED, VisitStatus.DONE},
    })


@login_required
def visit_record(request, pk: int):
    """Record a visit (time, households visited, people received, notes) with
    :func:`grids.visits.record_visit`; errors next to their fields."""
    from grids.visits import record_visit, visit_hours

    scope, now = request_scope(request), request_now(request)
    visit = get_object_or_404(_visits_in_scope(scope), pk=pk)
    if request.method == "POST":
        form = forms.VisitRecordForm(request.POST)
        if form.is_valid():
            try:
                record_visit(visit, actor=request.user, now=now, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            except services.TransitionNotAllowed as exc:
                messages.warning(request, exc.detail)
                return redirect("web:visits")
            else:
                messages.success(request, _("已记录 %(village)s 的走访。") % {"village": visit.village.short_name})
                return redirect("web:visits")
        status = 400
    else:
        start, end = visit_hours()
        zone = timezone.get_default_timezone()
        day = visit.planned_date or local_today(now)
        if visit.started_at:
            initial = {"started_at": forms.local_input(visit.started_at), "ended_at": forms.local_input(visit.ended_at),
                       "households_visited": visit.households_visited, "people_received": visit.people_received,
                       "notes": visit.notes}
        else:
            began = dt.datetime.combine(day, start, tzinfo=zone)
            ended = min(dt.datetime.combine(day, end, tzinfo=zone), now)
            initial = {"started_at": forms.local_input(began), "ended_at": forms.local_input(max(ended, began))}
        form = forms.VisitRecordForm(initial=initial)
        status = 200
    return page(request, "web/visit_record.html", {"visit": visit, "form": form}, status=status)


# --- Supervisor dashboard ---------------------------------------------------------------------------------


def _presets(today: dt.date) -> list[tuple[str, dt.date | None, dt.date | None]]:
    from .selectors import assessment_month

    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    _name, am_first, am_last = assessment_month(today)
    _name, prev_first, prev_last = assessment_month(am_first - dt.timedelta(days=1))
    # The twelve calendar months ending with this one.
    twelve = first.replace(month=1) if first.month == 12 else first.replace(year=first.year - 1, month=first.month + 1)
    return [
        (_("本月"), first, today),
        (_("上月"), last_month_end.replace(day=1), last_month_end),
        (_("本考核月"), am_first, min(am_last, today)),
        (_("上考核月"), prev_first, prev_last),
        (_("近12个月"), twelve, today),
        (_("今年"), today.replace(month=1, day=1), today),
        (_("全部"), None, None),
    ]


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


def _stats_cases(scope):
    """The cases the statistics count for this user: None (whole town; selectors may use their stored
    daily figures) for town-wide roles, else the scoped queryset."""
    return None if scope.town_wide else scope.cases(Case.objects.all())


def default_period(scope, now: dt.datetime) -> tuple[dt.date, dt.date, bool]:
    """The dashboard's period when the user gave neither start nor end: ``(start, end, moved)``, inclusive
    Asia/Shanghai dates.

    The twelve calendar months ending with today's (the "近12个月" preset) when a case in ``scope`` was
    received in them, or when no case in scope was ever received; otherwise the twelve calendar months
    ending with the month of the latest case received in scope (imported history, e.g. 2011–2020), and
    ``moved`` is True so that the page can say so. At most two queries."""
    from .selectors import day_start, local_date

    today = local_today(now)
    _label, start, end = _presets(today)[4]
    cases = scope.cases(Case.objects.all())
    recent = cases.filter(received_at__gte=day_start(start), received_at__lt=day_start(end + dt.timedelta(days=1)))
    if recent.exists():
        return start, end, False
    latest = cases.aggregate(latest=models.Max("received_at"))["latest"]
    if latest is None:
        return start, end, False
    last_day = local_date(latest)
    month_end = (last_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    _label, first, _end = _presets(month_end)[4]
    return first, month_end, True


def _period(request, scope) -> tuple[forms.PeriodForm, dt.date | None, dt.date | None, str, bool]:
    """The period form of the request and its ``start``, ``end``, statistics scope and whether the default
    period was moved back to the latest case (:func:`default_period`). Explicit start/end (even empty:
    "全部") are taken as given."""
    now = request_now(request)
    data = request.GET.copy()
    moved = False
    if "start" not in data and "end" not in data:
        start, end, moved = default_period(scope, now)
        data["start"], data["end"] = start.isoformat(), end.isoformat()
    form = forms.PeriodForm(data)
    if form.is_valid():
        d = form.cleaned_data
        return form, d.get("start"), d.get("end"), d["scope"], moved
    return form, None, None, "assessed", False


def build_dashboard(scope, now, start, end, stats_scope) -> Dashboard:
    """Compute every figure of the dashboard with ``cases.selectors`` over the user's scope."""
    from . import selectors

    cases = _stats_cases(scope)
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
        months=selectors.rates(group_by="month", **kw), categories=selectors.rates(group_by="category", **kw),
        overdue=list(overdue_qs[:OVERDUE_ON_SCREEN]), overdue_count=overdue_qs.count(),
    )


def _month_series(rows: list[dict]) -> dict:
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


RATE_KEYS = ("closure_rate", "respond_on_time_rate", "resolve_on_time_rate", "response_rate", "resolution_rate",
             "satisfaction_rate", "on_time_rate")


def display(row: dict) -> dict:
    """A statistics row with its rates as percentages (``<rate>_pct``, one decimal, "—" for no data) and the
    composite score as ``score`` (one decimal), for the tables and tiles."""
    out = dict(row)
    for key in RATE_KEYS:
        if key in row:
            out[f"{key}_pct"] = "—" if row[key] is None else f"{row[key] * 100:.1f}%"
    score = row.get("composite_score")
    out["score"] = "—" if score is None else f"{score:.1f}"
    return out


def lateness_display(delta: dt.timedelta) -> str:
    """How late, for people: "3天4小时", "5小时12分" (English when the page is)."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s天%(h)s小时") % {"d": days, "h": hours}
    return _("%(h)s小时%(m)s分") % {"h": hours, "m": mins}


@login_required
def dashboard(request):
    """The supervisor's dashboard for a period and scope (assessed / all, DESIGN §6): the three rates,
    closure and on-time rates by village with the ranking, the overdue list with escalate, the monthly
    trend and the categories as charts (data embedded as JSON), this week's visit coverage and the
    liaison stations' figures. Every figure is ``cases.selectors`` over the user's scope."""
    scope, now = request_scope(request), request_now(request)
    if not scope.has(Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.VILLAGE_LEADER):
        raise PermissionDenied
    form, start, end, stats_scope, moved = _period(request, scope)
    board = build_dashboard(scope, now, start, end, stats_scope)
    trend = _month_series(board.months)
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
                    for label, s, e in _presets(local_today(now))],
        "query": encoded, "here": request.get_full_path(), "period_moved": moved,
    }
    if scope.town_wide:
        context.update(_coverage_and_stations(now, start, end, stats_scope))
    return page(request, "web/dashboard.html", context)


def _coverage_and_stations(now, start, end, stats_scope) -> dict:
    from grids.selectors import missed_visits, visit_coverage
    from grids.visits import current_week

    from .selectors import day_start

    week = current_week(now)
    out = {"coverage": visit_coverage(week), "missed": list(missed_visits(week)), "week": week}
    try:
        from reps.selectors import station_stats
    except ImportError:  # the liaison-station app is optional
        return out
    out["stations"] = [display(row) for row in station_stats(
        start=day_start(start) if start else None,
        end=day_start(end + dt.timedelta(days=1)) if end else None,
        full_scope=stats_scope == "all")]
    return out


@login_required
def dashboard_village(request, pk: int):
    """Drill-down: one village's micro-grids with their figures for the period and scope, each linking to
    its cases."""
    from . import selectors

    scope, now = request_scope(request), request_now(request)
    village = get_object_or_404(scope.villages(Village.objects.all()), pk=pk)
    form, start, end, stats_scope, _moved = _period(request, scope)
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
    return page(request, "web/village.html", {
        "village": village, "form": form, "rows": rows, "query": encoded,
        "query_with_village": f"{encoded}&village={village.pk}",
        "start": start, "end": end, "stats_scope": stats_scope,
    })


# --- Downloads of what the dashboard shows -----------------------------------------------------------------

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
    from . import selectors

    if table not in EXPORT_TABLES or fmt not in ("csv", "xlsx"):
        raise Http404
    scope, now = request_scope(request), request_now(request)
    if not scope.has(Role.SUPERVISOR, Role.ADMIN, Role.DISPATCHER, Role.VILLAGE_LEADER):
        raise PermissionDenied
    _form, start, end, stats_scope, _moved = _period(request, scope)
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
            village = get_object_or_404(scope.villages(Village.objects.all()), pk=_int_or_404(village_id))
            cases = scope.cases(Case.objects.filter(village=village))
        else:  # every micro-grid with cases in the user's scope
            cases = _stats_cases(scope)
        rows = selectors.rates(group_by="grid", cases=cases, **kw)
    else:
        group = {"villages": "village", "months": "month", "categories": "category"}[table]
        rows = selectors.rates(group_by=group, cases=_stats_cases(scope), **kw)
        if table == "villages":
            rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["key"])))
    name = f"{table}_{start or 'all'}_{end or 'all'}_{stats_scope}"
    headers = [str(label) for _key, label in columns]
    values = [[_export_value(row.get(key)) for key, _label in columns] for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows(values)
        response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = table
        sheet.append(headers)
        for line in values:
            sheet.append(line)
        out = io.BytesIO()
        book.save(out)
        response = HttpResponse(
            out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _export_value(value):
    if isinstance(value, float):
        return round(value, 4)
    return "" if value is None else value

