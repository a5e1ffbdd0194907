"""Operations records of the cases app: the heartbeat of the 7×24 deadline engine (issue 18)."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class SweepRun(models.Model):
    """One run of the deadline sweep, stamped by the thin wrapper that started it (``cases.heartbeat``).

    ``started_at`` / ``finished_at`` are the wall clock of the run (aware, stored UTC); ``swept_at`` is the
    moment the sweep reckoned with (the same unless ``sweep_deadlines --now`` gave another). ``marks`` is
    warnings + breaches recorded; ``error`` is the exception class of a failed run (never its message,
    which could carry case text). A run still running has ``finished_at`` None.
    """

    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    swept_at = models.DateTimeField(_("时限基准时间"))
    trigger = models.CharField(_("触发方式"), max_length=16)  # "task" (beat/worker) or "command"
    cases = models.PositiveIntegerField(_("处理诉求数"), default=0)
    marks = models.PositiveIntegerField(_("预警与超时数"), default=0)
    notifications = models.PositiveIntegerField(_("通知数"), default=0)
    error = models.CharField(_("错误"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("时限扫描记录")
        verbose_name_plural = _("时限扫描记录")
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"sweep {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end, None while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class OpsCounter(models.Model):
    """A monotonic counter of the product's own metrics (``cases.metrics``), shared by every process.

    Incremented with one ``UPDATE … SET value = value + n`` (atomic in the database), read by the
    Prometheus endpoint. ``name`` is a metric name without the ``xiji_`` prefix and ``_total`` suffix.
    """

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("运行计数")
        verbose_name_plural = _("运行计数")

    def __str__(self):
        return f"{self.name}={self.value}"
