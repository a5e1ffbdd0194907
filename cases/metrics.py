"""The product's own metrics (issue 18): counters kept in the database, gauges read at scrape time.

Counters live in :class:`~cases.models.OpsCounter` rows, so every gunicorn worker, Celery worker and
command adds to the same figure (no per-process registry to merge). Gauges are read from the tables when
the Prometheus endpoint is scraped (``xiji_grid.metrics_view``): open cases by status, the due backlog,
sweep lag and duration. Counter names (without ``xiji_`` / ``_total``):

| name | incremented by |
|---|---|
| ``sweep_runs``, ``sweep_marks``, ``sweep_notifications`` | each sweep run (``cases.heartbeat.run_sweep``) |
| ``notifications`` | every notification stored (``cases.notifications.notify``) |
| ``delivery_failures`` | every notification whose delivery failed |
| ``import_rows``, ``import_bad_rows`` | the ``import_cases`` command |
"""
from django.db import IntegrityError, transaction
from django.db.models import F

COUNTERS = {
    "sweep_runs": "Deadline sweeps run",
    "sweep_marks": "Warnings and breaches recorded by the sweep",
    "sweep_notifications": "Notifications stored by the sweep",
    "notifications": "Notifications stored",
    "delivery_failures": "Notification deliveries that failed",
    "import_rows": "Rows written by imports",
    "import_bad_rows": "Rows refused by imports",
}


def increment(**amounts: int) -> None:
    """Add each ``name=amount`` (names of :data:`COUNTERS`, amounts ≥ 0) to its counter; never raises
    for a database error (metrics must not break the work they count), which is logged instead.

    Raises KeyError for an unknown name (a programming error).
    """
    import logging

    from .models import OpsCounter

    for name, amount in amounts.items():
        COUNTERS[name]  # noqa: B018 - unknown names are a programming error
        if not amount:
            continue
        try:
            with transaction.atomic():
                if not OpsCounter.objects.filter(name=name).update(value=F("value") + amount):
                    try:
                        with transaction.atomic():
                            OpsCounter.objects.create(name=name, value=amount)
                    except IntegrityError:  # another process created it first
                        OpsCounter.objects.filter(name=name).update(value=F("value") + amount)
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).warning("metric counter %s not incremented", name, exc_info=True)


def counter_values() -> dict[str, int]:
    """Every counter of :data:`COUNTERS` with its current value (0 when never incremented)."""
    from .models import OpsCounter

    values = dict.fromkeys(COUNTERS, 0)
    values.update(dict(OpsCounter.objects.filter(name__in=COUNTERS).values_list("name", "value")))
    return values
