"""A town cadre's weekly visits (走访接待日, issue 7; DESIGN §7): this week's visits with "record" and "log a
case from the visit", the record form, and the visits section of the workbench. Every change is one call of
``reps.visits`` (no view sets a status); errors are shown next to their fields."""
from __future__ import annotations

import datetime as dt
import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import services
from cases.choices import Source
from cases.forms import local_input
from cases.models import Case
from cases.pages import CaseOrigin, apply_errors, int_or_404, page
from grids.scope import local_today, request_now, request_scope

from ..choices import VisitStatus
from ..forms import VisitRecordForm
from ..models import Visit
from ..scope import recordable_visits
from ..visits import current_week, raise_case_at_visit, record_visit, shown_state, visit_hours


def recordable(scope):
    """Visits the user may record or log cases from (:func:`reps.scope.recordable_visits`)."""
    return recordable_visits(scope, Visit.objects.select_related("village", "cadre"))


def week_visits(scope, now) -> list:
    """The cadre's visits of the current ISO week and the missed ones of the last two weeks (``now``: aware),
    by planned date and village code. Each has ``shown_key`` and ``shown_label`` (:func:`reps.visits.shown_state`)."""
    week = current_week(now)
    today = local_today(now)
    rows = list(recordable(scope).filter(cadre_id=scope.cadre_id).filter(
        Q(iso_week=week) | Q(status=VisitStatus.MISSED, planned_date__gte=today - dt.timedelta(days=14)))
        .order_by("planned_date", "village__code"))
    for visit in rows:  # planned visits whose day has come read as due / overdue (reps.visits.shown_state)
        visit.shown_key, visit.shown_label = shown_state(visit.status, visit.planned_date, today)
    return rows


@login_required
def visits(request):
    """This week's visits of the logged-in cadre (and missed ones of the last two weeks), each with
    "record" and "log a case from the visit", and the cases already raised there."""
    scope, now = request_scope(request), request_now(request)
    if not scope.cadre_id:
        raise Http404
    rows = week_visits(scope, now)
    raised = {}
    for case in (Case.objects.filter(visit_link__visit__in=[v.pk for v in rows]).select_related("visit_link")
                 .order_by("received_at")):
        raised.setdefault(case.visit_link.visit_id, []).append(case)
    return page(request, "reps/visits.html", {
        "rows": [(v, raised.get(v.pk, [])) for v in rows], "today": local_today(now),
        "recordable": {VisitStatus.PLANNED, VisitStatus.MISSED, VisitStatus.DONE},
    })


@login_required
def visit_record(request, pk: int):
    """Record a visit (time, households visited, people received, notes) with
    :func:`reps.visits.record_visit`; errors next to their fields."""
    scope, now = request_scope(request), request_now(request)
    visit = get_object_or_404(recordable(scope), pk=pk)
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


def visit_origin(scope, value: str) -> CaseOrigin:
    """``/cases/new/?visit=<id>``: log a case from one of the user's recordable visits (404 otherwise) —
    source ``visit``, the visit's village, written by :func:`reps.visits.raise_case_at_visit` (registered in
    :mod:`reps.apps` with :func:`cases.pages.register_case_origin`)."""
    visit = get_object_or_404(recordable(scope), pk=int_or_404(value))
    note = _("来自 %(village)s 的走访接待日（%(date)s）") % {
        "village": visit.village.short_name, "date": visit.planned_date.isoformat() if visit.planned_date else ""}
    return CaseOrigin(param="visit", value=str(visit.pk), village=visit.village, source=Source.VISIT, note=note,
                      create=functools.partial(raise_case_at_visit, visit))
