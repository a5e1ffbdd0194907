"""The one path from stored notifications to channels (issue 14).

``deliver(notification_ids)`` — what the Celery task ``cases.deliver_notifications`` runs after the commit
that stored the notifications — plans one :class:`~cases.models.Delivery` per notification and channel
(the recipient's own channels, the account e-mail, and the group chats of the case's village and
micro-grid), then sends what is due. :func:`process_due` sends due messages, folds due window digests
and retries failures with back-off; the beat task ``cases.process_due_deliveries`` runs it every minute
as a safety net, and the delivery task schedules it for the next due time.

Guarantees: a notification reaches a channel once (``(channel, dedupe_key)`` is unique; a group chat
hears of an event once however many of its members are notified); each try is claimed by
compare-and-set, so two workers never send the same row at the same time; a failing channel is retried
on its own and never stops another (each send is independent and never raises); nothing here runs in
the transaction of the change that caused the notification.
"""
import dataclasses
import datetime as dt
import logging
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from grids.choices import Role

from .. import metrics
from ..choices import DeliveryStatus, NotificationKind
from ..models import ACCOUNT_EMAIL, Delivery, DeliveryAttempt, Notification, NotificationChannel
from . import policy
from .crypto import ChannelKeyError, decrypt
from .sending import SendResult, send_apprise, send_email

logger = logging.getLogger(__name__)

ACTIVE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
#: Seconds a worker holds a claimed row before another may take it over (a crashed worker's claim ends).
CLAIM_SECONDS = 300


@dataclasses.dataclass
class DeliveryReport:
    """What one run did: deliveries ``planned``, messages ``sent``, tries that ``failed`` for good,
    tries to be ``retried``, rows ``held`` for a digest, rows ``folded`` into digests; ``next_due``: the
    earliest time a row of this run is due again (None when nothing waits)."""

    planned: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    held: int = 0
    folded: int = 0
    next_due: dt.datetime | None = None

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["next_due"] = self.next_due.isoformat() if self.next_due else None
        return data


def deliver(notification_ids, *, now: dt.datetime | None = None) -> DeliveryReport:
    """Plan and send the deliveries of the notifications ``notification_ids`` (ints; unknown ids are
    ignored). ``now``: aware, default the current time. Safe to run twice: planned rows are unique and
    sent rows are not sent again. Returns a DeliveryReport."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in notification_ids})
    report = DeliveryReport()
    if not ids:
        return report
    planned = plan(ids, now=now)
    report.planned = len(planned)
    run = process_due(now, delivery_ids=[d.pk for d in planned if d.status in ACTIVE])
    run.planned, run.held = report.planned, sum(1 for d in planned if d.status == DeliveryStatus.HELD)
    held_due = [d.next_attempt_at for d in planned if d.status == DeliveryStatus.HELD and d.next_attempt_at]
    if held_due and (run.next_due is None or min(held_due) < run.next_due):
        run.next_due = min(held_due)
    return run


def _account_email_channels(users) -> None:
    """Give every listed user with an e-mail address their account e-mail channel (all kinds) once."""
    have = set(NotificationChannel.objects.filter(user__in=users, service=ACCOUNT_EMAIL).values_list("user_id", flat=True))
    for user in users:
        if user.email and user.pk not in have:
            try:
                with transaction.atomic():
                    NotificationChannel.objects.create(user=user, service=ACCOUNT_EMAIL, label=_("账户邮箱"))
            except IntegrityError:  # made meanwhile by a concurrent run
                pass


def plan(notification_ids: list[int], *, now: dt.datetime) -> list[Delivery]:
    """Create (once) the Delivery rows of the notifications: one per channel that carries the kind.

    Each row is ``pending`` (due at ``now``) or ``held`` for its digest (``policy.delivery_mode``); a
    window-digest row joins the open digest of its channel and kind (same release time) under a row lock
    on the channel. Texts are copied with phone and ID numbers masked. Returns the rows of these
    notifications (also those planned by an earlier run).
    """
    from ..importing import mask_personal_data

    notes = list(Notification.objects.filter(pk__in=notification_ids).select_related("recipient", "case"))
    if not notes:
        return []
    users = {n.recipient_id: n.recipient for n in notes}
    _account_email_channels([u for u in users.values() if u.is_active])
    supervisors = set(
        get_user_model().objects.filter(pk__in=users, groups__name=Role.SUPERVISOR).values_list("pk", flat=True)
    )
    villages = {n.case.village_id for n in notes if n.case_id}
    grids = {n.case.grid_id for n in notes if n.case_id and n.case.grid_id}
    channels = list(NotificationChannel.objects.filter(
        Q(user_id__in=users) | Q(village_id__in=villages) | Q(grid_id__in=grids), enabled=True
    ))
    by_user, by_village, by_grid = defaultdict(list), defaultdict(list), defaultdict(list)
    for channel in channels:
        if channel.user_id:
            by_user[channel.user_id].append(channel)
        elif channel.village_id:
            by_village[channel.village_id].append(channel)
        else:
            by_grid[channel.grid_id].append(channel)

    rows = []
    with transaction.atomic():
        # Window digests exist only on a person's own channels: lock those, so that two runs planning for
        # the same channel at once join one digest instead of opening two.
        window_channels = sorted({c.pk for c in channels if c.user_id})
        list(NotificationChannel.objects.select_for_update().filter(pk__in=window_channels).values_list("pk"))
        open_groups = {
            (channel_id, group): release for channel_id, group, release in
            Delivery.objects.filter(channel_id__in=window_channels, status=DeliveryStatus.HELD,
                                    digest_group__startswith="window:")
            .values_list("channel_id", "digest_group", "next_attempt_at")
        }
        for note in notes:
            if not note.recipient.is_active:
                continue
            urgency = note.case.urgency if note.case_id else None
            targets = [(c, False) for c in by_user[note.recipient_id]]
            if note.case_id:
                targets += [(c, True) for c in by_village[note.case.village_id] + by_grid[note.case.grid_id]]
            for channel, group_chat in targets:
                if not channel.carries(note.kind):
                    continue
                mode = policy.delivery_mode(note.kind, urgency=urgency, group_chat=group_chat,
                                            to_supervisor=not group_chat and note.recipient_id in supervisors)
                digest_group = "" if mode == policy.NOW else f"{mode}:{note.kind}"
                release = policy.release_at(mode, now)
                if mode == policy.WINDOW:
                    release = open_groups.setdefault((channel.pk, digest_group), release)
                rows.append(Delivery(
                    channel=channel, notification=note, dedupe_key=note.dedupe_key, kind=note.kind,
                    title=mask_personal_data(note.title)[:200], body=mask_personal_data(note.body),
                    status=DeliveryStatus.PENDING if mode == policy.NOW else DeliveryStatus.HELD,
                    digest_group=digest_group, next_attempt_at=release, created_at=now,
                ))
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    return list(Delivery.objects.filter(notification_id__in=[n.pk for n in notes]).select_related("channel"))


def process_due(now: dt.datetime | None = None, *, delivery_ids=None, limit: int = 500) -> DeliveryReport:
    """Fold due window digests, then send every due ``pending``/``retrying`` row (and rows whose
    worker's claim ran out), at most ``limit`` per call. ``delivery_ids``: only these rows (the delivery
    task's own), else every due row. ``now``: aware, default the current time. Returns a DeliveryReport
    whose ``next_due`` is the earliest retry or digest release still waiting among the rows handled.
    """
    now = now or timezone.now()
    report = DeliveryReport()
    if delivery_ids is None:
        report.folded = fold_window_digests(now)
    due = Delivery.objects.filter(
        Q(status__in=ACTIVE) | Q(status=DeliveryStatus.SENDING), next_attempt_at__lte=now
    )
    if delivery_ids is not None:
        due = due.filter(pk__in=list(delivery_ids))
    for pk in list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]):
        claimed = Delivery.objects.filter(
            Q(status__in=ACTIVE) | Q(status=DeliveryStatus.SENDING), pk=pk, next_attempt_at__lte=now
        ).update(status=DeliveryStatus.SENDING, next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS))
        if not claimed:  # another worker has it
            continue
        delivery = Delivery.objects.select_related("channel__user", "notification").get(pk=pk)
        outcome = attempt(delivery, now=now)
        if outcome == DeliveryStatus.SENT:
            report.sent += 1
        elif outcome == DeliveryStatus.FAILED:
            report.failed += 1
        else:
            report.retried += 1
            if report.next_due is None or delivery.next_attempt_at < report.next_due:
                report.next_due = delivery.next_attempt_at
    if delivery_ids is None:
        waiting = Delivery.objects.filter(
            Q(status__in=ACTIVE) | Q(status=DeliveryStatus.HELD, digest_group__startswith="window:"),
            next_attempt_at__gt=now,
        ).order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        if waiting and (report.next_due is None or waiting < report.next_due):
            report.next_due = waiting
    if report.sent or report.failed or report.retried or report.folded:
        logger.info("deliveries at %s: %s", now.isoformat(), report.as_dict())
    return report


def send(channel: NotificationChannel, *, title: str, body: str) -> SendResult:
    """Send one message to ``channel`` once: the account e-mail through Django's mail backend, every
    other channel through Apprise. Never raises; an undecryptable URL is a failed send."""
    if channel.is_account_email:
        return send_email(channel.user.email if channel.user_id else "", title=title, body=body)
    try:
        url = decrypt(channel.url_token)
    except ChannelKeyError:
        return SendResult(False, "stored channel URL cannot be decrypted (NOTIFY_CHANNEL_KEYS changed?)")
    return send_apprise(url, title=title, body=body)


def attempt(delivery: Delivery, *, now: dt.datetime) -> str:
    """Try ``delivery`` (claimed by the caller) once and log the try; returns its new status: ``sent``,
    ``retrying`` (``next_attempt_at`` set by ``policy.retry_delay``) or ``failed`` (no try left)."""
    result = send(delivery.channel, title=delivery.title, body=delivery.body)
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(delivery=delivery, channel=delivery.channel, number=number, ok=result.ok,
                                   error=result.error[:300], at=now, duration_ms=result.duration_ms)
    delivery.attempts = number
    if result.ok:
        delivery.status, delivery.sent_at, delivery.next_attempt_at = DeliveryStatus.SENT, now, None
        if delivery.channel.is_account_email:  # the notification (or each one folded into this digest) is e-mailed
            Notification.objects.filter(
                Q(pk=delivery.notification_id) | Q(deliveries__folded_into=delivery), emailed_at__isnull=True
            ).update(emailed_at=now)
    else:
        delay = policy.retry_delay(number)
        delivery.last_error = result.error[:300]
        if delay is None:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            metrics.increment(delivery_failures=1)
            logger.warning("delivery %s to channel %s failed after %s tries", delivery.pk, delivery.channel_id, number)
        else:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.RETRYING, now + dt.timedelta(seconds=delay)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=delivery.status, attempts=number, sent_at=delivery.sent_at, next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
    )
    return delivery.status


def fold_window_digests(now: dt.datetime) -> int:
    """Turn each due window digest (``held`` rows of one channel and ``window:<kind>`` group whose release
    time has come) into one message: a group of one is simply sent; a group of several becomes one new
    Delivery listing every item, and its rows become ``folded`` into it. Rows are locked (``SKIP LOCKED``)
    so two runs never fold the same rows. Returns the number of rows folded."""
    folded = 0
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.HELD, digest_group__startswith="window:", next_attempt_at__lte=now)
            .order_by("channel_id", "digest_group", "created_at", "pk")
        )
        groups = defaultdict(list)
        for row in rows:
            groups[(row.channel_id, row.digest_group)].append(row)
        for (channel_id, group), members in groups.items():
            if len(members) == 1:
                Delivery.objects.filter(pk=members[0].pk).update(status=DeliveryStatus.PENDING, next_attempt_at=now)
                continue
            digest = Delivery.objects.create(
                channel_id=channel_id, notification=None, kind=members[0].kind,
                dedupe_key=f"digest:{group}:{members[0].pk}", created_at=now, next_attempt_at=now,
                status=DeliveryStatus.PENDING, **digest_text(members[0].kind, members),
            )
            Delivery.objects.filter(pk__in=[m.pk for m in members]).update(
                status=DeliveryStatus.FOLDED, folded_into=digest, next_attempt_at=None)
            folded += len(members)
    return folded


def digest_text(kind: str, items) -> dict[str, str]:
    """Title and body of a digest of ``items`` (rows with ``title`` and ``body``) of one ``kind``:
    ``"<kind label>（n条）"`` and one numbered entry per item (its title, then its body). Pure."""
    label = NotificationKind(kind).label if kind in NotificationKind.values else kind
    lines = []
    for number, item in enumerate(items, start=1):
        lines.append(f"{number}. {item.title}")
        if item.body:
            lines.append(f"   {item.body}")
    return {"title": (_("%(kind)s（%(count)s条）") % {"kind": label, "count": len(items)})[:200],
            "body": "\n".join(lines)}


def due_soon(report: DeliveryReport, now: dt.datetime) -> int | None:
    """Seconds from ``now`` until ``report.next_due`` (at least 1), or None when nothing waits."""
    if report.next_due is None:
        return None
    return max(1, int((report.next_due - now).total_seconds()) + 1)


