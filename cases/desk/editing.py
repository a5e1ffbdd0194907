"""Correcting a case at intake (issue 16 build 2): category, kind, urgency, title, address and place.

Dispatchers, supervisors and admins (``cases.rules.PERMISSIONS["edit"]``) correct what the caller or the
first taker got wrong, before or after dispatch, while the case is open. Each call that changes something
writes one ``edited`` event holding every changed field's old and new value; an urgency change goes through
``cases.services.change_urgency`` — the one rule for deadlines (issue 12: recomputed from the round's
start, marks already recorded never cleared, never re-armed) — and so writes its own ``urgency_changed``
event. A call that changes nothing writes nothing.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import services
from ..choices import OPEN_STATES, Action, CaseKind, Urgency
from ..models import Case, Category

#: The fields :func:`edit_case` corrects; ``lng``/``lat`` are the case's place (WGS-84 degrees).
EDITABLE = ("category", "kind", "urgency", "title", "address", "lng", "lat")
_LIMITS = {"lng": Decimal(180), "lat": Decimal(90)}


def _clean(name, value, errors):
    if name == "kind":
        if value not in CaseKind.values:
            errors[name] = _("诉求类型取值无效。")
        return value
    if name == "urgency":
        if value not in Urgency.values:
            errors[name] = _("紧急程度取值无效。")
        return value
    if name == "title":
        value = (value or "").strip()
        if not value:
            errors[name] = _("标题不能为空。")
        elif len(value) > 200:
            errors[name] = _("标题最多200个字。")
        return value
    if name == "address":
        value = (value or "").strip()
        if len(value) > 200:
            errors[name] = _("地址最多200个字。")
        return value
    if name == "category":
        if value is not None and not isinstance(value, Category):
            errors[name] = _("分类无效。")
        return value
    if name in ("lng", "lat"):
        if value in (None, ""):
            return None
        try:
            number = Decimal(str(value)).quantize(Decimal("0.000001"))
        except (InvalidOperation, ValueError):
            errors[name] = _("坐标须为数字。")
            return None
        if abs(number) > _LIMITS[name]:
            errors[name] = _("坐标超出范围。")
        return number
    errors[name] = _("该字段不能在此更正。")
    return value


def _shown(name, value):
    """A value as the event keeps it: JSON-safe, a category as its id and name."""
    if name == "category":
        return None if value is None else {"id": value.pk, "name": value.name}
    if isinstance(value, Decimal):
        return str(value)
    return value


def changed_fields(case, changes: dict) -> list[str]:
    """The fields of ``changes`` whose value differs from ``case``'s (as :func:`edit_case` compares them);
    all of them when one is invalid, so that :func:`edit_case` names the error."""
    errors: dict[str, str] = {}
    cleaned = {name: _clean(name, value, errors) for name, value in changes.items() if name in EDITABLE}
    if errors or set(changes) - set(EDITABLE):
        return list(changes)
    return [name for name, value in cleaned.items()
            if (value != case.urgency if name == "urgency" else _shown(name, getattr(case, name)) != _shown(name, value))]


def edit_case(case, *, actor, changes: dict, note: str = "", now: dt.datetime | None = None) -> Case:
    """Correct fields of an open case. ``changes``: a dict of some of :data:`EDITABLE` → new value
    (``category`` a Category or None; ``lng``/``lat`` numbers or None). Returns the updated Case.

    Raises ValidationError naming each bad field (nothing is written) and TransitionNotAllowed (409) when
    the case is no longer open. One ``edited`` event with ``data["changes"] = {field: {"old", "new"}}`` for
    the fields that differ; an urgency change is delegated to :func:`cases.services.change_urgency`.
    """
    now = now or timezone.now()
    errors: dict[str, str] = {}
    unknown = set(changes) - set(EDITABLE)
    for name in sorted(unknown):
        errors[name] = _("该字段不能在此更正。")
    cleaned = {name: _clean(name, value, errors) for name, value in changes.items() if name in EDITABLE}
    if errors:
        raise ValidationError(errors)
    urgency = cleaned.pop("urgency", None)
    with transaction.atomic():
        current = Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=case.pk)
        if current.status not in OPEN_STATES:
            raise services.TransitionNotAllowed(
                _("诉求 %(number)s 当前状态为“%(status)s”，不能更正。")
                % {"number": current.number, "status": current.get_status_display()})
        differing = {name: value for name, value in cleaned.items()
                     if _shown(name, getattr(current, name)) != _shown(name, value)}
        if differing:
            def change(locked):
                diff = {}
                for name, value in differing.items():
                    diff[name] = {"old": _shown(name, getattr(locked, name)), "new": _shown(name, value)}
                    setattr(locked, name, value)
                return {"changes": diff}

            current = services._transition(current, allowed_from=tuple(OPEN_STATES), action=Action.EDITED,
                                           actor=actor, now=now, change=change, note=(note or "").strip())
        if urgency is not None and urgency != current.urgency:
            current = services.change_urgency(current, actor=actor, urgency=urgency, note=(note or "").strip(),
                                              now=now)
    return Case.objects.get(pk=case.pk) if (differing or urgency) else current


__all__ = ["EDITABLE", "changed_fields", "edit_case"]
