"""Celery tasks of the grid registry (thin wrappers that take primitives, call a service, are safe to rerun)."""
from celery import shared_task

from .models import Grid, Village


@shared_task(name="grids.registry_summary")
def registry_summary() -> dict[str, int]:
    """Count the registry as the worker's database sees it: ``{"villages": n, "grids": m}``.

    Used by operators and the integration tests to prove a worker is up and reads the same database.
    """
    return {"villages": Village.objects.count(), "grids": Grid.objects.count()}
