"""Reads of the liaison stations: the five-step loop of a deputy case, station and deputy statistics, scope.

The loop (五单式闭环, DESIGN §8) is read from the case's events, never stored:

| step | 中文 | done by the first/last event |
|---|---|---|
| collect | 收集 | the ``created`` event |
| assign | 交办 | the first ``dispatched`` event (or an on-the-spot ``resolved`` event, which dispatches too) |
| supervise | 督办 | the first ``escalated`` event, or ``commented`` by the raising deputy's login (follow-up note) |
| feedback | 反馈 | the last ``resolved`` event not undone by a later ``reopened`` one |
| evaluate | 评价 | a valid ``callback`` (not unreachable) by the raising deputy's login after that resolution |

Supervise is optional (a case may be resolved without escalation or follow-up), so the step a case "is at"
is the furthest step done, not the first step missing.
"""
import datetime as dt

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery

from cases.boundary import met_q
from cases.choices import Action, Satisfaction
from cases.models import CaseEvent
from grids.choices import Role

from .choices import LoopStep
from .models import Deputy, LiaisonStation, RaisedDemand, Reception

#: Weight of a "basically satisfied" rating in the satisfaction rate (DESIGN §6: w = 0.9 by default);
#: the setting ``STATS_SATISFACTION_WEIGHT_BASIC`` (shared with ``cases.selectors``) overrides it.
DEFAULT_BASIC_WEIGHT = 0.9


_UNKNOWN = object()


def loop_steps(case, *, events=None, deputy_user_id=_UNKNOWN) -> list[dict]:
    """The five steps of a deputy-raised case in order, read from its events.

    ``case``: a Case (its ``raised_demand`` tells whose follow-up notes and rating count; for a case that
    was not raised by a deputy only the deputy-independent steps can be done). ``events``: the case's
    CaseEvents if already loaded (any order), else they are queried. ``deputy_user_id``: the raising
    deputy's user id (or None) if already known, saving a query. Returns five dicts
    ``{"step": "collect", "label": "收集", "at": aware datetime or None, "done": bool}``.
    """
    if deputy_user_id is _UNKNOWN:
        try:
            deputy_user_id = case.raised_demand.deputy.user_id
        except RaisedDemand.DoesNotExist:
            deputy_user_id = None
    if events is None:
        events = case.events.all()
    events = sorted(events, key=lambda e: (e.at, e.pk or 0))
    at = dict.fromkeys(LoopStep.values)
    for event in events:
        action = event.action
        if action == Action.CREATED and at[LoopStep.COLLECT] is None:
            at[LoopStep.COLLECT] = event.at
        elif action == Action.DISPATCHED and at[LoopStep.ASSIGN] is None:
            at[LoopStep.ASSIGN] = event.at
        elif action == Action.ESCALATED or (
            action == Action.COMMENTED and deputy_user_id is not None and event.actor_id == deputy_user_id
        ):
            if at[LoopStep.SUPERVISE] is None:
                at[LoopStep.SUPERVISE] = event.at
        elif action == Action.RESOLVED:
            if at[LoopStep.ASSIGN] is None and (event.data or {}).get("on_the_spot"):
                at[LoopStep.ASSIGN] = event.at
            at[LoopStep.FEEDBACK] = event.at
            at[LoopStep.EVALUATE] = None
        elif action == Action.REOPENED:
            at[LoopStep.FEEDBACK] = at[LoopStep.EVALUATE] = None
        elif (action == Action.CALLBACK and deputy_user_id is not None and event.actor_id == deputy_user_id
              and at[LoopStep.FEEDBACK] is not None
              and (event.data or {}).get("satisfaction") not in (None, "", Satisfaction.UNREACHABLE)):
            at[LoopStep.EVALUATE] = event.at
    return [{"step": step.value, "label": str(step.label), "at": at[step.value], "done": at[step.value] is not None}
            for step in LoopStep]


def current_step(case, *, steps=None) -> str | None:
    """The step a deputy case is at: the furthest of the five steps done (``"collect"`` … ``"evaluate"``).

    ``steps``: the result of :func:`loop_steps` if already computed. None only for a case with no
    ``created`` event (which the services never produce).
    """
    steps = steps if steps is not None else loop_steps(case)
    done = [s["step"] for s in steps if s["done"]]
    return done[-1] if done else None


# --- Statistics ---------------------------------------------------------------------------------------

_VALID_RATINGS = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED, Satisfaction.UNSATISFIED)


def basic_weight() -> float:
    """Weight of "basically satisfied": setting ``STATS_SATISFACTION_WEIGHT_BASIC``, default 0.9 (DESIGN §6)."""
    return float(getattr(settings, "STATS_SATISFACTION_WEIGHT_BASIC", DEFAULT_BASIC_WEIGHT))


def _rate(numerator, denominator):
    return None if not denominator else numerator / denominator


def _demand_counts(group_field: str, *, start, end, full_scope: bool) -> dict:
    """Conditional counts of raised demands grouped by ``group_field`` in one scan: {key: {name: n}}.

    A deputy's evaluation is the case's current valid callback when its actor is the raising deputy's
    login; the actor of the case's latest ``callback`` event is read with a subquery (a valid callback
    is the last one until the case is reopened, and reopening clears the case's callback answers).
    """
    qs = RaisedDemand.objects.all()
    if not full_scope:
        qs = qs.filter(case__excluded=False)
    if start is not None:
        qs = qs.filter(case__received_at__gte=start)
    if end is not None:
        qs = qs.filter(case__received_at__lt=end)
    last_callback_actor = Subquery(
        CaseEvent.objects.filter(case_id=OuterRef("case_id"), action=Action.CALLBACK)
        .order_by("-at", "-id").values("actor_id")[:1]
    )
    qs = qs.annotate(last_callback_actor=last_callback_actor)
    valid = (Q(last_callback_actor=F("deputy__user_id")) & Q(case__callback_at__isnull=False)
             & Q(case__satisfaction__in=_VALID_RATINGS))
    rows = qs.values(group_field).annotate(
        collected=Count("pk"),
        dispatched=Count("pk", filter=Q(case__dispatched_at__isnull=False)),
        resolved=Count("pk", filter=Q(case__resolved_at__isnull=False)),
        resolved_on_time=Count("pk", filter=Q(case__resolved_at__isnull=False, case__resolve_due_at__isnull=False)
                               & met_q("case__resolved_at", "case__resolve_due_at")),
        valid_evaluations=Count("pk", filter=valid),
        contacted=Count("pk", filter=valid & Q(case__callback_contacted=True)),
        solved=Count("pk", filter=valid & Q(case__callback_solved=True)),
        satisfied=Count("pk", filter=valid & Q(case__satisfaction=Satisfaction.SATISFIED)),
        basically_satisfied=Count("pk", filter=valid & Q(case__satisfaction=Satisfaction.BASICALLY_SATISFIED)),
    ).order_by()
    return {row.pop(group_field): row for row in rows}


_COUNT_NAMES = ("collected", "dispatched", "resolved", "resolved_on_time", "valid_evaluations", "contacted",
                "solved", "satisfied", "basically_satisfied")


def _with_rates(counts: dict, weight: float) -> dict:
    counts = {name: counts.get(name, 0) for name in _COUNT_NAMES}
    valid = counts["valid_evaluations"]
    return {
        **counts,
        "closure_rate": _rate(counts["resolved"], counts["dispatched"]),
        "on_time_rate": _rate(counts["resolved_on_time"], counts["resolved"]),
        "response_rate": _rate(counts["contacted"], valid),
        "resolution_rate": _rate(counts["solved"], valid),
        "satisfaction_rate": _rate(counts["satisfied"] + weight * counts["basically_satisfied"], valid),
    }


def station_stats(*, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  full_scope: bool = False) -> list[dict]:
    """Figures of every station's deputy-raised demands, one dict per station in code order.

    Period: cases received in [``start``, ``end``) (aware datetimes; open-ended when None). Scope: the
    assessed scope (not excluded) unless ``full_scope`` (全口径). Counts: ``collected`` (demands raised),
    ``dispatched`` (dispatched at least once, still so after re-dispatch), ``resolved`` (currently
    resolved or closed), ``resolved_on_time`` (``resolved_at <= resolve_due_at``), ``valid_evaluations``
    (the raising deputy's valid callbacks) and of those ``contacted``, ``solved``, ``satisfied``,
    ``basically_satisfied``. Rates (DESIGN §6; None when the denominator is 0): ``closure_rate`` =
    resolved / dispatched, ``on_time_rate`` = resolved_on_time / resolved, ``response_rate`` =
    contacted / valid, ``resolution_rate`` = solved / valid, ``satisfaction_rate`` = (satisfied +
    w × basically_satisfied) / valid with w = :func:`basic_weight`. Keys ``station_id``,
    ``station_code``, ``station`` (name) and ``theme`` identify the row.
    """
    counts = _demand_counts("station_id", start=start, end=end, full_scope=full_scope)
    weight = basic_weight()
    return [
        {"station_id": s.pk, "station_code": s.code, "station": s.name, "theme": s.theme,
         **_with_rates(counts.get(s.pk, {}), weight)}
        for s in LiaisonStation.objects.order_by("code")
    ]


def deputy_stats(*, start: dt.datetime | None = None, end: dt.datetime | None = None,
                 full_scope: bool = False) -> list[dict]:
    """The figures of :func:`station_stats`, one dict per deputy (station code, then deputy code order),
    counting the demands each deputy raised. Keys ``deputy_id``, ``deputy`` (name), ``station_id``
    identify the row."""
    counts = _demand_counts("deputy_id", start=start, end=end, full_scope=full_scope)
    weight = basic_weight()
    return [
        {"deputy_id": d.pk, "deputy": d.name, "station_id": d.station_id, **_with_rates(counts.get(d.pk, {}), weight)}
        for d in Deputy.objects.order_by("station__code", "code")
    ]


# --- Scope (DESIGN §1; the user's reach comes from grids.scope.Scope) -----------------------------------


def _own_deputy_rows(user):
    return Deputy.objects.filter(user=user, is_active=True)


def stations_in_scope(scope, qs):
    """Stations ``scope`` (a ``grids.scope.Scope``) may see, narrowed from ``qs``: every station for any
    role but ``deputy`` (reference data); a deputy's own station only; none without a role."""
    if scope.roles - {Role.DEPUTY}:
        return qs
    if Role.DEPUTY in scope.roles:
        return qs.filter(pk__in=_own_deputy_rows(scope.user).values("station_id"))
    return qs.none()


def deputies_in_scope(scope, qs):
    """Deputies of the stations :func:`stations_in_scope` returns, narrowed from ``qs``."""
    return qs.filter(station__in=stations_in_scope(scope, LiaisonStation.objects.all()))


def receptions_in_scope(scope, qs):
    """Receptions ``scope`` may see, narrowed from ``qs``: all for the town-wide roles; for grid leaders,
    village leaders and cadres those of the stations serving a village they reach; for a deputy those of
    their own station and those they are on duty at; none otherwise (a union over the roles held)."""
    if scope.town_wide:
        return qs
    q = Q(pk__in=[])
    if scope.area_village_ids:
        q |= Q(station__in=LiaisonStation.objects.filter(villages_served__in=sorted(scope.area_village_ids))
               .values("pk"))
    if Role.DEPUTY in scope.roles:
        own = _own_deputy_rows(scope.user)
        q |= Q(station__in=own.values("station_id"))
        q |= Q(pk__in=Reception.deputies.through.objects.filter(deputy__in=own.values("pk")).values("reception_id"))
    return qs.filter(q)


def demands_in_scope(scope, qs):
    """Raised demands whose case ``scope`` sees (``Scope.case_filter``: a deputy, the cases they raised),
    narrowed from ``qs`` (a RaisedDemand queryset)."""
    from cases.models import Case

    q = scope.case_filter()
    return qs if q is None else qs.filter(case__in=Case.objects.filter(q).values("pk"))
