"""The grid leader's workbench (issue 6 §3): my open cases, nearest deadline first, with live countdowns;
sections registered by other apps below (:func:`cases.pages.register_workbench_panel`)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import models
from django.db.models import F
from django.utils.translation import pgettext

from grids.scope import request_now, request_scope

from ..api.serializers import deadline_state
from ..choices import OPEN_STATES
from ..models import Case
from ..pages import page, workbench_panels

WORKBENCH_LIMIT = 200

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
    breached; links to log a case and my notifications; then the registered sections (a cadre's visits of
    this week come from ``reps``)."""
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
    return page(request, "cases/workbench.html", {"rows": rows, "summary": summary,
                                                  "panels": workbench_panels(request, scope, now)})

