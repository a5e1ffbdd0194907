"""The 12345 hand-off chain, outbound side (issue 13 §1): feedback (反馈) to the upstream platform.

When a case that came down as an upstream work order is accepted, responded to, resolved or returned, the
lifecycle hook (:mod:`cases.hooks`) calls :func:`record_feedback` inside the transition's transaction: it
writes one :class:`~cases.models.FeedbackDelivery` (the step, its body, an idempotency key) and, after commit,
enqueues the Celery task ``cases.deliver_feedback``. So a step is sent only once its transition has
committed, and a step whose transition rolled back is never sent.

:func:`attempt_delivery` makes one signed POST (:mod:`cases.interop.signing`) to the system's webhook:

* a 2xx answer marks the delivery ``delivered``;
* anything else (another status, a time-out, a refused connection) is one failed attempt; the next one
  follows after ``UPSTREAM_RETRY_BASE_SECONDS × 2^(attempt − 1)`` seconds, at most
  ``UPSTREAM_RETRY_MAX_SECONDS`` (exponential back-off, no jitter: the figures in a delivery log can be
  worked out by hand); after ``UPSTREAM_DELIVERY_ATTEMPTS`` failed attempts the delivery ``gave_up`` and
  the dispatchers are notified (``cases.notifications.notify``, kind ``delivery_failed``).

Deliveries of one order are sent in the order of their steps: a step waits while an earlier one of the same
order is still pending, and each finished delivery (delivered or given up) enqueues the next. The
delivery row is locked during its attempt, so two workers never send it at once, and a delivered step is
never sent again. Every attempt is kept in the delivery log (:class:`~cases.models.FeedbackAttempt`).
Bodies carry no complainant data; result texts pass :func:`cases.importing.mask_personal_data`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import Action, NotificationKind
from ..models import FeedbackAttempt, FeedbackDelivery, UpstreamOrder
from . import signing

logger = logging.getLogger(__name__)

#: Case event action → the step name the upstream receives.
STEPS = {Action.ACCEPTED: "accept", Action.RESPONDED: "respond", Action.RESOLVED: "resolve",
         Action.RETURNED: "return"}


def backoff_seconds(failed_attempts: int) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure (1, 2, …): base × 2^(n−1), capped."""
    base = float(settings.UPSTREAM_RETRY_BASE_SECONDS)
    return min(base * 2 ** (failed_attempts - 1), float(settings.UPSTREAM_RETRY_MAX_SECONDS))


def feedback_body(order: UpstreamOrder, event, step: str, key: str) -> dict:
    """The JSON body of one step (no complainant data)."""
    from ..importing import mask_personal_data

    case = event.case
    body = {
        "order_number": order.number, "step": step, "case_number": case.number, "status": event.to_status,
        "at": timezone.localtime(event.at).isoformat(), "idempotency_key": key,
    }
    if step == "resolve":
        body.update(solved=bool(case.solved), result=mask_personal_data(case.result))
    elif step == "return":
        body["reason"] = mask_personal_data(event.note)
    elif step == "respond" and event.note:
        body["note"] = mask_personal_data(event.note)
    if step in ("accept", "resolve") and case.handler_id:
        body["handler"] = case.handler.name
    return body


def record_feedback(case, event) -> FeedbackDelivery | None:
    """Lifecycle listener (:func:`cases.hooks.on_event`): for a feedback step of a case with an upstream
    order whose system has a webhook, write its FeedbackDelivery and enqueue the task after commit. Returns the
    delivery, or None when the event is not feedback."""
    step = STEPS.get(event.action)
    if step is None or not case.source_system:
        return None
    order = UpstreamOrder.objects.select_related("system").filter(case_id=case.pk).first()
    if order is None or not order.system.webhook_url:
        return None
    key = f"{order.system.code}:{order.number}:{step}:{event.pk}"
    delivery = FeedbackDelivery.objects.create(order=order, case_id=case.pk, event=event, step=step, idempotency_key=key,
                                       body=feedback_body(order, event, step, key), created_at=event.at,
                                       next_attempt_at=event.at)
    transaction.on_commit(lambda: enqueue(delivery.pk))
    return delivery


def enqueue(delivery_id: int, *, countdown: float = 0) -> None:
    """Send the task that attempts ``delivery_id`` (now, or after ``countdown`` seconds)."""
    from ..tasks import deliver_feedback

    deliver_feedback.apply_async((delivery_id,), countdown=countdown or None, queue=settings.UPSTREAM_FEEDBACK_QUEUE)


def _post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:200]


def attempt_delivery(delivery_id: int, *, now: dt.datetime | None = None) -> dict:
    """Make one attempt of a pending delivery (see the module docstring).

    Returns ``{"status", "attempts", "retry_in"}``: ``retry_in`` is the seconds until the next attempt, or
    None when nothing is left to do (delivered, given up, not pending, or waiting for an earlier step of its
    order, which will enqueue it). Never raises for an upstream's failure; logs no body.
    """
    with transaction.atomic():
        delivery = (FeedbackDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("order__system", "case").filter(pk=delivery_id).first())
        if delivery is None or delivery.status != FeedbackDelivery.Status.PENDING:
            # held by another worker's attempt, or finished: nothing to do here
            return {"status": delivery.status if delivery else "busy", "attempts": delivery.attempts if delivery else 0,
                    "retry_in": None}
        earlier = FeedbackDelivery.objects.filter(order_id=delivery.order_id, status=FeedbackDelivery.Status.PENDING,
                                          pk__lt=delivery.pk).exists()
        if earlier:
            return {"status": "waiting", "attempts": delivery.attempts, "retry_in": None}
        system = delivery.order.system
        body = json.dumps(delivery.body, ensure_ascii=False, sort_keys=True).encode()
        headers = signing.signed_headers(system.webhook_secret, body, timestamp=int(time.time()),
                                         idempotency_key=delivery.idempotency_key)
        headers["X-Xiji-FeedbackDelivery"] = str(delivery.pk)
        headers["X-Xiji-Attempt"] = str(delivery.attempts + 1)
        started = time.monotonic()
        code, error = _post(system.webhook_url, body, headers, float(settings.UPSTREAM_WEBHOOK_TIMEOUT_SECONDS))
        took = int((time.monotonic() - started) * 1000)
        now = now or timezone.now()
        delivery.attempts += 1
        ok = code is not None and 200 <= code < 300
        FeedbackAttempt.objects.create(delivery=delivery, number=delivery.attempts, at=now, status_code=code,
                                       error="" if ok else (error or f"HTTP {code}"), duration_ms=took)
        delivery.last_status_code = code
        retry_in = None
        if ok:
            delivery.status = FeedbackDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = ""
            delivery.next_attempt_at = None
        else:
            delivery.last_error = error or f"HTTP {code}"
            if delivery.attempts >= int(settings.UPSTREAM_DELIVERY_ATTEMPTS):
                delivery.status = FeedbackDelivery.Status.GAVE_UP
                delivery.gave_up_at = now
                delivery.next_attempt_at = None
                _alert_dispatchers(delivery, now=now)
            else:
                retry_in = backoff_seconds(delivery.attempts)
                delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
        delivery.save()
        if delivery.status != FeedbackDelivery.Status.PENDING:
            _enqueue_next_of_order(delivery)
    logger.info("feedback delivery %s (%s %s) attempt %s: %s", delivery.pk, system.code, delivery.step,
                delivery.attempts, delivery.status if delivery.status != FeedbackDelivery.Status.PENDING
                else f"failed ({delivery.last_error}), retry in {retry_in:.1f} s")
    return {"status": delivery.status, "attempts": delivery.attempts, "retry_in": retry_in}


def _enqueue_next_of_order(delivery: FeedbackDelivery) -> None:
    nxt = (FeedbackDelivery.objects.filter(order_id=delivery.order_id, status=FeedbackDelivery.Status.PENDING, pk__gt=delivery.pk)
           .order_by("pk").values_list("pk", flat=True).first())
    if nxt is not None:
        transaction.on_commit(lambda: enqueue(nxt))


def _alert_dispatchers(delivery: FeedbackDelivery, *, now) -> None:
    from ..notifications import dispatchers, notify

    case = delivery.case
    notify(dispatchers(), kind=NotificationKind.DELIVERY_FAILED,
           title=_("上级反馈投递失败：%(number)s") % {"number": case.number},
           body=_("工单 %(order)s 的“%(step)s”反馈已尝试 %(n)s 次仍未送达 %(system)s（%(error)s），请人工联系上级平台。")
           % {"order": delivery.order.number, "step": delivery.step, "n": delivery.attempts,
              "system": delivery.order.system.name, "error": delivery.last_error},
           case=case, dedupe_key=f"delivery-failed:{delivery.pk}", now=now)


def requeue_stale(*, now: dt.datetime | None = None, grace_seconds: int = 60) -> int:
    """Enqueue again the first pending delivery of every order whose next attempt is more than
    ``grace_seconds`` overdue (a task lost with a broker or worker). Safe to run any time: an attempt
    re-checks the row under its lock. Returns how many were enqueued."""
    now = now or timezone.now()
    stale = (FeedbackDelivery.objects.filter(status=FeedbackDelivery.Status.PENDING,
                                     next_attempt_at__lt=now - dt.timedelta(seconds=grace_seconds))
             .order_by("order_id", "pk").values_list("order_id", "pk"))
    first_of_order = {}
    for order_id, pk in stale:
        first_of_order.setdefault(order_id, pk)
    for pk in first_of_order.values():
        enqueue(pk)
    return len(first_of_order)


__all__ = ["STEPS", "attempt_delivery", "backoff_seconds", "enqueue", "feedback_body", "record_feedback",
           "requeue_stale"]
