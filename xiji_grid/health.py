"""Health and readiness probes for a load balancer or Kubernetes (issue 18): JSON, no login, cheap.

- ``GET /healthz``: the process is up and answers (no database access). Always 200 ``{"status": "ok"}``.
- ``GET /readyz``: 200 when the database answers, every migration is applied, the broker accepts a
  connection and the cache stores and returns a value; else 503. The body names each check
  (``"ok"`` or the error's class name) and carries the deadline engine's heartbeat
  (``cases.heartbeat.engine_status``: "last sweep N s ago", due backlog). A stopped beat does not fail
  readiness — taking every web process out of the load balancer would not restart beat; it alerts
  dispatchers and admins instead (``EngineWatchMiddleware``).
"""
import logging
import uuid

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
_migrations_applied = False  # once seen applied, a process does not load the migration graph again


@never_cache
@require_GET
def healthz(request):
    """Liveness: 200 ``{"status": "ok"}`` while the process can answer."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migrations not applied")
    _migrations_applied = True


def _check_broker() -> None:
    from xiji_grid.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=3)


def _check_cache() -> None:
    key, value = "readyz-probe", uuid.uuid4().hex
    cache.set(key, value, 30)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return the value stored")


CHECKS = {"database": _check_database, "migrations": _check_migrations, "broker": _check_broker,
          "cache": _check_cache}


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when every check of :data:`CHECKS` passes, else 503; JSON
    ``{"status": "ok"|"unavailable", "checks": {name: "ok"|error class}, "engine": {...}}``."""
    from cases.heartbeat import engine_status

    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = type(exc).__name__
    ok = all(v == "ok" for v in results.values())
    body = {"status": "ok" if ok else "unavailable", "checks": results}
    if results["database"] == "ok":
        try:
            body["engine"] = engine_status().as_dict()
        except Exception as exc:  # noqa: BLE001
            body["engine"] = {"error": type(exc).__name__}
    return JsonResponse(body, status=200 if ok else 503)


def not_found(request, exception=None):
    """``handler404``: under ``/api/`` a JSON ``{"code": "not_found", "detail"}`` like every other API error
    (a path that matches no route — ``/api/v1/visits/abc/`` — answered Django's HTML page, which the schema
    does not promise); elsewhere the friendly page of ``templates/404.html``."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "未找到。"}, status=404)
    from cases.views.start import not_found as page_not_found  # keeps the menu and badge (issue 16 §8)

    return page_not_found(request, exception)
