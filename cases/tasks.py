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
