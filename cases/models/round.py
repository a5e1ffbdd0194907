"""Finished rounds of handling of a case (issue 12 §1, DESIGN §5)."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import CallbackSource, Satisfaction


class CaseRound(models.Model):
    """One finished round of handling (办理轮次) of a case, written when the case is reopened (重办).

    A case's own columns hold its current round; every earlier round is a row here, never changed again,
    so a breach once recorded stays recorded whatever a later round does. ``number`` counts from 1 (the
    round from receipt); ``started_at`` is ``received_at`` for round 1 and the reopen time after it, and
    ``ended_at`` the reopen that ended the round. The dispatch deadline is not a round's: it runs from
    receipt to the case's first dispatch, once per case. ``<deadline>_late`` is the round's verdict on that
    deadline (True late, False met, None no deadline) by the one rule of :mod:`cases.boundary`, taken from
    the timestamps and the recorded breach marks (:func:`cases.rounds.round_record`). Times are UTC.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="rounds", verbose_name=_("诉求"))
    number = models.PositiveSmallIntegerField(_("轮次"))
    started_at = models.DateTimeField(_("本轮开始"))
    ended_at = models.DateTimeField(_("本轮结束（重办）"))
    responded_at = models.DateTimeField(_("联系时间"), null=True, blank=True)
    respond_due_at = models.DateTimeField(_("响应时限"), null=True, blank=True)
    respond_breached_at = models.DateTimeField(_("响应超时于"), null=True, blank=True)
    respond_late = models.BooleanField(_("响应超时"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    resolve_breached_at = models.DateTimeField(_("办结超时于"), null=True, blank=True)
    resolve_late = models.BooleanField(_("办结超时"), null=True, blank=True)
    solved = models.BooleanField(_("是否解决"), null=True, blank=True)
    result = models.TextField(_("办理结果"), blank=True)
    callback_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    callback_contacted = models.BooleanField(_("回访：是否联系"), null=True, blank=True)
    callback_solved = models.BooleanField(_("回访：是否解决"), null=True, blank=True)
    satisfaction = models.CharField(_("满意度"), max_length=24, choices=Satisfaction.choices, blank=True)
    callback_source = models.CharField(_("回访来源"), max_length=16, choices=CallbackSource.choices, blank=True)

    class Meta:
        verbose_name = _("办理轮次")
        verbose_name_plural = _("办理轮次")
        ordering = ["case", "number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="case_round_number")]

    def __str__(self):
        return f"{self.case_id} #{self.number}"
