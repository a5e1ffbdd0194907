"""Who may perform which transition on a case, and who sees complainant phone numbers (DESIGN §1, §4).

The map :data:`PERMISSIONS` is data: for each action (the API's name of a lifecycle transition) the roles
that may perform it. A role counts only on a case inside that role's scope (:mod:`grids.scope`): a grid
leader accepts cases of own grids, a village leader those of own village, a cadre those of assigned
villages; the town-wide roles reach everything. The API, the web pages and the README's lifecycle table
all follow this map; the service functions (``cases.services``) decide whether the case's current state
allows the transition (HTTP 409 otherwise).
"""
from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from grids.choices import Role
from grids.scope import Scope

ADMIN, DISPATCHER, SUPERVISOR = Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR
GRID_LEADER, VILLAGE_LEADER, CADRE, DEPUTY = Role.GRID_LEADER, Role.VILLAGE_LEADER, Role.CADRE, Role.DEPUTY

_HANDLERS = frozenset({ADMIN, GRID_LEADER, VILLAGE_LEADER, CADRE})
_COMMAND_CENTRE = frozenset({ADMIN, DISPATCHER, SUPERVISOR})
_SUPERVISION = frozenset({ADMIN, SUPERVISOR})

#: action → roles that may perform it on a case in the role's scope. ``create`` is checked against the
#: place (grid / village) of the case being logged; a deputy may log a demand anywhere in town.
PERMISSIONS: dict[str, frozenset[str]] = {
    "create": frozenset(Role.values),
    "dispatch": _COMMAND_CENTRE,  # also reassign
    "accept": _HANDLERS,
    "return": _HANDLERS,
    "respond": _HANDLERS,
    "resolve": _HANDLERS,
    "resolve_on_the_spot": _HANDLERS,  # log and resolve at once (就地解决), DESIGN §4
    "extend": _HANDLERS,  # request an extension
    "callback": _COMMAND_CENTRE,
    "reopen": _COMMAND_CENTRE,
    "close": _COMMAND_CENTRE,
    "cancel": _COMMAND_CENTRE,
    "approve_extension": _SUPERVISION,
    "decline_extension": _SUPERVISION,
    "escalate": _SUPERVISION,
    "change_urgency": _SUPERVISION,  # DESIGN §5: a supervisor changes the urgency
    "comment": frozenset(Role.values),  # anyone with the case in scope
    "edit": _COMMAND_CENTRE,  # correct category, kind, urgency, title, address, place (issue 16 build 2)
    "attach": frozenset(Role.values),  # add a photo or file (issue 16 build 4); anyone with the case in scope
    "place": _HANDLERS | _COMMAND_CENTRE,  # set the case's place on the map or from the phone (issue 14)
}

#: Roles that see complainant phone numbers whole (DESIGN §10); everyone else sees them masked.
FULL_PHONE_ROLES = frozenset({ADMIN, DISPATCHER, SUPERVISOR})


def can(scope: Scope, action: str, case) -> bool:
    """True when a role of ``scope`` that may perform ``action`` (:data:`PERMISSIONS`) covers ``case``.

    ``case``: a Case (uses village_id, grid_id, created_by_id, pk). Raises KeyError for an unknown action.
    """
    allowed = PERMISSIONS[action]
    return any(scope.covers(role, village_id=case.village_id, grid_id=case.grid_id, case=case)
               for role in scope.roles & allowed)


def can_create(scope: Scope, *, village_id: int, grid_id: int | None, action: str = "create") -> bool:
    """True when a role of ``scope`` allowed to log cases (``action``: ``create`` or
    ``resolve_on_the_spot``) covers the place ``village_id`` / ``grid_id``."""
    allowed = PERMISSIONS[action]
    return any(scope.covers(role, village_id=village_id, grid_id=grid_id) for role in scope.roles & allowed)


def dispatches_on_logging(scope: Scope, *, grid_id: int | None) -> bool:
    """True when a case logged by this user in ``grid_id`` is dispatched to that grid at once: the user
    is a grid leader of that grid (DESIGN §5)."""
    return grid_id is not None and scope.covers(GRID_LEADER, village_id=None, grid_id=grid_id)


def denial_detail(action: str) -> str:
    """A sentence for people naming the roles that may perform ``action`` (for HTTP 403 bodies)."""
    labels = "、".join(str(Role(r).label) for r in Role.values if r in PERMISSIONS[action])
    return str(_("您的角色无权执行此操作（可执行：%(roles)s）。")) % {"roles": labels}


def sees_full_phone(scope: Scope) -> bool:
    """True for dispatchers, supervisors and admins (DESIGN §10)."""
    return bool(scope.roles & FULL_PHONE_ROLES)


def may_reveal_phone(scope: Scope, case) -> bool:
    """True when the user may reveal the masked complainant phone of ``case`` to call the complainant
    (DESIGN §10; issue 16 §6): the case's current handler (``case.handler_id`` is the user's cadre) or the
    leader of its grid (``case.grid.leader_id``; uses ``case.grid`` when set). Users who see phones whole
    need no reveal; everyone else keeps the mask. Each reveal is audited (:mod:`cases.desk.phone`)."""
    if sees_full_phone(scope) or scope.cadre_id is None or not case.complainant_phone:
        return False
    if case.handler_id is not None and case.handler_id == scope.cadre_id:
        return True
    return case.grid_id is not None and case.grid.leader_id == scope.cadre_id


_DIGIT = re.compile(r"\d")


def shown_text(scope: Scope, text: str) -> str:
    """``text`` (a case's title or description) as ``scope`` may see it: whole for the roles that see phone
    numbers whole (:func:`sees_full_phone`), else with phone, ID-card numbers and labelled names in it
    masked by the importer's rule (``cases.importing.mask_personal_data``, DESIGN §10)."""
    if sees_full_phone(scope) or not text:
        return text
    from .importing import mask_personal_data

    return mask_personal_data(text)


def mask_phone(phone: str) -> str:
    """Mask a phone number for display: keep the first three and last four digits (138****5678).

    Separators are dropped. Numbers with fewer than eight digits keep only their last two digits
    (``****34``); an empty string stays empty.
    """
    digits = "".join(_DIGIT.findall(phone or ""))
    if not digits:
        return "****" if phone else ""
    if len(digits) >= 8:
        return f"{digits[:3]}****{digits[-4:]}"
    return f"****{digits[-2:]}"
