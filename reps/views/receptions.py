"""A liaison station's receptions (接待活动, issue 16 build 6; DESIGN §8) for deputies and the command centre:
the list (planned and held), planning an extra one, recording one as held, and "raise a demand" at one
(``/cases/new/?reception=<id>``, the :class:`cases.pages.CaseOrigin` below).

What a user sees is :func:`reps.selectors.receptions_in_scope` (outside it: 404); who may plan and record is
:func:`reps.scope.may_run_reception` (403), as in the API; every change is one call of :mod:`reps.services`,
whose refusals come back next to their fields with what was typed kept (HTTP 400). A reception is recorded
as held, and demands raised at it, only once it has begun (:mod:`cases.desk.sessions`, issue 16 §3).
"""
from __future__ import annotations

import datetime as dt
import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.choices import Source
from cases.desk.sessions import has_begun
from cases.forms import local_input
from cases.pages import CaseOrigin, apply_errors, int_or_404, int_or_none, page
from cases.services import TransitionNotAllowed
from grids.models import Village
from grids.scope import request_now, request_scope

from .. import selectors, services
from ..choices import ReceptionStatus
from ..forms import ReceptionPlanForm, ReceptionRecordForm
from ..models import Deputy, LiaisonStation, RaisedDemand, Reception
from ..scope import may_run_reception

#: How far back held receptions are listed (planned ones: :func:`reps.services.reception_window`, the same
#: window an extra reception may be planned in).
HELD_DAYS = 60


def _receptions(scope):
    qs = (Reception.objects.select_related("station__village")
          .prefetch_related(Prefetch("deputies", queryset=Deputy.objects.order_by("code")))
          .annotate(demand_count=Count("demands", distinct=True)))
    return selectors.receptions_in_scope(scope, qs)


def _runnable_stations(scope):
    """Active stations the user may plan receptions at (:func:`reps.scope.may_run_reception`)."""
    qs = LiaisonStation.objects.filter(is_active=True).select_related("village").order_by("code")
    if scope.town_wide:
        return qs
    if services.deputy_of(scope.user) is None:
        return qs.none()
    return qs.filter(pk__in=Deputy.objects.filter(user=scope.user, is_active=True).values("station_id"))


def _may_raise(scope, reception, own, now) -> bool:
    """True when the user is a deputy who may raise a demand at ``reception`` now: of its station or on its
    duty list, the reception not cancelled and begun (what ``reps.services.raise_demand`` allows)."""
    if own is None or reception.status == ReceptionStatus.CANCELLED or not has_begun(reception.starts_at, now):
        return False
    return own.station_id == reception.station_id or any(d.pk == own.pk for d in reception.deputies.all())


@login_required
def receptions(request):
    """The receptions in the user's scope (a deputy: own station's and those on duty at): planned ones from
    two weeks back (unrecorded ones flagged 待记录) to six weeks ahead, soonest first, and held ones of the
    last 60 days, newest first; each with its deputies, residents received, demands raised there, and the
    actions the user may take (记录接待, 登记诉求). ``?station=<id>`` narrows to one station."""
    scope, now = request_scope(request), request_now(request)
    if not scope.roles:
        raise PermissionDenied
    qs = _receptions(scope)
    stations = selectors.stations_in_scope(scope, LiaisonStation.objects.order_by("code"))
    if not scope.town_wide:
        stations = stations.filter(pk__in=qs.values("station_id"))
    station_id = int_or_none(request.GET.get("station"))
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    own = services.deputy_of(request.user)
    earliest, latest = services.reception_window(now)
    planned = list(qs.filter(status=ReceptionStatus.PLANNED, starts_at__gte=earliest, starts_at__lte=latest)
                   .order_by("starts_at", "pk"))
    held = list(qs.filter(status=ReceptionStatus.HELD, starts_at__gte=now - dt.timedelta(days=HELD_DAYS))
                .order_by("-starts_at", "-pk")[:100])
    mine = {}
    demands = selectors.demands_in_scope(
        scope, RaisedDemand.objects.filter(reception__in=[r.pk for r in planned + held]).select_related("case"))
    for demand in demands.order_by("raised_at", "pk"):
        mine.setdefault(demand.reception_id, []).append(demand.case)
    runnable = {s.pk for s in _runnable_stations(scope)}
    for reception in planned + held:
        reception.begun = has_begun(reception.starts_at, now)
        reception.may_record = (reception.begun and (reception.station_id in runnable or may_run_reception(
            scope, station_id=reception.station_id, reception=reception)))
        reception.may_raise = _may_raise(scope, reception, own, now)
        reception.visible_cases = mine.get(reception.pk, [])
    return page(request, "reps/receptions.html", {
        "planned": planned, "held": held, "stations": stations, "station_id": station_id,
        "may_plan": bool(runnable)})


@login_required
def reception_new(request):
    """Plan an extra reception (安排接待) at a station the user may run, with the deputies on duty, through
    :func:`reps.services.create_reception`; errors next to their fields."""
    scope, now = request_scope(request), request_now(request)
    stations = _runnable_stations(scope)
    if not stations.exists():
        raise PermissionDenied
    deputies = (Deputy.objects.filter(is_active=True, station__in=stations).select_related("station")
                .order_by("station__code", "code"))
    if request.method == "POST":
        form = ReceptionPlanForm(request.POST, stations=stations, deputies=deputies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                reception = services.create_reception(
                    actor=request.user, station=data["station"], starts_at=data["starts_at"],
                    ends_at=data["ends_at"], deputies=data["deputies"], notes=data["notes"], now=now)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                start = timezone.localtime(reception.starts_at)
                messages.success(request, _("已安排 %(station)s %(start)s 的接待。") % {
                    "station": reception.station.name, "start": f"{start:%Y-%m-%d %H:%M}"})
                return redirect(f"/receptions/?station={reception.station_id}#reception-{reception.pk}")
        status = 400
    else:
        station = stations.first()
        initial = {"station": station.pk}
        own = services.deputy_of(request.user)
        if own is not None:
            initial["deputies"] = [own.pk]
        form = ReceptionPlanForm(initial=initial, stations=stations, deputies=deputies)
        status = 200
    return page(request, "reps/reception_plan.html", {"form": form}, status=status)


@login_required
def reception_record(request, pk: int):
    """Record a reception as held (接待记录: times, deputies present, residents received, notes) through
    :func:`reps.services.record_reception`. One not yet begun is refused with the reason next to its start
    time and nothing written; what was typed stays in the form (HTTP 400)."""
    scope, now = request_scope(request), request_now(request)
    reception = get_object_or_404(_receptions(scope), pk=pk)
    if not may_run_reception(scope, station_id=reception.station_id, reception=reception):
        raise PermissionDenied
    deputies = (Deputy.objects.filter(Q(station_id=reception.station_id, is_active=True)
                                      | Q(pk__in=[d.pk for d in reception.deputies.all()]))
                .select_related("station").distinct().order_by("station__code", "code"))
    if request.method == "POST":
        form = ReceptionRecordForm(request.POST, deputies=deputies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_reception(reception, actor=request.user, deputies=data["deputies"],
                                          residents_received=data["residents_received"], notes=data["notes"],
                                          starts_at=data["starts_at"], ends_at=data["ends_at"], now=now)
            except ValidationError as exc:
                apply_errors(form, exc)
            except TransitionNotAllowed as exc:
                messages.warning(request, exc.detail)
                return redirect("web:receptions")
            else:
                messages.success(request, _("已记录 %(station)s %(date)s 的接待。") % {
                    "station": reception.station.name, "date": reception.date.isoformat()})
                return redirect(f"/receptions/?station={reception.station_id}#reception-{reception.pk}")
        status = 400
    else:
        ends = reception.ends_at
        if reception.status == ReceptionStatus.PLANNED and reception.starts_at < now < ends:
            ends = now  # recorded while it is still going on: it has lasted until now
        form = ReceptionRecordForm(initial={
            "starts_at": local_input(reception.starts_at), "ends_at": local_input(ends),
            "deputies": [d.pk for d in reception.deputies.all()], "residents_received": reception.residents_received,
            "notes": reception.notes if reception.status == ReceptionStatus.HELD else ""}, deputies=deputies)
        status = 200
    return page(request, "reps/reception_record.html", {
        "reception": reception, "form": form, "begun": has_begun(reception.starts_at, now)}, status=status)


def reception_origin(scope, value: str) -> CaseOrigin:
    """``/cases/new/?reception=<id>``: raise a demand at a reception in the user's scope (else 404), as the
    deputy whose login the user is (others: 403) — source ``deputy``, a village the station serves,
    written by :func:`reps.services.raise_demand` with the reception, which refuses one not yet begun or
    cancelled (registered in :mod:`reps.apps` with :func:`cases.pages.register_case_origin`)."""
    reception = get_object_or_404(Reception.objects.select_related("station__village")
                                  .filter(pk__in=_receptions(scope).values("pk")), pk=int_or_404(value))
    deputy = services.deputy_of(scope.user)
    if deputy is None:
        raise PermissionDenied(_("只有人大代表本人可以在接待中登记诉求。"))
    station = reception.station
    villages = scope.villages(Village.objects.filter(
        Q(pk=station.village_id) | Q(pk__in=station.villages_served.values("pk"))).order_by("code"))
    start = timezone.localtime(reception.starts_at)
    note = _("在 %(station)s %(start)s 的接待中登记的代表诉求") % {
        "station": station.name, "start": f"{start:%Y-%m-%d %H:%M}"}
    return CaseOrigin(param="reception", value=str(reception.pk), village=station.village, source=Source.DEPUTY,
                      note=note, villages=villages,
                      create=functools.partial(services.raise_demand, reception=reception, deputy=deputy))
