"""Notification channels (WeCom, DingTalk, Feishu, SMS, e-mail …) and the delivery log (issue 14).

A channel is an Apprise URL kept encrypted at rest (``cases.channels.crypto``), owned by one user or by a
village's or micro-grid's group chat. A :class:`Delivery` is one message to one channel; every try at
sending it is a :class:`DeliveryAttempt` (the log an administrator reads).
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..choices import DeliveryStatus
from .notification import Notification

#: ``NotificationChannel.service`` of the account's own e-mail address (sent by Django's mail backend).
ACCOUNT_EMAIL = "account-email"


class NotificationChannel(models.Model):
    """Where a user's (or a group chat's) notifications go: one Apprise URL, encrypted at rest.

    Exactly one owner: ``user``, ``village`` (the village's group chat) or ``grid`` (the micro-grid's).
    ``url_token`` is the Fernet token of the URL; ``url_hint`` is all that is ever shown after saving.
    ``kinds`` lists the notification kinds this channel carries (an empty list: every kind).
    The account e-mail channel (``service == ACCOUNT_EMAIL``) has no URL: it mails ``user.email``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notification_channels", verbose_name=_("用户"))
    village = models.ForeignKey("grids.Village", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="notification_channels", verbose_name=_("村/社区群"))
    grid = models.ForeignKey("grids.Grid", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notification_channels", verbose_name=_("微网格群"))
    label = models.CharField(_("名称"), max_length=60, blank=True)
    service = models.CharField(_("渠道"), max_length=40, help_text=_("如 DingTalk、WeCom Bot、Feishu、Email"))
    url_token = models.TextField(_("地址（加密）"), blank=True, editable=False)
    url_hint = models.CharField(_("地址"), max_length=80, blank=True, editable=False)
    kinds = models.JSONField(_("通知类型"), default=list, blank=True, help_text=_("留空为全部类型"))
    enabled = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)
    last_tested_at = models.DateTimeField(_("最近测试"), null=True, blank=True)
    last_test_ok = models.BooleanField(_("测试成功"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知渠道")
        verbose_name_plural = _("通知渠道")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, village__isnull=True, grid__isnull=True)
                    | Q(user__isnull=True, village__isnull=False, grid__isnull=True)
                    | Q(user__isnull=True, village__isnull=True, grid__isnull=False)
                ),
                name="channel_has_one_owner",
            ),
            models.UniqueConstraint(fields=["user"], condition=Q(service=ACCOUNT_EMAIL),
                                    name="one_account_email_channel"),
        ]

    def __str__(self):
        return f"{self.label or self.service} {self.url_hint}".strip()

    @property
    def is_account_email(self) -> bool:
        return self.service == ACCOUNT_EMAIL

    def carries(self, kind: str) -> bool:
        """True when this channel is on and carries notifications of ``kind`` (a NotificationKind value)."""
        return self.enabled and (not self.kinds or kind in self.kinds)


class Delivery(models.Model):
    """One message to one channel: a notification, a digest of several, or a channel test.

    Unique per ``(channel, dedupe_key)``: a notification reaches a channel once however often the delivery
    task runs, and a group chat hears of an event once though several of its members are notified.
    ``next_attempt_at`` is when the row is due: its digest's release (``held``), its next try
    (``pending``/``retrying``), or the end of a worker's claim (``sending``).
    """

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries",
                                verbose_name=_("渠道"))
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="deliveries", verbose_name=_("通知"))
    dedupe_key = models.CharField(max_length=160)
    kind = models.CharField(_("类型"), max_length=24)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    digest_group = models.CharField(_("汇总组"), max_length=80, blank=True)
    folded_into = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="folded", verbose_name=_("并入"))
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次处理"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("投递")
        verbose_name_plural = _("投递")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="delivery_once_per_channel"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due",
                         condition=Q(status__in=["pending", "held", "sending", "retrying"])),
            models.Index(fields=["channel", "digest_group"], name="delivery_digest_group",
                         condition=Q(status="held")),
        ]

    def __str__(self):
        return f"{self.title} → {self.channel}"


class DeliveryAttempt(models.Model):
    """One try at sending a Delivery: the delivery log (channel, attempt, result, time).

    ``error`` is a short reason with secrets and phone numbers removed (``cases.channels.redaction``).
    """

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log",
                                 verbose_name=_("投递"))
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="attempt_log",
                                verbose_name=_("渠道"))
    number = models.PositiveSmallIntegerField(_("第几次"))
    ok = models.BooleanField(_("成功"))
    error = models.CharField(_("错误"), max_length=300, blank=True)
    at = models.DateTimeField(_("时间"))
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)

    class Meta:
        verbose_name = _("投递记录")
        verbose_name_plural = _("投递记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["channel", "-at"], name="attempt_by_channel")]

    def __str__(self):
        return f"{self.delivery_id}#{self.number} {'ok' if self.ok else 'failed'}"
