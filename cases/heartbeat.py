"""The heartbeat of the 7×24 deadline engine (issue 18): every sweep stamps its run, and something that is
not beat watches the stamps.

- :func:`run_sweep` is the thin wrapper the Celery task and the ``sweep_deadlines`` command call: it writes a
  :class:`~cases.models.SweepRun` when the sweep starts (committed at once, so a sweep that hangs is
  visible) and completes it with the counts when it ends. The sweep itself (``cases.deadlines.sweep``) is
  called unchanged, whatever its inner loop looks like.
- :func:`engine_status` reads the last run and the due backlog (cases whose ``next_check_at`` lies more
  than ``SWEEP_DUE_GRACE_SECONDS`` in the past), cheaply: two indexed queries.
- :func:`check_engine` alerts the dispatchers and administrators through ``cases.notifications.notify()``
  (hence through every channel the product delivers notifications on) when no sweep has finished for
  ``SWEEP_STALE_AFTER_SECONDS`` or due cases wait past their check time by more than the grace. It is
  called by the web process (``xiji_grid.middleware.EngineWatchMiddleware``, at most once per
  ``ENGINE_WATCH_INTERVAL_SECONDS`` across all processes) and by the ``watch_engine`` command — never
  by beat, whose stopping is what it must notice. One alert per outage: the dedupe key names the last
  run seen (stale) or the oldest waiting check time (backlog).
"""
import dataclasses
import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import metrics
from .choices import NotificationKind
from .models import Case, SweepRun

logger = logging.getLogger(__name__)


def run_sweep(now: dt.datetime | None = None, *, trigger: str = "task"):
    """Run ``cases.deadlines.sweep(now)`` and stamp it as a :class:`SweepRun`.

    ``now``: aware datetime the sweep reckons with (default the current time); ``trigger``: ``"task"``
    or ``"command"``. Returns the sweep's SweepReport. Re-raises whatever the sweep raises, after
    recording the exception's class name on the run. Runs older than ``SWEEP_RUN_KEEP_DAYS`` are pruned.
    """
    from .deadlines import sweep

    started = timezone.now()
    run = SweepRun.objects.create(started_at=started, swept_at=now or started, trigger=trigger)
    try:
        report = sweep(now)
    except Exception as exc:
        SweepRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), error=type(exc).__name__[:120])
        raise
    counts = report.as_dict()
    marks = sum(counts[k] for k in ("respond_warnings", "respond_breaches", "resolve_warnings", "resolve_breaches"))
    finished = timezone.now()
    SweepRun.objects.filter(pk=run.pk).update(
        finished_at=finished, cases=report.cases, marks=marks, notifications=report.notifications,
    )
    SweepRun.objects.filter(started_at__lt=finished - dt.timedelta(days=settings.SWEEP_RUN_KEEP_DAYS)).delete()
    metrics.increment(sweep_runs=1, sweep_marks=marks, sweep_notifications=report.notifications)
    return report


@dataclasses.dataclass
class EngineStatus:
    """What the engine's heartbeat says at ``now`` (all times aware).

    ``last_finished_at``: end of the latest finished sweep (None: never); ``seconds_since``: ``now`` minus
    that, whole seconds (None: never); ``last_duration_seconds``; ``stale``: no sweep finished for more than
    ``SWEEP_STALE_AFTER_SECONDS`` (False before the first sweep ever: then the backlog tells);
    ``backlog``: cases whose check time is more than ``SWEEP_DUE_GRACE_SECONDS`` past; ``oldest_due_at``:
    the earliest such check time; ``lag_seconds``: how long it waits (0 without backlog).
    """

    now: dt.datetime
    last_run_id: int | None
    last_finished_at: dt.datetime | None
    seconds_since: int | None
    last_duration_seconds: float | None
    stale: bool
    backlog: int
    oldest_due_at: dt.datetime | None
    lag_seconds: int

    @property
    def healthy(self) -> bool:
        return not self.stale and not self.backlog

    def as_dict(self) -> dict:
        """JSON-ready: times as ISO 8601 strings."""
        return {
            "healthy": self.healthy,
            "last_sweep_at": self.last_finished_at.isoformat() if self.last_finished_at else None,
            "last_sweep_seconds_ago": self.seconds_since,
            "last_sweep_duration_seconds": self.last_duration_seconds,
            "stale": self.stale,
            "due_backlog": self.backlog,
            "oldest_due_at": self.oldest_due_at.isoformat() if self.oldest_due_at else None,
            "lag_seconds": self.lag_seconds,
        }


def engine_status(now: dt.datetime | None = None) -> EngineStatus:
    """The heartbeat at ``now`` (aware; default the current time). Two indexed queries."""
    now = now or timezone.now()
    last = SweepRun.objects.filter(finished_at__isnull=False, error="").order_by("-finished_at").first()
    grace = dt.timedelta(seconds=settings.SWEEP_DUE_GRACE_SECONDS)
    waiting = Case.objects.due_for_sweep(now - grace).aggregate(n=_count_pk(), oldest=Min("next_check_at"))
    seconds_since = int((now - last.finished_at).total_seconds()) if last else None
    stale = last is not None and seconds_since > settings.SWEEP_STALE_AFTER_SECONDS
    oldest = waiting["oldest"]
    return EngineStatus(
        now=now, last_run_id=last.pk if last else None, last_finished_at=last.finished_at if last else None,
        seconds_since=seconds_since, last_duration_seconds=last.duration_seconds if last else None, stale=stale,
        backlog=waiting["n"], oldest_due_at=oldest, lag_seconds=int((now - oldest).total_seconds()) if oldest else 0,
    )


def _count_pk():
    from django.db.models import Count

    return Count("pk")


def alert_recipients() -> list:
    """Active dispatchers and administrators (group ``admin`` or superuser), distinct, by id."""
    from grids.choices import Role

    return list(
        get_user_model().objects.filter(is_active=True)
        .filter(Q(groups__name__in=[Role.DISPATCHER, Role.ADMIN]) | Q(is_superuser=True))
        .distinct().order_by("pk")
    )


def check_engine(now: dt.datetime | None = None) -> list:
    """Alert dispatchers and admins when the engine has stopped or fallen behind; once per outage.

    Returns the Notifications created now (empty when healthy or already alerted). ``now``: aware,
    default the current time. Must not be called by beat (it watches beat).
    """
    from django.db import transaction
    from django.utils import translation

    from .notifications import notify

    status = engine_status(now)
    created = []
    # Stored in the product's language (zh-hans), whatever language the request that noticed it speaks.
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        if status.stale:
            minutes = status.seconds_since // 60
            created += notify(
                alert_recipients(), kind=NotificationKind.ENGINE_ALERT,
                title=_("时限引擎已停止：%(minutes)s 分钟没有扫描") % {"minutes": minutes},
                body=_("最近一次时限扫描在 %(seconds)s 秒前结束。预警与超时不会被记录，请检查 Celery beat 与 worker。")
                % {"seconds": status.seconds_since},
                dedupe_key=f"engine-stale:{status.last_run_id}", now=status.now,
            )
        if status.backlog:
            created += notify(
                alert_recipients(), kind=NotificationKind.ENGINE_ALERT,
                title=_("时限引擎积压：%(count)s 件诉求超过检查时间未处理") % {"count": status.backlog},
                body=_("最早的一件已等待 %(seconds)s 秒。请检查 Celery worker 是否在运行。") % {"seconds": status.lag_seconds},
                dedupe_key=f"engine-backlog:{status.oldest_due_at.isoformat()}", now=status.now,
            )
    if created:
        logger.warning("deadline engine alert: stale=%s backlog=%s lag=%ss, %s notifications",
                       status.stale, status.backlog, status.lag_seconds, len(created))
    return created
