"""In-app notifications with e-mail sent after commit (STYLE: side effects only after commit)."""
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from grids.choices import Role

from . import metrics
from .models import Notification

logger = logging.getLogger(__name__)


def supervisors():
    """Active users in the ``supervisor`` group (DESIGN §1)."""
    return get_user_model().objects.filter(groups__name=Role.SUPERVISOR, is_active=True).distinct()


def dispatchers():
    """Active users in the ``dispatcher`` group (DESIGN §1)."""
    return get_user_model().objects.filter(groups__name=Role.DISPATCHER, is_active=True).distinct()


def case_recipients(case, *, supervisors_too: bool = False) -> list:
    """Who hears about a case: whoever holds it — its handler (else its grid's leader), or the command
    centre's dispatchers while it waits there (``received`` or ``returned``) — and its village's chief
    grid leader, plus the supervisors when ``supervisors_too``. Returns distinct active users, in that order.
    """
    from .choices import Status

    if case.status in (Status.RECEIVED, Status.RETURNED):
        users = list(dispatchers())
    else:
        holder = case.handler or (case.grid.leader if case.grid_id else None)
        users = [holder.user] if holder is not None and holder.user_id is not None else []
    chief = case.village.chief_grid_leader
    if chief is not None and chief.user_id is not None:
        users.append(chief.user)
    if supervisors_too:
        users.extend(supervisors())
    seen, out = set(), []
    for user in users:
        if user.pk not in seen and user.is_active:
            seen.add(user.pk)
            out.append(user)
    return out


def notify(recipients, *, kind: str, title: str, body: str = "", case=None, dedupe_key: str, now) -> list[Notification]:
    """Store one Notification per recipient (once per ``dedupe_key``) and e-mail each after commit.

    ``recipients``: iterable of users; ``now``: aware datetime stored as ``created_at``. A recipient who
    already has a notification with this key gets nothing new. Returns the notifications created now.
    Must run inside the caller's transaction so that rows and the change they announce commit together.
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
        transaction.on_commit(lambda pk=note.pk: send_notification_email(pk))
    metrics.increment(notifications=len(created))
    return created


def send_notification_email(notification_id: int) -> bool:
    """E-mail one notification to its recipient through Django's e-mail backend; mark it e-mailed.

    Returns True when a message was sent. Users without an e-mail address get in-app notices only.
    Errors are logged by notification id only (no personal data in logs) and never raised.
    """
    note = Notification.objects.select_related("recipient").get(pk=notification_id)
    if not note.recipient.email or note.emailed_at:
        return False
    try:
        send_mail(f"[西集网格] {note.title}", note.body, settings.DEFAULT_FROM_EMAIL, [note.recipient.email])
    except Exception:
        logger.exception("e-mail for notification %s failed", notification_id)
        metrics.increment(delivery_failures=1)
        return False
    from django.utils import timezone

    Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())
    return True
