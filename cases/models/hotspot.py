"""Hotspots (高频难点), monthly topics (每月一题) and proactive cases (未诉先办): issue 11 §4–§5.

A :class:`Hotspot` is a recurring demand: cases of one top-level category whose texts cluster together in a
rolling window (``cases.text.hotspots``). It keeps its id across nightly runs, so its history
(:class:`HotspotSnapshot`, one row per run day) and its audited events (:class:`HotspotEvent`) follow it.
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import HotspotAction, HotspotStatus
from .case import Case
from .taxonomy import Category


class Hotspot(models.Model):
    """One recurring demand of one category, with the figures of the latest run that found it.

    ``village`` is the village holding at least half of its window's cases (None: spread over several);
    ``villages`` every village it touches. Figures (``heat`` …) are those of the last run in which it was
    found (``active``); see ``cases.text.hotspots.heat_index`` for the heat index.
    """

    title = models.CharField(_("代表性标题"), max_length=200)
    keywords = models.JSONField(_("关键词"), default=list, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="hotspots",
                                 verbose_name=_("一级分类"))
    village = models.ForeignKey("grids.Village", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="hotspots", verbose_name=_("村/社区"))
    villages = models.ManyToManyField("grids.Village", related_name="touching_hotspots", blank=True,
                                      verbose_name=_("涉及村/社区"))
    status = models.CharField(_("状态"), max_length=16, choices=HotspotStatus.choices, default=HotspotStatus.NEW)
    active = models.BooleanField(_("最近一次仍在"), default=True)
    heat = models.FloatField(_("热度"), default=0)
    case_count = models.PositiveIntegerField(_("窗口内诉求数"), default=0)
    caller_count = models.PositiveIntegerField(_("诉求人数"), default=0)
    previous_count = models.PositiveIntegerField(_("上一窗口诉求数"), default=0)
    growth = models.FloatField(_("增长"), default=0)
    unsatisfied_share = models.FloatField(_("重办/不满意占比"), default=0)
    votes = models.PositiveIntegerField(_("净点赞数"), default=0)
    window_start = models.DateTimeField(_("窗口开始"))
    window_end = models.DateTimeField(_("窗口结束"))
    first_seen_at = models.DateTimeField(_("首次发现"))
    last_seen_at = models.DateTimeField(_("最近发现"))
    cleared_at = models.DateTimeField(_("化解时间"), null=True, blank=True)
    members = models.ManyToManyField(Case, through="HotspotMember", related_name="hotspots", blank=True)

    class Meta:
        verbose_name = _("高频难点")
        verbose_name_plural = _("高频难点")
        ordering = ["-heat", "id"]
        indexes = [models.Index(fields=["status", "-heat"], name="hotspot_status_heat"),
                   models.Index(fields=["cleared_at"], name="hotspot_cleared",
                                condition=Q(cleared_at__isnull=False))]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    def recent_snapshots(self, days: int = 30) -> list:
        """The last ``days`` run-day snapshots, oldest first, from ``snapshots`` (prefetch it for lists):
        the series of the sparkline in the API and on the pages."""
        return sorted(self.snapshots.all(), key=lambda s: s.day)[-days:]


class HotspotMember(models.Model):
    """A case of a hotspot in the latest run that found it (the window and the previous window). The rows
    of a hotspot are replaced by every run that finds it; a cleared hotspot keeps its last ones."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.CASCADE, related_name="memberships")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="hotspot_memberships")
    in_window = models.BooleanField(_("在当前窗口"), default=True)
    similarity = models.FloatField(_("与主题相似度"), default=0)

    class Meta:
        verbose_name = _("高频难点诉求")
        verbose_name_plural = _("高频难点诉求")
        constraints = [models.UniqueConstraint(fields=["hotspot", "case"], name="hotspot_member_once")]

    def __str__(self):
        return f"{self.hotspot_id}: {self.case_id}"


class HotspotSnapshot(models.Model):
    """A hotspot's figures on one run day (Asia/Shanghai date of the window's end): its history."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField(_("日期"))
    heat = models.FloatField(_("热度"))
    case_count = models.PositiveIntegerField(_("诉求数"))
    caller_count = models.PositiveIntegerField(_("诉求人数"))

    class Meta:
        verbose_name = _("高频难点快照")
        verbose_name_plural = _("高频难点快照")
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["hotspot", "day"], name="hotspot_snapshot_per_day")]

    def __str__(self):
        return f"{self.hotspot_id} @ {self.day}: {self.heat}"


class MonthlyTopic(models.Model):
    """A hotspot chosen as a month's topic (每月一题): an owner (a cadre) and a target date."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.PROTECT, related_name="topics", verbose_name=_("高频难点"))
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    owner = models.ForeignKey("grids.Cadre", on_delete=models.PROTECT, related_name="monthly_topics",
                              verbose_name=_("责任人"))
    target_date = models.DateField(_("目标完成日期"))
    note = models.TextField(_("说明"), blank=True)
    promoted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("确定人"))
    promoted_at = models.DateTimeField(_("确定时间"))

    class Meta:
        verbose_name = _("每月一题")
        verbose_name_plural = _("每月一题")
        ordering = ["-month", "id"]
        constraints = [models.UniqueConstraint(fields=["hotspot", "month"], name="topic_once_per_month")]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.hotspot.title}"


class ProactiveLink(models.Model):
    """A proactive case (未诉先办, source ``proactive``) raised from a hotspot."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.PROTECT, related_name="proactive_links")
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="proactive_link")
    topic = models.ForeignKey(MonthlyTopic, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="proactive_links")

    class Meta:
        verbose_name = _("未诉先办诉求")
        verbose_name_plural = _("未诉先办诉求")

    def __str__(self):
        return f"{self.hotspot_id}: {self.case_id}"


class HotspotEvent(models.Model):
    """Append-only audit row of a hotspot: detected, watched, promoted, proactive case raised, cleared."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("操作人"))
    action = models.CharField(_("动作"), max_length=24, choices=HotspotAction.choices)
    from_status = models.CharField(_("原状态"), max_length=16, choices=HotspotStatus.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, choices=HotspotStatus.choices, blank=True)
    at = models.DateTimeField(_("时间"))
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        verbose_name = _("高频难点事件")
        verbose_name_plural = _("高频难点事件")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["action", "at"], name="hotspot_event_action_at")]

    def __str__(self):
        return f"{self.hotspot_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("HotspotEvent rows are append-only")
        super().save(*args, **kwargs)
