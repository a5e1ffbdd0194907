"""Adding, changing and testing notification channels (used by the API, the pages and the admin).

A channel URL is checked by Apprise before it is stored, stored only as a Fernet token, and never shown
again: what the API and pages show is ``url_hint`` (``dingtalk://…a1b2``).
"""
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import DeliveryStatus, NotificationKind
from ..models import ACCOUNT_EMAIL, Delivery, DeliveryAttempt, NotificationChannel
from .crypto import encrypt
from .sending import InvalidChannelURL, describe, email_hint, normalise


def clean_kinds(kinds) -> list[str]:
    """``kinds`` as a sorted list of distinct NotificationKind values; raises ValidationError naming the
    unknown ones. An empty list means every kind."""
    kinds = list(kinds or [])
    unknown = sorted({str(k) for k in kinds} - set(NotificationKind.values))
    if unknown:
        raise ValidationError({"kinds": _("未知的通知类型：%s") % "、".join(unknown)})
    return sorted(set(kinds))


def set_url(channel: NotificationChannel, url: str) -> None:
    """Check ``url`` with Apprise and store it encrypted on ``channel`` (in memory; the caller saves), with
    its service name and hint. Raises ValidationError({"url": …}) when Apprise cannot send to it."""
    if channel.is_account_email:
        raise ValidationError({"url": _("账户邮箱渠道使用账户的邮箱地址，不能设置地址。")})
    url = normalise(url)
    if not url:
        raise ValidationError({"url": _("请填写渠道地址。")})
    if len(url) > 2000:
        raise ValidationError({"url": _("地址过长。")})
    try:
        service, hint = describe(url)
    except InvalidChannelURL:
        raise ValidationError({"url": _("无法识别的渠道地址（支持企业微信、钉钉、飞书机器人、短信网关等 Apprise 地址）。")}) from None
    channel.service, channel.url_hint, channel.url_token = service[:40], hint, encrypt(url)


def add_channel(*, url: str, label: str = "", kinds=(), enabled: bool = True, user=None, village=None,
                grid=None) -> NotificationChannel:
    """Create a channel owned by exactly one of ``user``, ``village`` (group chat) or ``grid``. Returns it.
    Raises ValidationError for a bad URL, unknown kinds or not exactly one owner."""
    if sum(owner is not None for owner in (user, village, grid)) != 1:
        raise ValidationError(_("渠道须属于一个用户、一个村/社区或一个微网格。"))
    channel = NotificationChannel(user=user, village=village, grid=grid, label=(label or "")[:60],
                                  kinds=clean_kinds(kinds), enabled=enabled)
    set_url(channel, url)
    channel.save()
    return channel


def update_channel(channel: NotificationChannel, *, url: str | None = None, label: str | None = None,
                   kinds=None, enabled: bool | None = None) -> NotificationChannel:
    """Change what is given (``None`` leaves a field as it is; a new ``url`` replaces the stored one).
    Returns the saved channel. Raises ValidationError."""
    if url is not None:
        set_url(channel, url)
    if label is not None:
        channel.label = label[:60]
    if kinds is not None:
        channel.kinds = clean_kinds(kinds)
    if enabled is not None:
        channel.enabled = enabled
    channel.save()
    return channel


def display_hint(channel: NotificationChannel) -> str:
    """What to show of the channel's address: the URL hint, or the masked account e-mail address."""
    if channel.is_account_email:
        return email_hint(channel.user.email if channel.user_id else "")
    return channel.url_hint


def account_email_channel(user) -> NotificationChannel | None:
    """The user's account e-mail channel, created on first use when the account has an address."""
    if not user.email:
        return NotificationChannel.objects.filter(user=user, service=ACCOUNT_EMAIL).first()
    channel, _created = NotificationChannel.objects.get_or_create(
        user=user, service=ACCOUNT_EMAIL, defaults={"label": _("账户邮箱")})
    return channel


def send_test_message(channel: NotificationChannel, *, now: dt.datetime | None = None) -> DeliveryAttempt:
    """Send a test message to ``channel`` now (synchronously, one try, no retry) and log it in the delivery
    log as a delivery of kind ``test``. Records ``last_tested_at`` / ``last_test_ok``. Returns the attempt
    (``ok``, ``error``)."""
    from .delivery import send

    now = now or timezone.now()
    title = _("西集网格测试消息")
    body = _("这是一条测试消息：此渠道已能收到西集网格的通知。（%s）") % timezone.localtime(now).strftime("%Y-%m-%d %H:%M")
    result = send(channel, title=title, body=body)
    with transaction.atomic():
        delivery = Delivery.objects.create(
            channel=channel, notification=None, kind="test", dedupe_key=f"test:{now.isoformat()}",
            title=title, body=body, attempts=1, created_at=now, sent_at=now if result.ok else None,
            status=DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED, last_error=result.error[:300],
        )
        attempt = DeliveryAttempt.objects.create(delivery=delivery, channel=channel, number=1, ok=result.ok,
                                                 error=result.error[:300], at=now, duration_ms=result.duration_ms)
        NotificationChannel.objects.filter(pk=channel.pk).update(last_tested_at=now, last_test_ok=result.ok)
    channel.last_tested_at, channel.last_test_ok = now, result.ok
    return attempt
