"""A town cadre's weekly visits (走访接待日, issue 7; DESIGN §7): this week's visits with "record" and "log a
case from the visit", the record form, and the visits section of the workbench. Every change is one call of
``grids.visits`` (no view sets a status); errors are shown next to their fields."""
from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import services
from cases.forms import local_input
from cases.models import Case
from cases.pages import apply_errors, page
from grids.choices import VisitStatus
from grids.models import Visit
from grids.scope import local_today, request_now, request_scope

from ..forms import VisitRecordForm


def visits_in_scope(scope):
    """Visits the user may record or log cases from (:meth:`grids.scope.Scope.recordable_visits`)."""
    return scope.recordable_visits(Visit.objects.select_related("village", "cadre"))


def week_visits(scope, now) -> list:
    """The cadre's visits of the current ISO week and the missed ones of the last two weeks (``now``: aware),
    by planned date and village code."""
    from grids.visits import current_week

    week = current_week(now)
    today = local_today(now)
    return list(visits_in_scope(scope).filter(cadre_id=scope.cadre_id).filter(
        Q(iso_week=week) | Q(status=VisitStatus.MISSED, planned_date__gte=today - dt.timedelta(days=14)))
        .order_by("planned_date", "village__code"))


@login_required
def visits(request):
    """This week's visits of the logged-in cadre (and missed ones of the last two weeks), each with
    "record" and "log a case from the visit", and the cases already raised there."""
    scope, now = request_scope(request), request_now(request)
    if not scope.cadre_id:
        raise Http404
    rows = week_visits(scope, now)
    raised = {}
    for case in Case.objects.filter(visit__in=[v.pk for v in rows]).order_by("received_at"):
        raised.setdefault(case.visit_id, []).append(case)
    return page(request, "reps/visits.html", {
        "rows": [(v, raised.get(v.pk, [])) for v in rows], "today": local_today(now),
        "recordable": {VisitStatus.PLANNED, VisitStatus.MISSED, VisitStatus.DONE},
    })


@login_required
def visit_record(request, pk: int):
    """Record a visit (time, households visited, people received, notes) with
    :func:`grids.visits.record_visit`; errors next to their fields."""
    from grids.visits import record_visit, visit_hours

    scope, now = request_scope(request), request_now(request)
    visit = get_object_or_404(visits_in_scope(scope), pk=pk)
    if request.method == "POST":
        form = VisitRecordForm(request.POST)
        if form.is_valid():
            try:
                record_visit(visit, actor=request.user, now=now, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
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
            initial = {"started_at": local_input(visit.started_at), "ended_at": local_input(visit.ended_at),
                       "households_visited": visit.households_visited, "people_received": visit.people_received,
                       "notes": visit.notes}
        else:
            began = dt.datetime.combine(day, start, tzinfo=zone)
            ended = min(dt.datetime.combine(day, end, tzinfo=zone), now)
            initial = {"started_at": local_input(began), "ended_at": local_input(max(ended, began))}
        form = VisitRecordForm(initial=initial)
        status = 200
    return page(request, "reps/visit_record.html", {"visit": visit, "form": form}, status=status)



def workbench_visits(request, scope, now) -> dict | None:
    """The workbench section of a cadre: this week's visits (:func:`week_visits`); None for a user without
    a Cadre (registered in :mod:`reps.apps` with :func:`cases.pages.register_workbench_panel`)."""
    if not scope.cadre_id:
        return None
    return {"visits": week_visits(scope, now)}
