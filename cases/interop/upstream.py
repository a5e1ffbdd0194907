"""The 12345 hand-off chain, inbound side (issue 13 §1): external systems and their API keys, work orders
sent down (派单) and the platform's callback results (市级回访).

A work order is idempotent on its number within its system: the first POST creates the case (its
``external_ref`` is the order number, ``source_system`` the system's code, and the order's own respond and
resolve deadlines govern it); a repeat with the same content answers the existing case; a repeat with a
changed content is recorded on the case as one ``upstream_updated`` event (:func:`cases.services.
update_from_source`), never as a second case. Complainant data is stored on the case like any other and
never written to logs or event data.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from grids.models import Grid, Village

from .. import services
from ..choices import CallbackSource
from ..deadlines import ExternalDeadlines
from ..models import Case, Category, ExternalSystem, UpstreamOrder

logger = logging.getLogger(__name__)

KEY_PREFIX_LENGTH = 11  # "xj_" + 8 characters: how a key is found without storing it


def issue_key(system: ExternalSystem) -> str:
    """Give ``system`` a new random API key (replacing any old one) and return it; only its SHA-256 and
    first :data:`KEY_PREFIX_LENGTH` characters are stored, so it is shown this once. The caller saves."""
    key = "xj_" + secrets.token_urlsafe(32)
    system.key_prefix = key[:KEY_PREFIX_LENGTH]
    system.key_hash = hashlib.sha256(key.encode()).hexdigest()
    return key


def create_system(*, code: str, name: str, kind: str = ExternalSystem.Kind.UPSTREAM, webhook_url: str = "",
                  webhook_secret: str = "", default_village: Village | None = None, source: str | None = None
                  ) -> tuple[ExternalSystem, str]:
    """Register an external system; returns ``(system, api_key)``. Raises ValidationError for a bad field
    (also a code already taken)."""
    system = ExternalSystem(code=code, name=name, kind=kind, webhook_url=webhook_url,
                            webhook_secret=webhook_secret, default_village=default_village)
    if source:
        system.source = source
    elif kind == ExternalSystem.Kind.OPEN311:
        system.source = "online"  # a city app's or website's requests: 网上 (DESIGN §2 sources)
    key = issue_key(system)
    system.full_clean()
    system.save()
    return system, key


def system_for_key(key: str) -> ExternalSystem | None:
    """The active system whose API key is ``key``, or None (constant-time comparison of the digest)."""
    if not key or len(key) < KEY_PREFIX_LENGTH:
        return None
    system = ExternalSystem.objects.filter(key_prefix=key[:KEY_PREFIX_LENGTH], active=True).first()
    if system is None:
        return None
    digest = hashlib.sha256(key.encode()).hexdigest()
    return system if hmac.compare_digest(digest, system.key_hash) else None


@dataclasses.dataclass
class OrderInput:
    """A work order as the API validated it. Times are aware; ``category`` a Category or None; ``village``
    / ``grid`` the place it names (or None)."""

    number: str
    received_at: dt.datetime | None
    respond_due_at: dt.datetime | None
    resolve_due_at: dt.datetime | None
    kind: str
    category: Category | None
    urgency: str | None
    complainant_name: str
    complainant_phone: str
    address: str
    title: str
    text: str
    village: Village | None = None
    grid: Grid | None = None
    lat: object = None
    lng: object = None

    def public_fields(self) -> dict:
        """The order without the complainant, as JSON values (stored on the order to compare repeats)."""
        return {
            "received_at": _iso(self.received_at), "respond_due_at": _iso(self.respond_due_at),
            "resolve_due_at": _iso(self.resolve_due_at), "kind": self.kind,
            "category": self.category.pk if self.category else None, "urgency": self.urgency or "",
            "address": self.address, "title": self.title, "text": self.text,
            "village": self.village.pk if self.village else None, "grid": self.grid.pk if self.grid else None,
        }

    def digest(self) -> str:
        whole = {**self.public_fields(), "complainant": [self.complainant_name, self.complainant_phone]}
        return hashlib.sha256(json.dumps(whole, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _iso(moment):
    return moment.isoformat() if moment else None


@dataclasses.dataclass
class OrderOutcome:
    """What :func:`receive_order` did: ``created`` a case, ``updated`` it (``changed`` names the fields),
    or neither (a plain repeat)."""

    order: UpstreamOrder
    created: bool = False
    updated: bool = False
    changed: list[str] = dataclasses.field(default_factory=list)


def receive_order(system: ExternalSystem, data: OrderInput, *, now: dt.datetime | None = None) -> OrderOutcome:
    """Take in one work order of ``system`` (idempotent on ``data.number``; see the module docstring).

    ``now`` (aware) is the server's clock; the case's ``received_at`` is the order's own received time (not
    later than now), else now. Raises ValidationError (HTTP 400) for an order that cannot become a case: no
    place (neither village nor grid, and the system has no default village), deadlines before the received
    time, a received time in the future.
    """
    now = now or timezone.now()
    received_at = data.received_at or now
    if received_at > now + dt.timedelta(minutes=5):
        raise ValidationError({"received_at": "在将来：请给出平台受理工单的时间。"})
    received_at = min(received_at, now)
    for field in ("respond_due_at", "resolve_due_at"):
        due = getattr(data, field)
        if due is not None and due <= received_at:
            raise ValidationError({field: "时限须晚于受理时间。"})
    if data.respond_due_at and data.resolve_due_at and data.resolve_due_at < data.respond_due_at:
        raise ValidationError({"resolve_due_at": "办结时限不能早于响应时限。"})
    village = data.grid.village if data.grid is not None else (data.village or system.default_village)
    if village is None:
        raise ValidationError({"village": "工单须指明村/社区或微网格（或为该系统设置默认村/社区）。"})
    for _attempt in range(2):
        order = UpstreamOrder.objects.select_related("case").filter(system=system, number=data.number).first()
        if order is not None:
            return _repeat(order, data, now=now)
        try:
            with transaction.atomic():
                case = services.create_case(
                    actor=None, kind=data.kind, source=system.source, title=data.title or data.text[:30],
                    village=village, grid=data.grid, category=data.category, urgency=data.urgency,
                    description=data.text, complainant_name=data.complainant_name,
                    complainant_phone=data.complainant_phone, address=data.address, lat=data.lat, lng=data.lng,
                    external_ref=data.number, source_system=system.code, received_at=received_at, now=now,
                    deadlines=ExternalDeadlines(data.respond_due_at, data.resolve_due_at)
                    if (data.respond_due_at or data.resolve_due_at) else None,
                )
                order = UpstreamOrder.objects.create(system=system, number=data.number, case=case,
                                                     fields=data.public_fields(), digest=data.digest(),
                                                     created_at=now, updated_at=now)
        except IntegrityError:  # the same order raced in twice: the other request created it
            continue
        except ValidationError as exc:
            if "external_ref" in getattr(exc, "error_dict", {}):  # a case of this system had the number already
                continue
            raise
        logger.info("upstream order %s:%s → case %s", system.code, data.number, case.number)
        return OrderOutcome(order=order, created=True)
    raise ValidationError({"order_number": "该工单号已被另一诉求占用。"})


#: Case field ← the key of :meth:`OrderInput.public_fields` it comes from.
_FIELD_OF = {"title": "title", "description": "text", "address": "address", "kind": "kind", "urgency": "urgency",
             "category": "category", "respond_due_at": "respond_due_at", "resolve_due_at": "resolve_due_at"}


def _repeat(order: UpstreamOrder, data: OrderInput, *, now) -> OrderOutcome:
    if order.digest == data.digest():
        return OrderOutcome(order=order)
    with transaction.atomic():
        order = UpstreamOrder.objects.select_for_update().select_related("case").get(pk=order.pk)
        if order.digest == data.digest():  # a concurrent repeat recorded the same update
            return OrderOutcome(order=order)
        old, new = order.fields, data.public_fields()
        case = order.case
        values = {"title": data.title or data.text[:30], "description": data.text, "address": data.address,
                  "kind": data.kind, "urgency": data.urgency or case.urgency, "category": data.category,
                  "respond_due_at": data.respond_due_at, "resolve_due_at": data.resolve_due_at}
        changes = {field: values[field] for field, key in _FIELD_OF.items() if old.get(key) != new.get(key)}
        if data.complainant_name != case.complainant_name:
            changes["complainant_name"] = data.complainant_name
        if data.complainant_phone != case.complainant_phone:
            changes["complainant_phone"] = data.complainant_phone
        services.update_from_source(case, changes=changes, now=now, note=f"上级工单 {order.number} 更新")
        order.fields, order.digest = new, data.digest()
        order.updates += 1
        order.updated_at = now
        order.save(update_fields=["fields", "digest", "updates", "updated_at"])
    return OrderOutcome(order=order, updated=True, changed=sorted(changes))


def receive_callback(order: UpstreamOrder, *, contacted: bool | None, solved: bool | None, satisfaction: str,
                     note: str = "", now: dt.datetime | None = None) -> Case:
    """Record the platform's callback result (市级回访) as the case's callback with source ``upstream``; it
    counts in the three rates like any callback. Raises what :func:`cases.services.callback` raises
    (TransitionNotAllowed while the case is not resolved or already has a valid callback)."""
    return services.callback(order.case_id, actor=None, contacted=contacted, solved=solved,
                             satisfaction=satisfaction, note=note, now=now, source=CallbackSource.UPSTREAM)


__all__ = ["OrderInput", "OrderOutcome", "create_system", "issue_key", "receive_callback", "receive_order",
           "system_for_key"]
