"""Celery tasks of the liaison stations: thin wrappers that call services, safe to run twice."""
import datetime as dt

from celery import shared_task

from . import services


def _moment(now: str | None):
    return dt.datetime.fromisoformat(now) if now else None


@shared_task(name="reps.plan_receptions", acks_late=True)
def plan_receptions(weeks: int | None = None, now: str | None = None) -> int:
    """Create the coming ``weeks`` (default setting ``RECEPTION_PLAN_WEEKS``, 4) of regular planned
    receptions for every active station. ``now``: optional ISO-8601 aware time. Idempotent (one regular
    reception per station and date), so ``acks_late`` is safe. Returns how many were created."""
    return services.plan_receptions(weeks=weeks, now=_moment(now))


@shared_task(name="reps.remind_receptions", acks_late=True)
def remind_receptions(now: str | None = None) -> int:
    """Remind the deputies on duty of tomorrow's planned receptions (once per reception and deputy).
    ``now``: optional ISO-8601 aware time. Returns how many notifications were created."""
    return services.send_reception_reminders(now=_moment(now))
