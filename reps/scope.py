"""Who sees and records which weekly visits (DESIGN §1, §7): the visits' part of the scope, over the reach
that :class:`grids.scope.Scope` computes once per request.

A grid leader sees the visits to the villages of own grids, a village leader those to own village, a cadre
own visits and those to assigned villages, a deputy none; the town-wide roles see all. Recording a visit
and raising cases at it is for the visit's own cadre, or a role of :data:`VISIT_RECORDING_ROLES`.
"""
from __future__ import annotations

from django.db.models import Q, QuerySet

from grids.choices import Role

#: Roles that may record any visit in their scope and raise cases at it, besides the visit's own cadre. The
#: supervisor watches coverage and misses and does not write the reports it watches; an admin corrects data.
#: The web page (``/visits/<id>/record/``) allows the same people.
VISIT_RECORDING_ROLES = frozenset({Role.ADMIN})

_NOTHING = Q(pk__in=[])


def visit_filter(scope) -> Q | None:
    """A Q over ``reps.Visit`` for the visits in ``scope`` (a :class:`grids.scope.Scope`); None when the
    whole town is.

    Grid leader: visits to the villages of own grids; village leader: to own village; cadre: own visits
    (whatever the village, so past visits stay visible after an assignment ends) and visits to the
    villages assigned today; deputy: none.
    """
    if scope.town_wide:
        return None
    q = _NOTHING
    if scope.area_village_ids:
        q |= Q(village_id__in=sorted(scope.area_village_ids))
    if Role.CADRE in scope.roles and scope.cadre_id:
        q |= Q(cadre_id=scope.cadre_id)
    return q


def visits_in_scope(scope, qs: QuerySet) -> QuerySet:
    """``qs`` (a Visit queryset) narrowed to the visits in ``scope`` (:func:`visit_filter`)."""
    q = visit_filter(scope)
    return qs if q is None else qs.filter(q)


def recordable_visits(scope, qs: QuerySet) -> QuerySet:
    """``qs`` (a Visit queryset) narrowed to the visits :func:`may_record_visit` allows: all of those in
    scope for a role of :data:`VISIT_RECORDING_ROLES`, else the user's own (none without a Cadre)."""
    qs = visits_in_scope(scope, qs)
    if scope.roles & VISIT_RECORDING_ROLES:
        return qs
    return qs.filter(cadre_id=scope.cadre_id) if scope.cadre_id else qs.none()


def may_record_visit(scope, visit) -> bool:
    """True when the user may record ``visit`` (a Visit in scope, uses ``cadre_id``) or raise cases at it:
    the visit's own cadre (the user's active Cadre), or a role of :data:`VISIT_RECORDING_ROLES`."""
    if scope.roles & VISIT_RECORDING_ROLES:
        return True
    return scope.cadre_id is not None and scope.cadre_id == visit.cadre_id


# --- Cases a deputy raised (registered into grids.scope by reps.apps) ---------------------------------------


def raised_demands_q(scope) -> Q:
    """A Q over ``cases.Case``: the demands ``scope.user`` raised as a deputy (``reps.RaisedDemand``, DESIGN
    §8). Never queries by itself."""
    user = scope.user
    if user is None or not user.is_authenticated:
        return _NOTHING
    return Q(raised_demand__deputy__user=user)


def raised_demand_covers(scope, case) -> bool:
    """True when ``case`` is a demand ``scope.user`` raised as a deputy. One query per scope (the ids are kept
    in ``scope.cache``), only when asked."""
    ids = scope.cache.get("reps.raised_case_ids")
    if ids is None:
        from .models import RaisedDemand

        user = scope.user
        ids = frozenset() if user is None or not user.is_authenticated else frozenset(
            RaisedDemand.objects.filter(deputy__user=user).values_list("case_id", flat=True))
        scope.cache["reps.raised_case_ids"] = ids
    return case.pk in ids


# --- Who runs a station's receptions (the API and the pages) ------------------------------------------------


def may_run_reception(scope, *, station_id: int, reception=None) -> bool:
    """True when the user of ``scope`` may plan, record or cancel receptions of station ``station_id``:
    the town-wide roles (admin, dispatcher, supervisor) at every station; an active deputy at their own
    station, and at ``reception`` (a Reception, optional) when on its duty list. One query or two."""
    if scope.town_wide:
        return True
    if Role.DEPUTY not in scope.roles or scope.user is None:
        return False
    from .models import Deputy

    own = Deputy.objects.filter(user=scope.user, is_active=True)
    if own.filter(station_id=station_id).exists():
        return True
    return reception is not None and reception.deputies.filter(pk__in=own.values("pk")).exists()
