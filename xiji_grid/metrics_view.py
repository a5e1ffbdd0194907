"""``GET /metrics``: the product's own figures for Prometheus (issue 18), protected.

Access: ``Authorization: Bearer <METRICS_TOKEN>`` (set ``METRICS_TOKEN`` in the environment; without it the
endpoint accepts no token), or a logged-in administrator (staff or group ``admin``). Anyone else gets 403
(401 without credentials). Every figure is read from the database at scrape time, so all gunicorn workers,
Celery workers and commands report one set of numbers (no per-process registry):

| metric | type | what |
|---|---|---|
| ``xiji_open_cases{status}`` | gauge | open cases by status |
| ``xiji_due_backlog`` | gauge | cases past their check time by more than ``SWEEP_DUE_GRACE_SECONDS`` |
| ``xiji_sweep_lag_seconds`` | gauge | seconds since the last sweep finished (absent before the first) |
| ``xiji_sweep_duration_seconds`` | gauge | duration of the last sweep |
| ``xiji_<counter>_total`` | counter | ``cases.metrics.COUNTERS``: sweep runs, marks and notifications, notifications stored, delivery failures, import rows |
| ``xiji_login_failures_total`` | counter | failed logins audited (``grids.models.LoginFailure``) |

Grafana: ``deploy/grafana/xiji-grid.json`` is a sample dashboard over these.
"""
import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class ProductCollector:
    """Reads the figures of the module docstring from the database on each ``collect()``."""

    def collect(self):
        from django.db.models import Count

        from cases import metrics
        from cases.choices import OPEN_STATES
        from cases.heartbeat import engine_status
        from cases.models import Case
        from grids.models import LoginFailure

        open_cases = GaugeMetricFamily("xiji_open_cases", "Open cases by status", labels=["status"])
        counts = dict(Case.objects.filter(status__in=OPEN_STATES).values_list("status").annotate(n=Count("pk")))
        for status in OPEN_STATES:
            open_cases.add_metric([str(status)], counts.get(status, 0))
        yield open_cases
        status = engine_status()
        yield GaugeMetricFamily("xiji_due_backlog", "Cases waiting past their check time beyond the grace",
                                value=status.backlog)
        if status.seconds_since is not None:
            yield GaugeMetricFamily("xiji_sweep_lag_seconds", "Seconds since the last sweep finished",
                                    value=status.seconds_since)
            yield GaugeMetricFamily("xiji_sweep_duration_seconds", "Duration of the last sweep",
                                    value=status.last_duration_seconds or 0.0)
        for name, value in metrics.counter_values().items():
            yield CounterMetricFamily(f"xiji_{name}", metrics.COUNTERS[name], value=value)
        yield CounterMetricFamily("xiji_login_failures", "Failed logins audited", value=LoginFailure.objects.count())


def _allowed(request) -> int:
    """200 when the request may read the metrics, else the status to answer (401 or 403)."""
    token = getattr(settings, "METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if given.startswith("Bearer "):
        return 200 if token and hmac.compare_digest(given[7:].strip(), token) else 403
    user = request.user
    if not user.is_authenticated:
        return 401
    return 200 if user.is_staff or user.is_superuser or user.groups.filter(name="admin").exists() else 403


@never_cache
@require_GET
def metrics(request):
    """The Prometheus text exposition of :class:`ProductCollector`."""
    allowed = _allowed(request)
    if allowed != 200:
        return HttpResponse("metrics: forbidden\n" if allowed == 403 else "metrics: credentials required\n",
                            status=allowed, content_type="text/plain; charset=utf-8")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProductCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
