"""Revealing a masked complainant phone to the person who must call (issue 16 §6; DESIGN §10).

Dispatchers, supervisors and admins see phones whole; the case's current handler and its grid's leader
see them masked (138****5678) until they tap "show", which reveals the number once and writes an audited
``phone_revealed`` event (the number itself is never written into the event or a log).
"""
import datetime as dt

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..choices import Action
from ..models import Case, CaseEvent


def reveal_phone(case: Case, *, actor, scope, now: dt.datetime | None = None) -> str:
    """The whole complainant phone of ``case`` for ``actor`` (whose :class:`grids.scope.Scope` is ``scope``),
    recording a ``phone_revealed`` event (actor, time; no number). Only :func:`cases.rules.may_reveal_phone`
    users may: others raise PermissionDenied (HTTP 403) and nothing is recorded. Dispatchers, supervisors
    and admins, who see the number whole everywhere, get it without an event. The case row is not
    changed (its ``updated_at`` stays, so statistics see no change). Returns the number as stored."""
    now = now or timezone.now()
    if rules.sees_full_phone(scope):
        return case.complainant_phone  # shown whole to them anyway: nothing to reveal, nothing to audit
    if not rules.may_reveal_phone(scope, case):
        raise PermissionDenied(_("只有当前承办人和所在微网格的网格长可以查看完整电话。"))
    CaseEvent.objects.create(case=case, actor=actor, action=Action.PHONE_REVEALED, from_status=case.status,
                             to_status=case.status, at=now, data={"handler_id": case.handler_id})
    return case.complainant_phone


def revealed_to(case: Case, *, actor, scope) -> bool:
    """True when ``actor`` may reveal the phone of ``case`` (:func:`cases.rules.may_reveal_phone`) and has
    revealed it — a ``phone_revealed`` event of theirs on this case since its latest dispatch (the current
    handling). The printed work order then shows the number whole: the reveal it rests on is audited."""
    if not rules.may_reveal_phone(scope, case):
        return False
    reveals = CaseEvent.objects.filter(case=case, actor=actor, action=Action.PHONE_REVEALED)
    dispatched = (CaseEvent.objects.filter(case=case, action=Action.DISPATCHED).order_by("-at", "-id")
                  .values_list("at", flat=True).first())
    if dispatched is not None:
        reveals = reveals.filter(at__gte=dispatched)
    return reveals.exists()
