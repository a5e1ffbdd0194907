"""Idempotency keys (issue 16 §7): the first answer to a POST, kept so that a repeat gets it again."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One client-chosen key of one user, with the answer its first request got (see :mod:`cases.idempotency`).

    ``fingerprint`` is a SHA-256 of method, path and body, so the same key sent with another request is
    told apart. A row without ``status_code`` is a request still being served. Rows expire at
    ``expires_at`` (UTC) and are purged daily.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("用户"))
    key = models.CharField(_("幂等键"), max_length=100)
    fingerprint = models.CharField(_("请求摘要"), max_length=64)
    path = models.CharField(_("路径"), max_length=300)
    status_code = models.PositiveSmallIntegerField(_("状态码"), null=True, blank=True)
    content_type = models.CharField(_("内容类型"), max_length=100, blank=True)
    location = models.CharField(_("跳转地址"), max_length=500, blank=True)
    body = models.BinaryField(_("应答内容"), blank=True, default=b"")
    created_at = models.DateTimeField(_("创建时间"))
    expires_at = models.DateTimeField(_("过期时间"))

    class Meta:
        verbose_name = _("幂等键")
        verbose_name_plural = _("幂等键")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires")]

    def __str__(self):
        return f"{self.user_id}:{self.key}"
