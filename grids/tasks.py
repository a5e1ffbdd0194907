"""Celery tasks of the grid registry (thin wrappers that take primitives, call a service, are safe to rerun)."""
import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import visits
from .models import Grid, Village


def _moment(now: str | None) -> dt.datetime | None:
    """``now`` as given to a task (ISO-8601 with an offset, or None for the current time)."""
    if now is None:
        return None
    moment = dt.datetime.fromisoformat(now)
    if moment.tzinfo is None:
        raise ValueError(f"now must carry a UTC offset: {now!r}")
    return moment


@shared_task(name="grids.registry_summary")
def registry_summary() -> dict[str, int]:
    """Count the registry as the worker's database sees it: ``{"villages": n, "grids": m}``.

    Used by operators and the integration tests to prove a worker is up and reads the same database.
    """
    return {"villages": Village.objects.count(), "grids": Grid.objects.count()}


@shared_task(name="grids.plan_next_week", acks_late=True)
def plan_next_week(now: str | None = None) -> dict:
    """Plan the visits of the ISO week after the one containing ``now`` (Asia/Shanghai date; ``now``:
    optional ISO-8601 time with offset, default the current time). Beat: Fridays 18:00.

    Idempotent (one visit per cadre, village and week), so ``acks_late`` is safe. Returns
    ``PlanReport.as_dict()``: ``{"iso_week", "created", "existing", "not_due", "by_status"}``.
    """
    moment = _moment(now) or timezone.now()
    return visits.plan_week(visits.next_week(moment), now=moment).as_dict()


@shared_task(name="grids.mark_missed_visits", acks_late=True)
def mark_missed_visits(now: str | None = None) -> dict:
    """Mark earlier days' unrecorded planned visits missed and notify supervisors (``now`` as above).
    Beat: daily 00:30. Safe to rerun (compare-and-set, deduplicated notifications). Returns
    ``{"marked", "notified"}``."""
    return visits.mark_missed(_moment(now)).as_dict()


@shared_task(name="grids.send_visit_reminders", acks_late=True)
def send_visit_reminders(now: str | None = None) -> dict:
    """Remind cadres of tomorrow's visits (``now`` as above). Beat: daily 18:00. Safe to rerun (once per
    visit). Returns ``{"day", "reminded", "without_login"}``."""
    return visits.send_reminders(_moment(now)).as_dict()
