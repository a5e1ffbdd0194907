"""In-app notifications, delivered to channels after commit (STYLE: side effects only after commit).

``notify()`` stores the rows; :func:`deliver_after_commit` is the one entry point for delivery (issue 14):
after the commit it enqueues one Celery task, ``cases.deliver_notifications``, that sends the rows to every
channel of their recipients (WeCom, DingTalk, Feishu, SMS, e-mail …; ``cases.channels``). Nobody else sends
e-mail, webhooks or chat messages.
"""
import contextlib
import contextvars
import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from grids.choices import Role

from . import metrics
from .bulk import array_literal
from .models import Notification

logger = logging.getLogger(__name__)


_STORED_ONLY = contextvars.ContextVar("notifications_stored_only", default=False)


@contextlib.contextmanager
def stored_only():
    """Within this block, :func:`notify` and :func:`notify_many` store their notifications but hand none to
    delivery: a historical import's notices (already read at their own time) reach nobody's phone years
    later. Nestable; restores the previous state on exit."""
    token = _STORED_ONLY.set(True)
    try:
        yield
    finally:
        _STORED_ONLY.reset(token)


def supervisors():
    """Active users in the ``supervisor`` group (DESIGN §1)."""
    return get_user_model().objects.filter(groups__name=Role.SUPERVISOR, is_active=True).distinct()


def dispatchers():
    """Active users in the ``dispatcher`` group (DESIGN §1)."""
    return get_user_model().objects.filter(groups__name=Role.DISPATCHER, is_active=True).distinct()


def case_recipients(case, *, supervisors_too: bool = False, dispatcher_users=None, supervisor_users=None) -> list:
    """Who hears about a case: whoever holds it — its handler (else its grid's leader), or the command
    centre's dispatchers while it waits there (``received`` or ``returned``) — and its village's chief
    grid leader, plus the supervisors when ``supervisors_too``. Returns distinct active users, in that order.

    ``dispatcher_users`` / ``supervisor_users``: the lists :func:`dispatchers` / :func:`supervisors` return,
    read once by a caller that asks for many cases (the set-based sweep); None = read them here.
    """
    from .choices import Status

    if case.status in (Status.RECEIVED, Status.RETURNED):
        users = list(dispatchers() if dispatcher_users is None else dispatcher_users)
    else:
        holder = case.handler or (case.grid.leader if case.grid_id else None)
        users = [holder.user] if holder is not None and holder.user_id is not None else []
    chief = case.village.chief_grid_leader
    if chief is not None and chief.user_id is not None:
        users.append(chief.user)
    if supervisors_too:
        users.extend(supervisors() if supervisor_users is None else supervisor_users)
    seen, out = set(), []
    for user in users:
        if user.pk not in seen and user.is_active:
            seen.add(user.pk)
            out.append(user)
    return out


def notify(recipients, *, kind: str, title: str, body: str = "", case=None, dedupe_key: str, now) -> list[Notification]:
    """Store one Notification per recipient (once per ``dedupe_key``) and deliver them after commit.

    ``recipients``: iterable of users; ``now``: aware datetime stored as ``created_at``. A recipient who
    already has a notification with this key gets nothing new. Returns the notifications created now.
    Must run inside the caller's transaction so that rows and the change they announce commit together;
    the new rows go to :func:`deliver_after_commit` as one batch.
    """
    created = []
    for user in recipients:
        try:
            with transaction.atomic():
                note = Notification.objects.create(
                    recipient=user, kind=kind, title=title, body=body, case=case, dedupe_key=dedupe_key,
                    created_at=now,
                )
        except IntegrityError:
            continue
        created.append(note)
    metrics.increment(notifications=len(created))
    if not _STORED_ONLY.get():
        deliver_after_commit([note.pk for note in created])
    return created


def notify_many(rows, *, now) -> list[int]:
    """Store many notifications with one ``INSERT … SELECT … FROM unnest(arrays) ON CONFLICT (recipient,
    dedupe_key) DO NOTHING RETURNING id`` and deliver the new ones after commit as one batch: the bulk twin
    of :func:`notify`, for a writer of many cases at once (the set-based sweep). PostgreSQL only.

    ``rows``: iterable of ``(recipient_id, kind, title, body, case_id or None, dedupe_key)``; ``now``: aware
    datetime stored as ``created_at``. A recipient who already has a notification with the key gets nothing
    new (the unique constraint ``notification_once_per_recipient``, also between two writers at once).
    Returns the ids created now. Must run inside the caller's transaction.
    """
    from django.db import connections, router

    rows = list(rows)
    if not rows:
        return []
    connection = connections[router.db_for_write(Notification)]
    fields = [Notification._meta.get_field(name) for name in ("recipient", "kind", "title", "body", "case",
                                                              "dedupe_key")]
    types = [(f.target_field if f.is_relation else f).db_type(connection).split("(")[0] for f in fields]
    columns = ", ".join(f.column for f in fields)
    arrays = [list(values) for values in zip(*((r, str(k), t, b, c, d) for r, k, t, b, c, d in rows), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(Notification._meta.db_table)} ({columns}, created_at) "
            f"SELECT *, %s FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) "
            f"ON CONFLICT (recipient_id, dedupe_key) DO NOTHING RETURNING id", [now, *map(array_literal, arrays)])
        ids = [row[0] for row in cursor.fetchall()]
    metrics.increment(notifications=len(ids))
    if not _STORED_ONLY.get():
        deliver_after_commit(ids)
    return ids


def deliver_after_commit(notification_ids) -> None:
    """THE delivery entry point: once the current transaction commits, enqueue one Celery task
    ``cases.deliver_notifications`` with ``notification_ids`` (iterable of Notification ids; empty does
    nothing). Outside a transaction it enqueues at once. A bulk writer calls it once per batch.

    The task is idempotent (one delivery per notification and channel), so a duplicate is harmless. A
    broker that cannot be reached is logged (ids only) and never fails the change that was committed.
    """
    ids = sorted({int(pk) for pk in notification_ids})
    if ids:
        transaction.on_commit(lambda: enqueue_delivery(ids), robust=True)


def enqueue_delivery(notification_ids: list[int]) -> None:
    """Send ``notification_ids`` to the Celery task ``cases.deliver_notifications`` now (no commit wait).
    Tests replace this function to run deliveries in-process or to record them."""
    from .tasks import deliver_notifications

    try:
        deliver_notifications.apply_async(args=[notification_ids])
    except Exception:
        logger.exception("could not enqueue delivery of %s notifications (first id %s)", len(notification_ids),
                         notification_ids[0])
