"""Stored daily aggregates for the statistics (DESIGN §6)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import Source
from .taxonomy import Category


class DailyStat(models.Model):
    """Stored daily aggregate of cases for the statistics (DESIGN §6), one row per grain:
    Asia/Shanghai day of ``received_at`` × village × micro-grid × top-level category × source × handler ×
    excluded. Every figure of a case is attributed to its received day (also callbacks and on-time figures
    that happen later); rows of a day are recomputed whenever a case of that day changes (see
    ``cases.selectors.refresh_daily_stats``). Only figures that do not depend on the reading time are
    stored; "open and past due" is always counted live.
    """

    day = models.DateField(_("日期"))
    village = models.ForeignKey("grids.Village", on_delete=models.CASCADE, related_name="+", verbose_name=_("村/社区"))
    grid = models.ForeignKey(
        "grids.Grid", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("微网格")
    )
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("一级分类")
    )
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    handler = models.ForeignKey(
        "grids.Cadre", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("承办人")
    )
    excluded = models.BooleanField(_("剔除"), default=False)

    received = models.PositiveIntegerField(_("受理"), default=0)
    dispatched = models.PositiveIntegerField(_("派单"), default=0)
    responded = models.PositiveIntegerField(_("已联系"), default=0)
    resolved = models.PositiveIntegerField(_("已办结"), default=0)
    closed = models.PositiveIntegerField(_("已结案"), default=0)
    dispatch_met = models.PositiveIntegerField(_("有时限且已派单"), default=0)
    dispatch_on_time = models.PositiveIntegerField(_("按时派单"), default=0)
    respond_met = models.PositiveIntegerField(_("有时限且已联系"), default=0)
    respond_on_time = models.PositiveIntegerField(_("按时联系"), default=0)
    resolve_met = models.PositiveIntegerField(_("有时限且已办结"), default=0)
    resolve_on_time = models.PositiveIntegerField(_("按时办结"), default=0)
    met_late = models.PositiveIntegerField(_("超时完成"), default=0)
    valid_callbacks = models.PositiveIntegerField(_("有效回访"), default=0)
    callback_contacted = models.PositiveIntegerField(_("回访：已联系"), default=0)
    callback_solved = models.PositiveIntegerField(_("回访：已解决"), default=0)
    satisfied = models.PositiveIntegerField(_("满意"), default=0)
    basically_satisfied = models.PositiveIntegerField(_("基本满意"), default=0)
    unsatisfied = models.PositiveIntegerField(_("不满意"), default=0)

    class Meta:
        verbose_name = _("日统计")
        verbose_name_plural = _("日统计")
        ordering = ["day"]
        indexes = [models.Index(fields=["day", "village"], name="dailystat_day_village")]

    def __str__(self):
        return f"{self.day} {self.village_id} {self.received}"


class StatFillState(models.Model):
    """How far the DailyStat rows are known to be complete (one row, ``name="daily"``).

    ``clean_until`` (UTC): every case whose ``updated_at`` is at or before it is reflected in DailyStat;
    a case changed later makes its received day "dirty", and readers count dirty days live.
    """

    name = models.CharField(max_length=20, primary_key=True)
    clean_until = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.clean_until}"
