"""The category taxonomy and the SLA policies (DESIGN §2, §5)."""
import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import Urgency


class Category(models.Model):
    """One node of the three-level taxonomy (一级/二级/三级分类).

    ``default_urgency`` (optional) is proposed for new cases of this category or its descendants.
    """

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    name = models.CharField(_("名称"), max_length=50)
    level = models.PositiveSmallIntegerField(_("层级"))
    default_urgency = models.CharField(_("默认紧急程度"), max_length=16, choices=Urgency.choices, blank=True)

    class Meta:
        verbose_name = _("诉求分类")
        verbose_name_plural = _("诉求分类")
        ordering = ["level", "name"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_under_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="category_unique_top_level_name"
            ),
        ]

    def __str__(self):
        return self.name

    def effective_urgency(self) -> str:
        """The nearest ``default_urgency`` on the way to the root, else ``general``."""
        node = self
        while node is not None:
            if node.default_urgency:
                return node.default_urgency
            node = node.parent
        return Urgency.GENERAL


class SlaPolicy(models.Model):
    """Dispatch, respond and resolve windows for one urgency (DESIGN §5; DB11/T 2021—2022 draft), editable by admins.

    Windows are wall-clock durations counted from ``Case.received_at`` (7×24, no holiday pause).
    ``warning_share`` is the share of a window after which a warning is raised (0.75 = 75 %).
    """

    urgency = models.CharField(_("紧急程度"), max_length=16, choices=Urgency.choices, unique=True)
    # Dispatch time limit (派单时限, DB11/T 2021—2022: 1 h emergencies, 2 h utilities, 24 h otherwise), from
    # received_at; empty = no dispatch deadline.
    dispatch_within = models.DurationField(_("派单时限"), null=True, blank=True)
    respond_within = models.DurationField(_("响应时限"))
    resolve_within = models.DurationField(_("办结时限"))
    warning_share = models.DecimalField(_("预警比例"), max_digits=4, decimal_places=3, default=0.75)

    class Meta:
        verbose_name = _("时限标准")
        verbose_name_plural = _("时限标准")
        ordering = ["respond_within", "resolve_within"]
        constraints = [
            models.CheckConstraint(
                condition=Q(warning_share__gt=0) & Q(warning_share__lt=1), name="sla_warning_share_between_0_and_1"
            ),
        ]

    def __str__(self):
        return self.get_urgency_display()

    def warning_at(self, start: dt.datetime, due: dt.datetime) -> dt.datetime:
        """The moment ``warning_share`` of the window ``start``→``due`` has passed (aware datetimes)."""
        return start + (due - start) * float(self.warning_share)
