"""Celery tasks of the reps app: thin wrappers that call services, safe to run twice. The weekly visits'
tasks keep the names they were published under (``grids.*``, from before the visits moved into this app),
so beat entries and queued messages stay valid."""
import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import services, visits


def _moment(now: str | None):
    return dt.datetime.fromisoformat(now) if now else None


def _aware_moment(now: str | None) -> dt.datetime | None:
    """``now`` as given to a visits task (ISO-8601 with an offset, or None for the current time); raises
    ValueError without an offset."""
    if now is None:
        return None
    moment = dt.datetime.fromisoformat(now)
    if moment.tzinfo is None:
        raise ValueError(f"now must carry a UTC offset: {now!r}")
    return moment


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


@shared_task(name="grids.plan_next_week", acks_late=True)
def plan_next_week(now: str | None = None) -> dict:
    """Plan the visits of the ISO week after the one containing ``now`` (Asia/Shanghai date; ``now``:
    optional ISO-8601 time with offset, default the current time). Beat: Fridays 18:00.

    Idempotent (one visit per cadre, village and week), so ``acks_late`` is safe. Returns
    ``PlanReport.as_dict()``: ``{"iso_week", "created", "existing", "not_due", "by_status"}``.
    """
    moment = _aware_moment(now) or timezone.now()
    return visits.plan_week(visits.next_week(moment), now=moment).as_dict()


@shared_task(name="grids.mark_missed_visits", acks_late=True)
def mark_missed_visits(now: str | None = None) -> dict:
    """Mark earlier days' unrecorded planned visits missed and notify supervisors (``now`` as above).
    Beat: daily 00:30. Safe to rerun (compare-and-set, deduplicated notifications). Returns
    ``{"marked", "notified"}``."""
    return visits.mark_missed(_aware_moment(now)).as_dict()


@shared_task(name="grids.send_visit_reminders", acks_late=True)
def send_visit_reminders(now: str | None = None) -> dict:
    """Remind cadres of tomorrow's visits (``now`` as above). Beat: daily 18:00. Safe to rerun (once per
    visit). Returns ``{"day", "reminded", "without_login"}``."""
    return visits.send_reminders(_aware_moment(now)).as_dict()
