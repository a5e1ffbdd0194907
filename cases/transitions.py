"""What each step of a case's first round does, as pure functions: (state, event, policy) → changes, event,
notices (issue 17 build 2, DESIGN §4–§5).

Two writers apply them. :mod:`cases.services` applies one step to one case under its row lock and saves it
through the ORM (the careful path of every desk, API and replayed record); :mod:`cases.bulk_import` folds
the steps of many historical records in memory and writes the rows of a chunk with a few bulk inserts (the
fast path of large imports). The rule of a step — which columns change, the event it writes and the data it
carries, whom it notifies — lives only here, so both writers give the same rows (tests/test_bulk_import.py).
The deadline sweep's rule has the same shape in :func:`cases.marks.sweep_outcome`.

A *state* is a Case or any object with its attribute names (``status``, ``received_at``, the deadline,
mark and milestone columns, ``grid_id``, ``handler_id``, ``deadline_source``, ``extension_requested_until``).
Nothing here reads or writes the database or modifies the state: a step returns the columns to set
(:attr:`Step.changes`, always with the recomputed ``next_check_at``), the one CaseEvent to write
(:attr:`Step.event`: action, from/to status, at, note, data; the writer adds case and actor) and the
notifications to store (:attr:`Step.notices`). Times are aware datetimes (UTC in storage).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .boundary import iso_utc
from .choices import OPEN_STATES, Action, NotificationKind, Status
from .deadlines import (
    ExternalDeadlines,
    dispatch_deadline,
    external_deadlines,
    needs_policy_deadlines,
    policy_deadlines,
)
from .marks import STATE_COLUMNS, next_check_at


class TransitionNotAllowed(Exception):
    """The transition does not apply to the case in its current state (HTTP 409).

    ``code`` is a stable machine-readable reason, ``detail`` a sentence for people.
    """

    def __init__(self, detail: str, code: str = "transition_not_allowed"):
        super().__init__(detail)
        self.detail = detail
        self.code = code


#: The lifecycle table (README): the states each transition may start from. Web pages and the API read it
#: to offer only actions that can apply; the services are the authority and enforce it.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "dispatch": (Status.RECEIVED, Status.RETURNED, Status.DISPATCHED, Status.ACCEPTED),
    "accept": (Status.DISPATCHED,),
    "return": (Status.DISPATCHED, Status.ACCEPTED),
    "respond": (Status.ACCEPTED,),
    "resolve": (Status.RESPONDED, Status.RECEIVED),
    "callback": (Status.RESOLVED,),
    "reopen": (Status.RESOLVED,),
    "close": (Status.RESOLVED,),
    "cancel": tuple(OPEN_STATES),
    "extend": (Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED),
    "approve_extension": (Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED),
    "decline_extension": (Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED),
    "escalate": tuple(OPEN_STATES),
    "comment": tuple(Status),
    "change_urgency": tuple(OPEN_STATES),
}


class Notice(NamedTuple):
    """One notification a step stores: ``recipient_id`` (a user id), ``kind`` (NotificationKind), ``title``,
    ``body``, ``created_at`` (aware) and ``dedupe_key`` with ``{case}`` standing for the case's id (a new
    case has none until it is inserted): :meth:`key` fills it in."""

    recipient_id: int
    kind: str
    title: str
    body: str
    dedupe_key: str
    created_at: dt.datetime

    def key(self, case_id: int) -> str:
        """The dedupe key of the notification of case ``case_id``."""
        return self.dedupe_key.format(case=case_id)


class Step(NamedTuple):
    """The effect of one transition: ``changes`` (Case column → value, ``status`` and ``next_check_at``
    included), ``event`` (CaseEvent fields but case and actor) and ``notices`` (:class:`Notice`)."""

    changes: dict[str, Any]
    event: dict[str, Any]
    notices: tuple[Notice, ...] = ()


def check_allowed(state, allowed_from, action: str) -> None:
    """Raise TransitionNotAllowed unless ``state.status`` is in ``allowed_from`` (a tuple of
    :data:`ALLOWED_FROM`); ``action`` (an :class:`Action`) names the transition in the message."""
    if state.status not in allowed_from:
        raise TransitionNotAllowed(
            _("诉求 %(number)s 当前状态为“%(status)s”，不能执行“%(action)s”。")
            % {"number": state.number, "status": Status(state.status).label, "action": Action(action).label})


def apply(state, step: Step) -> None:
    """Set ``step.changes`` on ``state`` (in memory; the writer saves)."""
    for name, value in step.changes.items():
        setattr(state, name, value)


def _step(state, action, changes: dict, *, at, from_status=None, note="", data=None, notices=()) -> Step:
    view = {name: getattr(state, name, None) for name in STATE_COLUMNS}
    view.update(changes)
    changes["next_check_at"] = next_check_at(view)
    event = {"action": action, "from_status": state.status if from_status is None else from_status,
             "to_status": view["status"], "at": at, "note": note, "data": data or {}}
    return Step(changes, event, tuple(notices))


def drop_extension_request(state) -> tuple[dict, dict]:
    """``(changes, event data)`` that withdraw a pending extension request the step makes moot; both empty
    when none is pending."""
    if state.extension_requested_until is None:
        return {}, {}
    return ({"extension_requested_until": None},
            {"extension_request_dropped": iso_utc(state.extension_requested_until)})


# --- The steps ---------------------------------------------------------------------------------------


def receive(state, *, source: str, policy, deadlines: ExternalDeadlines | None = None, now: dt.datetime) -> Step:
    """Log (登记) a new case, state ``received``: every clock runs from ``state.received_at`` (issue 12 §4) —
    the dispatch deadline of ``policy`` (the SlaPolicy of the urgency, or None), and the respond and resolve
    deadlines of the source's own ``deadlines`` when given (they govern), else of ``policy``. The ``created``
    event at ``now`` names the source, the received time and the source's deadlines."""
    received_at = state.received_at
    changes: dict[str, Any] = {"status": Status.RECEIVED, **dispatch_deadline(received_at, policy)}
    data: dict[str, Any] = {"source": source, "received_at": iso_utc(received_at)}
    if deadlines is not None:
        changes.update(external_deadlines(received_at, deadlines, policy))
        data["deadlines"] = {"respond_due_at": iso_utc(deadlines.respond_due_at),
                             "resolve_due_at": iso_utc(deadlines.resolve_due_at)}
    elif policy is not None:
        changes.update(policy_deadlines(received_at, policy))
    return _step(state, Action.CREATED, changes, at=now, from_status="", data=data)


def dispatch(state, *, grid, handler, actor_id: int | None, policy, now: dt.datetime, note: str = "") -> Step:
    """Dispatch (派单) or reassign to ``grid`` (a Grid: ``pk``, ``village_id``, ``code``) and ``handler`` (a
    Cadre with ``pk`` and ``user_id``, or None): → ``dispatched``. ``dispatched_at`` stays the first dispatch;
    ``policy`` (the urgency's SlaPolicy) gives the deadlines of a case that still waits for them
    (:func:`cases.deadlines.needs_policy_deadlines`; None otherwise). The handler's login is notified unless
    it is the actor's own (``actor_id``). Raises TransitionNotAllowed (``already_dispatched``) for a
    dispatched or accepted case sent again to the grid and handler it has."""
    previous = state.grid_id
    if (state.status in (Status.DISPATCHED, Status.ACCEPTED) and previous == grid.pk
            and (handler is None or state.handler_id == handler.pk)):
        raise TransitionNotAllowed(
            _("诉求 %(number)s 已派往 %(grid)s，不能重复派往同一微网格。")
            % {"number": state.number, "grid": str(grid)}, code="already_dispatched")  # 村·微网格
    changes: dict[str, Any] = {
        "status": Status.DISPATCHED, "grid_id": grid.pk, "village_id": grid.village_id,
        "handler_id": handler.pk if handler is not None else None,
        "dispatched_at": state.dispatched_at or now,  # the first dispatch meets the dispatch deadline
        "accepted_at": None,
    }
    if needs_policy_deadlines(state):
        changes.update(policy_deadlines(state.received_at, policy))
    notices = []
    if handler is not None and handler.user_id and handler.user_id != actor_id:
        notices.append(Notice(handler.user_id, NotificationKind.DISPATCHED, _("新派单：%s") % state.number,
                              state.title, "dispatched:{case}:" + iso_utc(now), now))
    data = {"grid": grid.code, "previous_grid_id": previous, "handler_id": handler.pk if handler else None}
    return _step(state, Action.DISPATCHED, changes, at=now, note=note, data=data, notices=notices)


def accept(state, *, handler_id: int | None = None, now: dt.datetime) -> Step:
    """The grid signs for the case (签收): ``dispatched`` → ``accepted`` (``handler_id``: a Cadre id that takes
    it over, or None). Deadlines are kept."""
    changes: dict[str, Any] = {"status": Status.ACCEPTED, "accepted_at": now}
    if handler_id is not None:
        changes["handler_id"] = handler_id
    return _step(state, Action.ACCEPTED, changes, at=now)


def respond(state, *, now: dt.datetime, note: str = "") -> Step:
    """The complainant was contacted (联系 / 响应): ``accepted`` → ``responded``; sets ``responded_at``."""
    return _step(state, Action.RESPONDED, {"status": Status.RESPONDED, "responded_at": now}, at=now, note=note)


def resolve(state, *, solved: bool, result: str, leader_id: int | None, policy, now: dt.datetime) -> Step:
    """Handling finished (办结) with ``solved`` and ``result`` (stripped): → ``resolved``. From ``received`` it
    is on the spot (就地解决): dispatch, signing and contact happen now too, the handler defaults to
    ``leader_id`` (the grid leader's Cadre id) and ``policy`` gives deadlines still missing. A pending
    extension request is withdrawn. Raises ValidationError for an on-the-spot case without a grid."""
    on_the_spot = state.status == Status.RECEIVED
    changes: dict[str, Any] = {"status": Status.RESOLVED}
    if on_the_spot:
        if state.grid_id is None:
            raise ValidationError({"grid": _("就地解决的诉求须属于一个微网格。")})
        changes.update(dispatched_at=now, accepted_at=now, responded_at=now,
                       handler_id=state.handler_id or leader_id)
        if needs_policy_deadlines(state):
            changes.update(policy_deadlines(state.received_at, policy))
    changes.update(resolved_at=now, solved=bool(solved), result=result.strip())
    dropped, dropped_data = drop_extension_request(state)
    changes.update(dropped)
    return _step(state, Action.RESOLVED, changes, at=now,
                 data={"solved": bool(solved), "on_the_spot": on_the_spot, **dropped_data})


__all__ = ["ALLOWED_FROM", "Notice", "Step", "TransitionNotAllowed", "accept", "apply", "check_allowed",
           "dispatch", "drop_extension_request", "receive", "resolve", "respond"]
