"""Who sees what: the scope of a user's roles over the town (DESIGN §1), computed in this one place.

A user's roles are the Django groups named by :class:`grids.choices.Role` values (a superuser holds
``admin``). The town-wide roles (``admin``, ``dispatcher``, ``supervisor``) see the whole town. The local
roles reach through the user's Cadre (``user.cadre``, active only):

==================  ================================================================================
``grid_leader``     own grids: ``Grid.leader`` is the cadre or ``Grid.members`` holds it
``village_leader``  own village: ``Village.chief_grid_leader`` is the cadre
``cadre``           assigned villages: a ``VillageAssignment`` active on the Asia/Shanghai date of the
                    request (``start_date <= today``, ``end_date`` empty or ``>= today``)
``deputy``          cases they logged (``Case.created_by``), and those an app above links to them
                    (``reps``: the demands they raised) through :func:`register_case_reach`
==================  ================================================================================

Apps above extend the reach over cases without this module naming them: :func:`register_case_reach`
(called from their ``AppConfig.ready()``) adds a Q over cases for a role and the matching per-case test.
The weekly visits' part of the scope is ``reps.scope``.

Every API view and web page filters through :class:`Scope`; objects outside it are answered 404 (DESIGN
§1: no leak of their existence). :func:`request_scope` computes the scope once per request (at most five
small queries, whatever the page size) and keeps it on the request.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.utils import timezone

from .choices import Role

#: Roles that see and act on the whole town.
TOWN_WIDE_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR})
#: Roles whose reach is a part of the town through the user's Cadre.
LOCAL_ROLES = frozenset({Role.GRID_LEADER, Role.VILLAGE_LEADER, Role.CADRE})
_NOTHING = Q(pk__in=[])


@dataclasses.dataclass(frozen=True)
class CaseReach:
    """Cases that an app above puts in the scope of one role (DESIGN §1), e.g. the demands a deputy raised.

    ``q(scope) -> Q`` over ``cases.Case`` (never queries by itself); ``covers(scope, case) -> bool`` the same
    test for one case (it may query once per scope and keep the answer in ``scope.cache``).
    """

    name: str
    role: str
    q: Callable
    covers: Callable


_CASE_REACH: dict[str, CaseReach] = {}


def register_case_reach(name: str, *, role: str, q: Callable, covers: Callable) -> None:
    """Add (or replace, by ``name``) a :class:`CaseReach` for ``role`` (a :class:`Role` value). Called from
    an app's ``AppConfig.ready()``; every scope of a user holding ``role`` then reaches those cases too."""
    _CASE_REACH[name] = CaseReach(name, role, q, covers)


def case_reaches(role: str) -> list[CaseReach]:
    """The registered reaches of ``role``, by name."""
    return [r for _name, r in sorted(_CASE_REACH.items()) if r.role == role]


def local_today(now: dt.datetime | None = None) -> dt.date:
    """The Asia/Shanghai calendar date of ``now`` (aware; default the current time)."""
    return timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).date()


@dataclasses.dataclass(frozen=True)
class Scope:
    """The reach of one user's roles; build it with :func:`scope_for` / :func:`request_scope`.

    Id sets are primary keys. ``own_grid_ids``: grids led or joined (grid_leader);
    ``led_village_ids``: villages led (village_leader); ``assigned_village_ids``: villages assigned today
    (cadre); ``own_grid_village_ids``: the villages of ``own_grid_ids``. ``cache``: answers that
    registered reaches keep for the life of the scope (one request).
    """

    user: object
    roles: frozenset[str]
    cadre_id: int | None = None
    own_grid_ids: frozenset[int] = frozenset()
    own_grid_village_ids: frozenset[int] = frozenset()
    led_village_ids: frozenset[int] = frozenset()
    assigned_village_ids: frozenset[int] = frozenset()
    cache: dict = dataclasses.field(default_factory=dict, compare=False, hash=False, repr=False)

    # --- roles ---------------------------------------------------------------------------------------

    @property
    def town_wide(self) -> bool:
        """True for admin, dispatcher and supervisor: the whole town is in scope."""
        return bool(self.roles & TOWN_WIDE_ROLES)

    def has(self, *roles: str) -> bool:
        """True when the user holds at least one of ``roles``."""
        return bool(self.roles.intersection(roles))

    @property
    def area_village_ids(self) -> frozenset[int]:
        """Villages the local roles reach (grid leader: villages of own grids)."""
        return self.own_grid_village_ids | self.led_village_ids | self.assigned_village_ids

    # --- single objects ------------------------------------------------------------------------------

    def covers(self, role: str, *, village_id: int | None, grid_id: int | None = None, case=None) -> bool:
        """True when the user holds ``role`` and the place (or ``case``) lies in that role's scope.

        ``village_id``/``grid_id``: the place of a case or of a case about to be logged. For ``deputy``
        only ``case`` counts (cases they logged, and those a registered :class:`CaseReach` gives them);
        without a case a deputy covers every place, since a deputy may log a demand from anywhere in town.
        """
        if role not in self.roles:
            return False
        if role in TOWN_WIDE_ROLES:
            return True
        if role == Role.GRID_LEADER:
            return grid_id is not None and grid_id in self.own_grid_ids
        if role == Role.VILLAGE_LEADER:
            return village_id in self.led_village_ids
        if role == Role.CADRE:
            return village_id in self.assigned_village_ids
        if role == Role.DEPUTY:
            if case is None:
                return True
            return case.created_by_id == getattr(self.user, "pk", None) or any(
                reach.covers(self, case) for reach in case_reaches(role))
        return False

    def roles_covering_case(self, case) -> frozenset[str]:
        """The roles of the user whose scope holds ``case`` (a Case with village_id, grid_id, created_by_id)."""
        return frozenset(r for r in self.roles if self.covers(r, village_id=case.village_id, grid_id=case.grid_id,
                                                              case=case))

    # --- querysets -----------------------------------------------------------------------------------

    def case_filter(self) -> Q | None:
        """A Q over ``cases.Case`` for the cases in scope; None when the whole town is."""
        if self.town_wide:
            return None
        q = _NOTHING
        if self.own_grid_ids:
            q |= Q(grid_id__in=sorted(self.own_grid_ids))
        villages = self.led_village_ids | self.assigned_village_ids
        if villages:
            q |= Q(village_id__in=sorted(villages))
        if Role.DEPUTY in self.roles:
            q |= Q(created_by=self.user)
            for reach in case_reaches(Role.DEPUTY):
                q |= reach.q(self)
        return q

    def cases(self, qs: QuerySet) -> QuerySet:
        """``qs`` (a Case queryset) narrowed to the cases in scope."""
        q = self.case_filter()
        return qs if q is None else qs.filter(q)

    def villages(self, qs: QuerySet) -> QuerySet:
        """Villages in scope: all for town-wide roles and deputies (who log demands from anywhere),
        else the villages the local roles reach."""
        if self.town_wide or Role.DEPUTY in self.roles:
            return qs
        return qs.filter(pk__in=sorted(self.area_village_ids))

    def grids(self, qs: QuerySet) -> QuerySet:
        """Grids in scope: all for town-wide roles and deputies; own grids, and every grid of a led or
        assigned village."""
        if self.town_wide or Role.DEPUTY in self.roles:
            return qs
        villages = self.led_village_ids | self.assigned_village_ids
        return qs.filter(Q(pk__in=sorted(self.own_grid_ids)) | Q(village_id__in=sorted(villages)))

    def cadres(self, qs: QuerySet, *, today: dt.date) -> QuerySet:
        """Cadres in scope: all for town-wide roles; else the user's own cadre, the cadres of the villages
        the local roles reach and the town cadres assigned to those villages on ``today``."""
        if self.town_wide:
            return qs
        area = sorted(self.area_village_ids)
        q = Q(pk=self.cadre_id) if self.cadre_id else _NOTHING
        if area:
            from .models import VillageAssignment

            assigned = VillageAssignment.objects.filter(village_id__in=area).filter(active_on(today))
            q |= Q(village_id__in=area) | Q(pk__in=assigned.values("cadre_id"))
        return qs.filter(q)

    def assignments(self, qs: QuerySet) -> QuerySet:
        """Village assignments in scope: all for town-wide roles; else those of the villages the local
        roles reach and the user's own."""
        if self.town_wide:
            return qs
        q = Q(cadre_id=self.cadre_id) if self.cadre_id else _NOTHING
        area = self.area_village_ids
        if area:
            q |= Q(village_id__in=sorted(area))
        return qs.filter(q)


def active_on(day: dt.date, prefix: str = "") -> Q:
    """A Q for VillageAssignment rows active on ``day`` (inclusive bounds, open end allowed)."""
    return Q(**{f"{prefix}start_date__lte": day}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": day})
    )


def roles_of(user) -> frozenset[str]:
    """The Role values ``user`` holds: its groups named by a role; a superuser also holds ``admin``.

    Anonymous and inactive users hold none. One query.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    if user.is_superuser:
        names.add(Role.ADMIN)
    return frozenset(names)


def scope_for(user, *, today: dt.date | None = None) -> Scope:
    """Compute the scope of ``user`` on ``today`` (Asia/Shanghai date; default: now).

    One query for the roles, then one per local role held (the cadre, its grids, led villages, active
    assignments). A user with a local role but no active Cadre reaches nothing through it.
    """
    roles = roles_of(user)
    if not roles & LOCAL_ROLES:
        return Scope(user=user, roles=roles)
    from .models import Cadre, Grid, Village, VillageAssignment

    today = today or local_today()
    cadre = Cadre.objects.filter(user=user, is_active=True).values_list("pk", flat=True).first()
    if cadre is None:
        return Scope(user=user, roles=roles)
    fields = {"cadre_id": cadre}
    if Role.GRID_LEADER in roles:
        rows = set(Grid.objects.filter(Q(leader_id=cadre) | Q(members__id=cadre)).values_list("pk", "village_id"))
        fields["own_grid_ids"] = frozenset(pk for pk, _ in rows)
        fields["own_grid_village_ids"] = frozenset(v for _, v in rows)
    if Role.VILLAGE_LEADER in roles:
        fields["led_village_ids"] = frozenset(
            Village.objects.filter(chief_grid_leader_id=cadre).values_list("pk", flat=True))
    if Role.CADRE in roles:
        fields["assigned_village_ids"] = frozenset(
            VillageAssignment.objects.filter(active_on(today), cadre_id=cadre).values_list("village_id", flat=True))
    return Scope(user=user, roles=roles, **fields)


def request_now(request) -> dt.datetime:
    """The clock of one request: ``timezone.now()`` read on first use and kept on the request, so that
    filters, scope and serializers of one request agree on "now" (aware, UTC)."""
    now = getattr(request, "_xiji_now", None)
    if now is None:
        now = timezone.now()
        request._xiji_now = now
    return now


def request_scope(request) -> Scope:
    """The scope of ``request.user`` on the request's date, computed on first use and kept on the request
    (a DRF or a Django request)."""
    scope = getattr(request, "_xiji_scope", None)
    if scope is None or scope.user is not request.user:
        scope = scope_for(request.user, today=local_today(request_now(request)))
        request._xiji_scope = scope
    return scope
