"""One case (issue 6 §5): its facts, deadlines, timeline of events and exactly the actions the user may take
in its current state; each action is one call of ``cases.services``, applied only if the case is still in
the state the page showed."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods

from grids.models import Cadre, Grid
from grids.scope import request_now, request_scope

from .. import forms, maps, rules, services
from ..api.serializers import deadline_state
from ..choices import HANDLING_STARTED, OPEN_STATES, Action, Satisfaction, Status
from ..desk.editing import changed_fields, edit_case
from ..models import Case, CaseEvent
from ..pages import apply_errors, page, safe_next
from .workbench import countdown


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """One action of the case page. ``name`` is the key of :data:`cases.rules.PERMISSIONS`; ``states`` the
    states the service accepts (its ``allowed_from``; the service stays the authority and raises
    TransitionNotAllowed otherwise); ``when`` a further condition on the case; ``run`` calls the service
    with the cleaned form data. ``service_checks_when``: the service refuses a case failing ``when`` itself,
    with its own reason (a valid callback already recorded, no extension pending …), so a submission from a
    stale page is left to it rather than refused with the generic state message."""

    name: str
    label: object
    form: type
    states: tuple
    run: Callable
    when: Callable = lambda case: True
    style: str = ""
    service_checks_when: bool = False
    label_without_complainant: object = None

    def label_on(self, case):
        """The action's label on ``case``: ``label_without_complainant`` when set and the case has no
        complainant (``Case.has_complainant``: one found on patrol), else ``label``."""
        if self.label_without_complainant is not None and not case.has_complainant:
            return self.label_without_complainant
        return self.label


def _valid_callback(case) -> bool:
    return bool(case.satisfaction) and case.satisfaction != Satisfaction.UNREACHABLE


ACTIONS: list[ActionSpec] = [
    ActionSpec("accept", gettext_lazy("签收"), forms.ActionForm, services.ALLOWED_FROM["accept"], style="primary",
               run=lambda c, d, a, n: services.accept(c, actor=a, now=n)),
    ActionSpec("respond", gettext_lazy("已联系诉求人"), forms.NoteForm, services.ALLOWED_FROM["respond"], style="primary",
               label_without_complainant=HANDLING_STARTED,
               run=lambda c, d, a, n: services.respond(c, actor=a, note=d["note"], now=n)),
    ActionSpec("resolve", pgettext_lazy("action", "办结"), forms.ResolveForm, services.ALLOWED_FROM["resolve"],
               style="primary", when=lambda c: c.status == Status.RESPONDED or c.grid_id is not None,
               run=lambda c, d, a, n: services.resolve(c, actor=a, solved=d["solved"], result=d["result"], now=n)),
    ActionSpec("dispatch", gettext_lazy("派单 / 改派"), forms.DispatchForm,
               services.ALLOWED_FROM["dispatch"], style="primary",
               run=lambda c, d, a, n: services.dispatch(c, actor=a, grid=d["grid"], note=d["note"], now=n)),
    ActionSpec("callback", gettext_lazy("回访"), forms.CallbackForm, services.ALLOWED_FROM["callback"], style="primary",
               when=lambda c: not _valid_callback(c), service_checks_when=True,
               run=lambda c, d, a, n: services.callback(c, actor=a, contacted=d["contacted"], solved=d["solved"],
                                                        satisfaction=d["satisfaction"], note=d["note"], now=n)),
    ActionSpec("close", pgettext_lazy("action", "结案"), forms.NoteForm, services.ALLOWED_FROM["close"],
               run=lambda c, d, a, n: services.close(c, actor=a, note=d["note"], now=n)),
    ActionSpec("reopen", gettext_lazy("重办"), forms.NoteForm, services.ALLOWED_FROM["reopen"],
               when=lambda c: c.satisfaction == Satisfaction.UNSATISFIED or c.callback_solved is False,
               service_checks_when=True,
               run=lambda c, d, a, n: services.reopen(c, actor=a, note=d["note"], now=n)),
    ActionSpec("return", gettext_lazy("退单"), forms.ReasonForm, services.ALLOWED_FROM["return"],
               run=lambda c, d, a, n: services.return_case(c, actor=a, reason=d["reason"], now=n)),
    ActionSpec("extend", gettext_lazy("申请延期"), forms.ExtendForm, services.ALLOWED_FROM["extend"],
               when=lambda c: c.extension_requested_until is None and c.resolve_due_at is not None,
               run=lambda c, d, a, n: services.request_extension(c, actor=a, until=d["until"], reason=d["reason"],
                                                                 now=n)),
    ActionSpec("approve_extension", gettext_lazy("批准延期"), forms.NoteForm, services.ALLOWED_FROM["approve_extension"],
               when=lambda c: c.extension_requested_until is not None, style="primary", service_checks_when=True,
               run=lambda c, d, a, n: services.approve_extension(c, actor=a, note=d["note"], now=n)),
    ActionSpec("decline_extension", gettext_lazy("驳回延期"), forms.NoteForm, services.ALLOWED_FROM["decline_extension"],
               when=lambda c: c.extension_requested_until is not None, service_checks_when=True,
               run=lambda c, d, a, n: services.decline_extension(c, actor=a, note=d["note"], now=n)),
    ActionSpec("escalate", gettext_lazy("督办"), forms.EscalateForm, services.ALLOWED_FROM["escalate"],
               run=lambda c, d, a, n: services.escalate(c, actor=a, note=d["note"], now=n)),
    ActionSpec("change_urgency", gettext_lazy("调整紧急程度"), forms.UrgencyForm, services.ALLOWED_FROM["change_urgency"],
               run=lambda c, d, a, n: services.change_urgency(c, actor=a, urgency=d["urgency"], note=d["note"],
                                                              now=n)),
    ActionSpec("cancel", gettext_lazy("撤销"), forms.CancelForm, services.ALLOWED_FROM["cancel"], style="danger",
               run=lambda c, d, a, n: services.cancel(c, actor=a, reason=d["reason"], duplicate_of=d["duplicate_of"],
                                                      exclude=d["exclude"],
                                                      confirm_other_caller=d["confirm_other_caller"], now=n)),
    ActionSpec("edit", gettext_lazy("更正诉求信息"), forms.EditForm, tuple(OPEN_STATES),
               run=lambda c, d, a, n: edit_case(c, actor=a, changes=d["_changes"], note=d["note"], now=n)),
    ActionSpec("comment", gettext_lazy("备注"), forms.RequiredNoteForm, services.ALLOWED_FROM["comment"],
               run=lambda c, d, a, n: services.comment(c, actor=a, note=d["note"], now=n)),
]


def next_step(case, names: set[str]) -> str | None:
    """The action ``case`` now waits for, among ``names`` (what this user may do now), or None: the page
    opens it (issue 16 §5). A pending extension waits for its approval; then by state — to dispatch,
    accept, contact, resolve; resolved: the callback until a valid one, then reopen (unsatisfied or
    unsolved) or close."""
    if case.extension_requested_until is not None and "approve_extension" in names:
        return "approve_extension"
    by_state = {
        Status.RECEIVED: ["dispatch"], Status.RETURNED: ["dispatch"], Status.DISPATCHED: ["accept"],
        Status.ACCEPTED: ["respond"], Status.RESPONDED: ["resolve"],
        Status.RESOLVED: ["callback", "reopen", "close"],
    }
    for name in by_state.get(case.status, []):
        if name in names:
            return name
    return None
ACTION_BY_NAME = {spec.name: spec for spec in ACTIONS}


class NothingToDo(Exception):
    """The submitted form changes nothing (an unchanged 更正诉求信息): nothing is written, and the page says so."""

#: Refusals of the input rather than of the case's state (code → the field they concern): the form is shown
#: again with what was typed and the reason next to that field.
KEEP_FORM_ON = {"already_dispatched": "grid", "urgency_unchanged": "urgency", "extension_too_long": "until"}


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
    if spec.form is forms.EditForm:
        initial.update(category=case.category_id, kind=case.kind, urgency=case.urgency, title=case.title,
                       address=case.address, lng=case.lng, lat=case.lat)
    form = spec.form(data, initial=initial, prefix=spec.name, **kwargs)
    if spec.form is forms.ExtendForm and case.resolve_due_at:
        latest = services.latest_extension_until(case)
        form.fields["until"].widget.attrs.update(min=forms.local_input(case.resolve_due_at),
                                                 max=forms.local_input(latest))
        form.fields["until"].help_text = _("最晚可延至 %(latest)s。") % {
            "latest": timezone.localtime(latest).strftime("%Y-%m-%d %H:%M")}
    return form


def _case_in_scope(request, pk) -> Case:
    scope = request_scope(request)
    qs = Case.objects.select_related("village", "grid", "category__parent__parent", "handler", "duplicate_of")
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
        parts.append(_("至 %(until)s") % {"until": _local_minute(data["until"])})
    if data.get("extension_request_dropped"):  # 办结, 退单 or 撤销 withdrew a pending request
        parts.append(_("待审批的延期申请（至 %(until)s）已撤回") % {
            "until": _local_minute(data["extension_request_dropped"])})
    return " · ".join(parts)


def _local_minute(iso: str) -> str:
    """An ISO datetime of an event's data as ``YYYY-MM-DD HH:MM`` in Asia/Shanghai."""
    return timezone.localtime(dt.datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M")


def _case_context(request, case, *, bound: dict | None = None) -> dict:
    scope, now = request_scope(request), request_now(request)
    bound = bound or {}
    next_url = request.GET.get("next", "")
    actions = [(dataclasses.replace(spec, label=spec.label_on(case)),
                bound.get(spec.name) or _make_form(spec, case, scope, next_url=next_url))
               for spec in available_actions(scope, case)]
    events = list(case.events.select_related("actor").order_by("at", "id"))
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = dict(Cadre.objects.filter(user_id__in=actor_ids).values_list("user_id", "name"))
    timeline = [(e, case.action_label(e.action),
                 names.get(e.actor_id) or (e.actor.get_username() if e.actor_id else _("系统")), _event_detail(e))
                for e in events]
    stopped = case.cancelled_at if case.status == Status.CANCELLED else None
    deadlines = [
        (_("派单时限"), deadline_state(due_at=case.dispatch_due_at, warn_at=case.dispatch_warn_at,
                                      met_at=case.dispatched_at, now=now, stopped_at=stopped)),
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
    shown = {"title": rules.shown_text(scope, case.title), "description": rules.shown_text(scope, case.description)}
    names = {spec.name for spec, _form in actions}
    return {"case": case, "shown": shown, "actions": actions, "timeline": timeline, "deadlines": deadlines,
            "rounds": list(case.rounds.order_by("number")),
            "countdown": countdown(case, now), "category_path": category_path, "phone": phone,
            "may_reveal": rules.may_reveal_phone(scope, case), "next_step": next_step(case, names),
            "open_action": next(iter(bound), None) or next_step(case, names),
            "attachments": list(case.attachments.order_by("uploaded_at", "id")),
            "attach_form": forms.AttachmentForm() if rules.can(scope, "attach", case) else None,
            "map": _map(scope, case), "duplicates": likely_duplicates(scope, case, names)}


def likely_duplicates(scope, case, action_names: set[str]) -> list[dict]:
    """Likely duplicates of ``case`` for whoever may dispatch or cancel it now (``action_names``: the
    actions the page offers), from :func:`cases.text.duplicates.suggest_duplicates` over the user's scope,
    other callers' cases included (each says how its caller relates; a merge across callers asks for
    confirmation). Each row: ``case``, ``similarity`` (0–1), ``reasons`` and ``caller`` as labels. No
    caller's name or phone is shown. [] for everyone else and for cases past dispatch."""
    from ..text import duplicates

    if not action_names & {"dispatch", "cancel"} or case.status not in (Status.RECEIVED, Status.DISPATCHED):
        return []
    found = duplicates.suggest_duplicates(duplicates.subject_of(case), cases=scope.cases(Case.objects.all()),
                                          include_other_callers=True, limit=5)
    return [{"case": s.case, "similarity": s.similarity, "caller": duplicates.CALLER_LABELS.get(s.caller, s.caller),
             "reasons": [duplicates.REASON_LABELS.get(r, r) for r in s.reasons]} for s in found]


def _map(scope, case) -> dict:
    """The case page's map (issue 14): the case's own pin, the village points, and place picking (tap or
    the phone's location) for whoever may set its place while it is open."""
    may_place = case.is_open and rules.can(scope, "place", case)
    point = (case.lng, case.lat) if case.lng is not None and case.lat is not None else None
    return maps.map_context(cases_query=None, point=point,
                            pick_url=reverse("api:case-place", args=[case.pk]) if may_place else None)


@login_required
def case_detail(request, pk: int):
    """One case in scope (404 otherwise): its facts, deadlines, timeline of events and exactly the
    actions this user may take in its current state."""
    case = _case_in_scope(request, pk)
    return page(request, "cases/case_detail.html", _case_context(request, case))


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
                    last = current.events.exclude(to_status=F("from_status")).order_by("-at", "-id").first()
                    if last is not None and last.actor_id == request.user.pk:  # the same user, another tab
                        message = _("您已在其他窗口处理过诉求 %(number)s（现为“%(status)s”）。")
                    else:
                        message = _("诉求 %(number)s 已被他人更改（现为“%(status)s”）。")
                    raise services.TransitionNotAllowed(
                        message % {"number": current.number, "status": current.get_status_display()}, code="changed")
                if current.status not in spec.states or not (spec.when(current) or spec.service_checks_when):
                    raise services.TransitionNotAllowed(
                        _("诉求 %(number)s 当前状态为“%(status)s”，不能执行“%(action)s”。")
                        % {"number": current.number, "status": current.get_status_display(),
                           "action": spec.label_on(current)})
                if isinstance(form, forms.EditForm):
                    data["_changes"] = form.changes()
                    if not changed_fields(current, data["_changes"]):
                        raise NothingToDo
                spec.run(current, data, request.user, now)
        except NothingToDo:
            messages.info(request, _("没有需要更正的内容。"))
            return redirect(detail_url)
        except services.TransitionNotAllowed as exc:
            if exc.code not in KEEP_FORM_ON:
                messages.warning(request, _("操作未执行：%(detail)s 下面是诉求的当前状态。") % {"detail": exc.detail})
                return redirect(detail_url)
            # The case is as the page showed it; only this input was refused: the form comes back with what
            # was typed (the note of a dispatch to the grid the case already has) and the reason above it.
            field = KEEP_FORM_ON[exc.code]
            form.add_error(field if field in form.fields else None, str(exc.detail))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已完成：%(action)s。") % {"action": spec.label_on(case)})
            return redirect(safe_next(request, data.get("next"), detail_url))
    case.refresh_from_db()
    context = _case_context(request, case, bound={action: form})
    return page(request, "cases/case_detail.html", context, status=400)



@login_required
@require_http_methods(["GET", "POST"])
def case_reveal_phone(request, pk: int):
    """``POST /cases/<id>/reveal-phone/``: the case page with the complainant's phone shown whole, for the
    case's handler or its grid's leader (an audited ``phone_revealed`` event; others 403). A plain visit
    (a reload, a bookmark) goes back to the case page and reveals nothing."""
    from ..desk.phone import reveal_phone

    if request.method == "GET":
        return redirect("web:case-detail", pk)
    scope, now = request_scope(request), request_now(request)
    case = _case_in_scope(request, pk)
    try:
        number = reveal_phone(case, actor=request.user, scope=scope, now=now)
    except PermissionDenied:
        raise
    context = _case_context(request, case)
    context.update(phone=number, revealed=True, may_reveal=False)
    return page(request, "cases/case_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def case_attach(request, pk: int):
    """``POST /cases/<id>/attachments/``: upload a photo or file (``cases.attachments``), then back to the
    case page's attachments. A refused upload answers 400 with the case page and the error beside the
    upload form, where a phone's screen is (the page opens there). A plain visit goes to the case page."""
    from .. import attachments

    if request.method == "GET":
        return redirect("web:case-detail", pk)
    scope, now = request_scope(request), request_now(request)
    case = _case_in_scope(request, pk)
    if not rules.can(scope, "attach", case):
        raise PermissionDenied(rules.denial_detail("attach"))
    form = forms.AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachments.attach_to_case(case, form.cleaned_data["file"], kind=form.cleaned_data["kind"],
                                       actor=request.user, use_location=form.cleaned_data["use_location"], now=now)
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            messages.success(request, _("已上传附件。"))
            return redirect(reverse("web:case-detail", args=[case.pk]) + "#attachments")
    context = _case_context(request, case)
    context.update(attach_form=form)
    return page(request, "cases/case_detail.html", context, status=400)


@login_required
def case_print(request, pk: int):
    """``/cases/<id>/print/``: the printable work order (派单单) of a case in scope, A4, Chinese: the demand,
    the place, the handler, the deadlines, the dispatch note and room for the handling record. The phone and
    the numbers in the text are shown as the case page shows them to this user; the phone whole to the
    handler or grid leader once they revealed it on the case page (the audited reveal of this handling)."""
    scope, now = request_scope(request), request_now(request)
    case = _case_in_scope(request, pk)
    from ..desk.phone import revealed_to

    dispatch_event = case.events.filter(action=Action.DISPATCHED).order_by("-at", "-id").first()
    # The handler (or grid leader) who revealed the number on the case page prints it whole; not before.
    revealed = revealed_to(case, actor=request.user, scope=scope)
    whole = rules.sees_full_phone(scope) or revealed
    phone = case.complainant_phone if whole else rules.mask_phone(case.complainant_phone)
    shown = {"title": rules.shown_text(scope, case.title), "description": rules.shown_text(scope, case.description)}
    category_path, node = [], case.category
    while node is not None:
        category_path.insert(0, node.name)
        node = node.parent
    return page(request, "cases/case_print.html", {"case": case, "shown": shown, "phone": phone, "dispatch": dispatch_event,
                                                   "category_path": category_path, "printed_at": now,
                                                   "reveal_hint": not whole and rules.may_reveal_phone(scope, case)})
