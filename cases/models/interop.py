"""Systems connected to the command centre (issue 13): the district's 12345 platform that sends work orders
down and receives the town's feedback, Open311 clients, their orders and the feedback deliveries."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..choices import Source
from .case import Case, CaseEvent


class ExternalSystem(models.Model):
    """A system outside the product that calls it with its own API key.

    ``kind`` ``upstream``: a 12345 platform (派单平台) posting work orders to ``/api/v1/upstream/orders/`` and
    receiving feedback (反馈) on ``webhook_url``, signed with ``webhook_secret``; ``open311``: a GeoReport v2
    client posting service requests. ``code`` is the ``Case.source_system`` of the cases it brings. The API
    key is stored only as its SHA-256 (``key_hash``), found by its first characters (``key_prefix``); see
    :func:`cases.interop.upstream.issue_key`. A key reaches only its own system's orders.
    """

    class Kind(models.TextChoices):
        UPSTREAM = "upstream", _("上级派单平台")
        OPEN311 = "open311", _("Open311 客户端")

    code = models.SlugField(_("代码"), max_length=40, unique=True, help_text=_("也是其诉求的来源系统"))
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.UPSTREAM)
    source = models.CharField(_("诉求来源"), max_length=16, choices=Source.choices, default=Source.HOTLINE)
    key_prefix = models.CharField(_("密钥前缀"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("密钥摘要"), max_length=64, editable=False)
    webhook_url = models.URLField(_("反馈地址"), blank=True)
    webhook_secret = models.CharField(_("签名密钥"), max_length=128, blank=True,
                                      help_text=_("HMAC-SHA256 共享密钥；保存后不再完整显示，不写入日志。"))
    default_village = models.ForeignKey(
        "grids.Village", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("默认村/社区"), help_text=_("工单未指明村/社区时落在这里，由指挥中心再派单。"),
    )
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("外部系统")
        verbose_name_plural = _("外部系统")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class UpstreamOrder(models.Model):
    """One work order (工单) an upstream platform sent down, and the case it became.

    ``number`` is the platform's order number, unique per system. ``fields`` holds the order as last
    received, without the complainant (compared to detect a changed repeat); ``digest`` is the SHA-256 of
    the whole order, complainant included. ``updates`` counts the changed repeats (each one an
    ``upstream_updated`` event on the case).
    """

    system = models.ForeignKey(ExternalSystem, on_delete=models.PROTECT, related_name="orders",
                               verbose_name=_("外部系统"))
    number = models.CharField(_("工单号"), max_length=64)
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="upstream_order", verbose_name=_("诉求"))
    fields = models.JSONField(_("工单内容"), default=dict)
    digest = models.CharField(max_length=64)
    updates = models.PositiveIntegerField(_("更新次数"), default=0)
    created_at = models.DateTimeField(_("接收时间"))
    updated_at = models.DateTimeField(_("最近更新"))

    class Meta:
        verbose_name = _("上级工单")
        verbose_name_plural = _("上级工单")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["system", "number"], name="upstream_order_once_per_system")]

    def __str__(self):
        return f"{self.system.code}:{self.number}"


class FeedbackDelivery(models.Model):
    """One step of feedback (反馈: accepted, responded, resolved, returned) to post to the upstream's webhook.

    Written in the transaction of the transition it reports and sent by a Celery task after commit, with
    retries and exponential back-off; ``idempotency_key`` (one per step) goes with every attempt, so the
    upstream can drop a repeat. Deliveries of one order go out in the order of their steps. ``status``:
    ``pending`` (to send, ``next_attempt_at``), ``delivered``, or ``gave_up`` after the last attempt (the
    dispatchers are then notified).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        DELIVERED = "delivered", _("已送达")
        GAVE_UP = "gave_up", _("已放弃")

    order = models.ForeignKey(UpstreamOrder, on_delete=models.CASCADE, related_name="feedback_deliveries",
                              verbose_name=_("上级工单"))
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="feedback_deliveries", verbose_name=_("诉求"))
    event = models.OneToOneField(CaseEvent, on_delete=models.CASCADE, related_name="feedback_delivery",
                                 verbose_name=_("诉求事件"))
    step = models.CharField(_("环节"), max_length=16)
    idempotency_key = models.CharField(_("幂等键"), max_length=120, unique=True)
    body = models.JSONField(_("内容"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("最近响应码"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    gave_up_at = models.DateTimeField(_("放弃时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("反馈投递")
        verbose_name_plural = _("反馈投递")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="feedback_pending",
                         condition=models.Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.order} {self.step} ({self.status})"


class FeedbackAttempt(models.Model):
    """One HTTP attempt of a FeedbackDelivery: when, the answer's status code (None: no answer), what went wrong."""

    delivery = models.ForeignKey(FeedbackDelivery, on_delete=models.CASCADE, related_name="attempt_log",
                                 verbose_name=_("反馈投递"))
    number = models.PositiveSmallIntegerField(_("第几次"))
    at = models.DateTimeField(_("时间"))
    status_code = models.PositiveSmallIntegerField(_("响应码"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=200, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), default=0)

    class Meta:
        verbose_name = _("投递尝试")
        verbose_name_plural = _("投递尝试")
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="feedback_attempt_once")]

    def __str__(self):
        return f"{self.delivery_id} #{self.number} {self.status_code or self.error}"


class Open311Token(models.Model):
    """The token an Open311 ``POST requests`` answers with; ``GET tokens/{token}`` finds the request's id."""

    token = models.CharField(max_length=40, unique=True)
    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="open311_token")
    system = models.ForeignKey(ExternalSystem, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("Open311 令牌")
        verbose_name_plural = _("Open311 令牌")

    def __str__(self):
        return self.token
