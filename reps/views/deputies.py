"""The deputies' part of the pages (DESIGN §8): a demand a deputy logs on "log a case" with source ``deputy``
is raised through :func:`reps.services.raise_demand` (linked to the deputy and station), and the deputy's
demands page shows each one's five-step loop with the follow-up and evaluation steps."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.choices import Action, Satisfaction, Status
from cases.models import CaseEvent
from cases.pages import page
from cases.services import TransitionNotAllowed
from grids.scope import request_now, request_scope

from .. import selectors, services
from ..models import RaisedDemand
from ..services import deputy_of, raise_demand


def create_deputy_demand(*, actor, now, source, **case_fields):
    """The creator of source ``deputy`` on "log a case" (registered in :mod:`reps.apps` with
    :func:`cases.pages.register_case_creator`): the case as a demand of the active deputy whose login is
    ``actor``, or None when ``actor`` is no deputy (then it is an ordinary case). ``case_fields`` as for
    ``cases.services.create_case``. Raises what ``raise_demand`` raises."""
    deputy = deputy_of(actor)
    if deputy is None:
        return None
    return raise_demand(actor=actor, deputy=deputy, now=now, **case_fields)


# --- The deputy's demands: the five-step loop, follow-up and evaluation (issue 16 build 6) ------------------

#: What a deputy may rate a resolved demand (``unreachable`` is the command centre's, not the deputy's).
DEPUTY_RATINGS = [(v, label) for v, label in Satisfaction.choices if v != Satisfaction.UNREACHABLE]


def _demands(scope):
    qs = (RaisedDemand.objects.select_related("case__village", "deputy", "station", "reception")
          .prefetch_related(Prefetch("case__events", queryset=CaseEvent.objects.order_by("at", "id")))
          .order_by("-raised_at", "-id"))
    return selectors.demands_in_scope(scope, qs)


def _rating(case, events, deputy_user_id) -> dict | None:
    """The valid callback a resolved (or closed) case carries, for showing instead of the rating form:
    satisfaction, solved, note and time of the latest valid ``callback`` event, and whether the raising
    deputy gave it (else the command centre called back). None when the case has no valid callback."""
    if case.satisfaction in ("", None, Satisfaction.UNREACHABLE):
        return None
    event = next((e for e in reversed(events) if e.action == Action.CALLBACK
                  and (e.data or {}).get("satisfaction") not in (None, "", Satisfaction.UNREACHABLE)), None)
    return {"label": case.get_satisfaction_display(), "solved": case.callback_solved,
            "at": case.callback_at or (event.at if event else None), "note": event.note if event else "",
            "by_deputy": event is not None and deputy_user_id is not None and event.actor_id == deputy_user_id}


def _demands_page(request, *, failed: dict | None = None, status: int = 200):
    """The demands page; ``failed`` (``case_id``, ``step``, ``error``, ``data``: what was typed) reopens
    that demand's form with the typed values and the error next to it (HTTP 400)."""
    scope = request_scope(request)
    if not scope.roles:
        raise PermissionDenied
    own = deputy_of(request.user)
    rows = []
    for demand in _demands(scope)[:100]:
        case = demand.case
        events = list(case.events.all())
        steps = selectors.loop_steps(case, events=events, deputy_user_id=demand.deputy.user_id)
        mine = own is not None and demand.deputy_id == own.pk
        rating = _rating(case, events, demand.deputy.user_id)
        row = {"demand": demand, "case": case, "steps": steps, "rating": rating,
               "may_follow_up": mine and case.is_open,
               # rated once: a valid callback (anything but unreachable) ends the 评价 step
               "may_evaluate": mine and case.status == Status.RESOLVED and rating is None,
               "failed": failed if failed and failed["case_id"] == case.pk else None}
        rows.append(row)
    return page(request, "reps/demands.html", {"rows": rows, "ratings": DEPUTY_RATINGS, "is_deputy": own is not None},
                status=status)


@login_required
def demands(request):
    """The deputy's raised demands, newest first, each with its five steps (收集 交办 督办 反馈 评价) and the
    time of each; the raising deputy may add a follow-up note to an open one and rate a resolved one; once
    rated, the rating given (satisfaction, solved, note, time) is shown instead of the form.
    Other roles see the deputy demands within their case scope, read-only."""
    return _demands_page(request)


@login_required
@require_POST
def demand_act(request, case_id: int, step: str):
    """POST ``follow-up`` (``note``) or ``evaluate`` (``satisfaction``, ``solved``, ``note``) on one of the
    user's own raised demands through :mod:`reps.services`. Bad input comes back on the page with that
    demand's form open, what was typed kept and the error next to it (HTTP 400); a step the case's state
    no longer allows (e.g. rated already) comes back as a message, nothing changed."""
    scope, now = request_scope(request), request_now(request)
    demand = get_object_or_404(_demands(scope), case_id=case_id)
    if step not in ("follow-up", "evaluate"):
        raise PermissionDenied
    data = request.POST
    note = data.get("note", "").strip()[:2000]
    try:
        if step == "follow-up":
            services.follow_up(demand.case, actor=request.user, note=note, now=now)
            messages.success(request, _("已记录跟踪督办意见。"))
        else:
            satisfaction = data.get("satisfaction", "")
            if satisfaction not in dict(DEPUTY_RATINGS):
                raise ValidationError({"satisfaction": _("请选择满意程度。")})
            services.evaluate(demand.case, actor=request.user, contacted=True, solved=data.get("solved") == "yes",
                              satisfaction=satisfaction, note=note, now=now)
            messages.success(request, _("已评价。"))
    except ValidationError as exc:
        typed = {"note": data.get("note", ""), "satisfaction": data.get("satisfaction", ""),
                 "solved": "no" if data.get("solved") == "no" else "yes"}
        return _demands_page(request, status=400, failed={
            "case_id": demand.case_id, "step": step, "error": " ".join(exc.messages), "data": typed})
    except TransitionNotAllowed as exc:
        messages.warning(request, exc.detail)
    return redirect(f"/demands/#demand-{case_id}")
