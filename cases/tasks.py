"""Celery tasks of cases: thin wrappers that call services, safe to run twice."""
from celery import shared_task

from . import deadlines


@shared_task(name="cases.sweep_deadlines", acks_late=True)
def sweep_deadlines(now: str | None = None) -> dict[str, int]:
    """Run the deadline sweep (``now``: optional ISO-8601 aware time, default the current time).

    Idempotent, so ``acks_late`` is safe: a run repeated after a worker crash records nothing twice.
    Returns the SweepReport as a dict.
    """
    import datetime as dt

    return deadlines.sweep(dt.datetime.fromisoformat(now) if now else None).as_dict()
