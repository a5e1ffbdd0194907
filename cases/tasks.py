"""Celery tasks of cases: thin wrappers that call services, safe to run twice."""
from celery import shared_task

from . import heartbeat


@shared_task(name="cases.sweep_deadlines", acks_late=True)
def sweep_deadlines(now: str | None = None) -> dict[str, int]:
    """Run the deadline sweep (``now``: optional ISO-8601 aware time, default the current time), stamped
    as a SweepRun (the engine's heartbeat, ``cases.heartbeat``).

    Idempotent, so ``acks_late`` is safe: a run repeated after a worker crash records nothing twice.
    Returns the SweepReport as a dict.
    """
    import datetime as dt

    return heartbeat.run_sweep(dt.datetime.fromisoformat(now) if now else None, trigger="task").as_dict()


@shared_task(name="cases.refresh_today_stats", acks_late=True)
def refresh_today_stats() -> dict:
    """Hourly: recompute today's daily statistics and every day a changed case belongs to (DESIGN §6).

    Idempotent (rows of a day are replaced), so ``acks_late`` is safe. Returns the refresh summary
    (``cases.selectors.refresh_daily_stats``).
    """
    from django.utils import timezone

    from .selectors import local_date, refresh_daily_stats

    now = timezone.now()
    return refresh_daily_stats(days={local_date(now)}, now=now)


@shared_task(name="cases.snapshot_daily_stats", acks_late=True)
def snapshot_daily_stats(window_days: int | None = None) -> dict:
    """Nightly: recompute the last ``window_days`` days up to today (default
    ``STATS_NIGHTLY_WINDOW_DAYS``) plus every day a changed case belongs to. Idempotent.
    Returns the refresh summary."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from .selectors import local_date, refresh_daily_stats

    now = timezone.now()
    today = local_date(now)
    window = settings.STATS_NIGHTLY_WINDOW_DAYS if window_days is None else window_days
    return refresh_daily_stats(days={today - dt.timedelta(days=n) for n in range(window + 1)}, now=now)


@shared_task(name="cases.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> int:
    """Daily: delete expired idempotency keys and their stored answers (``cases.idempotency``). Idempotent.
    Returns how many rows were deleted."""
    from .idempotency import purge_expired

    return purge_expired()


@shared_task(name="cases.deliver_notifications", acks_late=True)
def deliver_notifications(notification_ids: list[int]) -> dict:
    """THE delivery task (issue 14): send the notifications ``notification_ids`` (ints) to their channels.

    Enqueued after commit by ``cases.notifications.deliver_after_commit`` — one task per ``notify()`` call
    or per bulk batch. Idempotent (a delivery per notification and channel is unique and sent once), so
    ``acks_late`` is safe. When a retry or a digest waits, schedules ``cases.process_due_deliveries`` for
    its due time. Returns ``DeliveryReport.as_dict()``.
    """
    from django.utils import timezone

    from .channels.delivery import deliver, due_soon

    now = timezone.now()
    report = deliver(notification_ids, now=now)
    _schedule_follow_up(due_soon(report, now))
    return report.as_dict()


@shared_task(name="cases.process_due_deliveries", acks_late=True)
def process_due_deliveries() -> dict:
    """Send due retries, fold due window digests and take over deliveries a crashed worker claimed.
    Beat: every minute (the safety net); also scheduled by the delivery task for a retry's due time.
    Idempotent (rows are claimed by compare-and-set). Returns ``DeliveryReport.as_dict()``."""
    from django.utils import timezone

    from .channels.delivery import due_soon, process_due

    now = timezone.now()
    report = process_due(now)
    _schedule_follow_up(due_soon(report, now))
    return report.as_dict()


@shared_task(name="cases.send_morning_digests", acks_late=True)
def send_morning_digests(now: str | None = None) -> dict:
    """The supervisors' morning digest (``now``: optional ISO-8601 aware time). Beat: daily at
    ``NOTIFY_MORNING_DIGEST_TIME``. Safe to rerun (one per supervisor and day). Returns
    ``MorningReport.as_dict()``."""
    import datetime as dt

    from .channels.digest import send_morning_digests as run

    return run(dt.datetime.fromisoformat(now) if now else None).as_dict()


def _schedule_follow_up(seconds: int | None) -> None:
    """Run ``cases.process_due_deliveries`` in ``seconds`` when that is sooner than beat's next minute
    would notice; later ones are left to beat."""
    from django.conf import settings

    if seconds is not None and seconds <= settings.NOTIFY_FOLLOW_UP_MAX_SECONDS:
        process_due_deliveries.apply_async(countdown=seconds, expires=seconds + 300)

@shared_task(name="cases.find_hotspots", acks_late=True)
def find_hotspots(until: str | None = None) -> dict:
    """Nightly: the hotspot search over the last ``HOTSPOT_WINDOW_DAYS`` before ``until`` (ISO-8601 aware,
    default now). Idempotent (a rerun continues the same hotspots and rewrites the same rows), so
    ``acks_late`` is safe. Returns counts: cases read, hotspots found, new, continued, inactive."""
    import datetime as dt

    from .text.hotspots import find_hotspots as run

    report = run(until=dt.datetime.fromisoformat(until) if until else None)
    return {"cases": report.cases, "hotspots": len(report.found), "created": report.created,
            "continued": report.continued, "inactive": report.inactive}


@shared_task(name="cases.deliver_feedback", bind=True, acks_late=True, max_retries=None)
def deliver_feedback(self, delivery_id: int) -> dict:
    """Attempt one upstream feedback delivery (:func:`cases.interop.feedback.attempt_delivery`); after a
    failed attempt, retry with the back-off it answers. Safe to run twice: the delivery row is locked and a
    delivered step is never sent again, so ``acks_late`` holds. Returns the attempt's outcome."""
    from django.conf import settings

    from .interop.feedback import attempt_delivery

    outcome = attempt_delivery(delivery_id)
    if outcome["retry_in"] is not None:
        raise self.retry(countdown=outcome["retry_in"], queue=settings.UPSTREAM_FEEDBACK_QUEUE)
    return outcome


@shared_task(name="cases.requeue_feedback", acks_late=True)
def requeue_feedback() -> int:
    """Every few minutes: enqueue again the feedback deliveries whose next attempt is overdue (a task lost
    with a worker or broker). Idempotent. Returns how many were enqueued."""
    from .interop.feedback import requeue_stale

    return requeue_stale()
