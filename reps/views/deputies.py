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

from cases.choices import Satisfaction, Status
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


@login_required
def demands(request):
    """The deputy's raised demands, newest first, each with its five steps (收集 交办 督办 反馈 评价) and the
    time of each; the raising deputy may add a follow-up note to an open one and rate a resolved one.
    Other roles see the deputy demands within their case scope, read-only."""
    scope = request_scope(request)
    if not scope.roles:
        raise PermissionDenied
    own = deputy_of(request.user)
    rows = []
    for demand in _demands(scope)[:100]:
        case = demand.case
        steps = selectors.loop_steps(case, events=list(case.events.all()), deputy_user_id=demand.deputy.user_id)
        mine = own is not None and demand.deputy_id == own.pk
        rows.append({"demand": demand, "case": case, "steps": steps,
                     "may_follow_up": mine and case.is_open,
                     # rated once: a valid callback (anything but unreachable) ends the 评价 step
                     "may_evaluate": mine and case.status == Status.RESOLVED
                     and case.satisfaction in ("", None, Satisfaction.UNREACHABLE)})
    return page(request, "reps/demands.html", {"rows": rows, "ratings": DEPUTY_RATINGS, "is_deputy": own is not None})


@login_required
@require_POST
def demand_act(request, case_id: int, step: str):
    """POST ``follow-up`` (``note``) or ``evaluate`` (``satisfaction``, ``solved``) on one of the user's own
    raised demands through :mod:`reps.services`; refusals come back as a message, nothing changed."""
    scope, now = request_scope(request), request_now(request)
    demand = get_object_or_404(_demands(scope), case_id=case_id)
    if step not in ("follow-up", "evaluate"):
        raise PermissionDenied
    data = request.POST
    try:
        if step == "follow-up":
            services.follow_up(demand.case, actor=request.user, note=data.get("note", "").strip()[:2000], now=now)
            messages.success(request, _("已记录跟踪督办意见。"))
        else:
            satisfaction = data.get("satisfaction", "")
            if satisfaction not in dict(DEPUTY_RATINGS):
                raise ValidationError(_("请选择满意程度。"))
            services.evaluate(demand.case, actor=request.user, contacted=True, solved=data.get("solved") == "yes",
                              satisfaction=satisfaction, note=data.get("note", "").strip()[:2000], now=now)
            messages.success(request, _("已评价。"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except TransitionNotAllowed as exc:
        messages.warning(request, exc.detail)
    return redirect(f"/demands/#demand-{case_id}")
