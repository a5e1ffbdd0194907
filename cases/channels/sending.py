"""Send one message to one channel: Apprise for chat bots, SMS gateways and any other Apprise URL; Django's
mail backend for the account's own e-mail address.

Apprise (pinned in requirements.txt) already speaks WeCom group bots (``wecombot://KEY``), DingTalk
(``dingtalk://[SECRET@]TOKEN[/MOBILE…]``), Feishu (``feishu://TOKEN``), Lark, SMTP e-mail (``mailto://``),
many SMS gateways and generic JSON/form webhooks (``json://host/path`` for an intranet SMS platform); it
also accepts a bot's webhook address as the vendor prints it (``https://oapi.dingtalk.com/robot/send?
access_token=…``, ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``).

Vendor hosts: Apprise's plugins post to fixed vendor hosts. ``settings.NOTIFY_VENDOR_BASE_URLS`` maps an
Apprise schema (``dingtalk``, ``wecombot``, ``feishu``, ``lark``) to another base URL (scheme and host, e.g.
an egress relay on a government intranet); :func:`apply_vendor_base_urls` swaps only the scheme and host of
that plugin's ``notify_url`` and keeps the vendor's path and query, so the real plugin builds the real
request. The tests use it to point the DingTalk and WeCom plugins at a local HTTP stand-in.
"""
import dataclasses
import logging
import re
import time
from urllib.parse import urlsplit, urlunsplit

import apprise
from apprise.apprise import N_MGR
from django.conf import settings
from django.core.mail import send_mail

from .redaction import redact, secrets_redacted

logger = logging.getLogger(__name__)

#: The schemas whose plugin keeps its vendor endpoint in a ``notify_url`` class attribute.
VENDOR_SCHEMAS = ("dingtalk", "wecombot", "feishu", "lark")
_ORIGINAL = "_xiji_vendor_notify_url"


@dataclasses.dataclass
class SendResult:
    """The outcome of one try: ``ok``; ``error`` a short reason without secrets; ``duration_ms``."""

    ok: bool
    error: str = ""
    duration_ms: int = 0


class InvalidChannelURL(ValueError):
    """The text is not a URL that Apprise can send to (unknown schema or missing parts)."""


def apply_vendor_base_urls(mapping: dict[str, str] | None = None) -> None:
    """Point the plugins of ``mapping`` (schema → base URL such as ``http://127.0.0.1:8099``; default
    ``settings.NOTIFY_VENDOR_BASE_URLS``) at their base URL, keeping the vendor's path and query; every
    plugin of VENDOR_SCHEMAS not in the mapping gets its vendor URL back. Idempotent; process-wide.
    Raises ValueError for a schema outside VENDOR_SCHEMAS or a base URL without scheme and host.
    """
    mapping = settings.NOTIFY_VENDOR_BASE_URLS if mapping is None else mapping
    unknown = set(mapping) - set(VENDOR_SCHEMAS)
    if unknown:
        raise ValueError(f"NOTIFY_VENDOR_BASE_URLS: no vendor host to replace for {sorted(unknown)}")
    for schema in VENDOR_SCHEMAS:
        plugin = N_MGR[schema]
        original = plugin.__dict__.get(_ORIGINAL) or plugin.notify_url
        setattr(plugin, _ORIGINAL, original)
        base = mapping.get(schema)
        if not base:
            plugin.notify_url = original
            continue
        target = urlsplit(base)
        if not target.scheme or not target.netloc:
            raise ValueError(f"NOTIFY_VENDOR_BASE_URLS[{schema!r}] needs a scheme and a host: {base!r}")
        vendor = urlsplit(original)
        path = target.path.rstrip("/") + vendor.path
        plugin.notify_url = urlunsplit((target.scheme, target.netloc, path, vendor.query, ""))


_NATIVE = (
    # (vendor webhook address as the vendor's admin console prints it, Apprise URL)
    (re.compile(r"^https?://oapi\.dingtalk\.com/robot/send/?\?access_token=([A-Za-z0-9]+)$"), "dingtalk://{}/"),
    (re.compile(r"^https?://open\.feishu\.cn/open-apis/bot/v2/hook/([A-Za-z0-9-]+)/?$"), "feishu://{}/"),
    (re.compile(r"^https?://qyapi\.weixin\.qq\.com/cgi-bin/webhook/send/?\?key=([A-Za-z0-9_-]+)$"), "wecombot://{}"),
)


def normalise(url: str) -> str:
    """``url`` stripped, with a DingTalk, Feishu or WeCom bot's webhook address (as their consoles print
    it) turned into the Apprise URL. Other text is returned stripped."""
    url = (url or "").strip()
    for pattern, template in _NATIVE:
        match = pattern.match(url)
        if match:
            return template.format(match.group(1))
    return url


def plugin_for(url: str):
    """The Apprise plugin instance for ``url``; raises InvalidChannelURL when Apprise cannot use it or
    its schema is not in ``settings.NOTIFY_ALLOWED_SCHEMAS``.

    Apprise's own warning for a bad URL names the URL, so it is logged with the URL's parts redacted.
    """
    schema = url.strip().split("://", 1)[0].lower() if "://" in url else ""
    if schema not in settings.NOTIFY_ALLOWED_SCHEMAS:
        raise InvalidChannelURL(f"channel type {schema or '?'!r} is not allowed here (NOTIFY_ALLOWED_SCHEMAS)")
    apply_vendor_base_urls()
    with secrets_redacted(url):
        plugin = apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True)
    if plugin is None:
        raise InvalidChannelURL("not a channel URL Apprise can send to")
    plugin.socket_connect_timeout = plugin.socket_read_timeout = float(settings.NOTIFY_SEND_TIMEOUT_SECONDS)
    return plugin


def describe(url: str) -> tuple[str, str]:
    """``(service, hint)`` of a channel URL: Apprise's service name (``DingTalk``, ``WeCom Bot`` …) and a
    hint safe to show — the schema and the last four characters, ``dingtalk://…a1b2``.
    Raises InvalidChannelURL."""
    plugin = plugin_for(url)
    return str(plugin.service_name), hint(url)


def hint(url: str) -> str:
    """What is shown of a channel URL after saving: ``<schema>://…`` and its last four characters."""
    text = url.strip().rstrip("/")
    schema = text.split("://", 1)[0] if "://" in text else "?"
    return f"{schema}://…{text[-4:]}" if len(text) > len(schema) + 7 else f"{schema}://…"


def email_hint(address: str) -> str:
    """A masked e-mail address for display: first character, ``***``, the domain (``b***@example.cn``)."""
    local, _sep, domain = (address or "").partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def send_apprise(url: str, *, title: str, body: str) -> SendResult:
    """Send ``title``/``body`` to the Apprise ``url`` once (no retry here). Never raises for a failed
    send; the reason is Apprise's warning line with every part of the URL and any phone number removed."""
    started = time.monotonic()
    if not (body or "").strip():  # Apprise refuses an empty body: a title alone is sent as the body
        title, body = "", title
    with secrets_redacted(url), apprise.LogCapture(level=logging.WARNING,
                                                   fmt="%(message)s") as captured:
        try:
            plugin = plugin_for(url)
            ok = bool(plugin.notify(body=body, title=title))
        except InvalidChannelURL as exc:
            return SendResult(False, str(exc), _ms(started))
        except Exception as exc:  # a plugin bug must not stop the other channels
            ok = False
            logger.warning("channel plugin raised %s", type(exc).__name__)
        reason = "" if ok else _reason(captured.getvalue())
    return SendResult(ok, reason, _ms(started))


def send_email(address: str, *, title: str, body: str) -> SendResult:
    """E-mail ``title``/``body`` to ``address`` through Django's configured backend, subject prefixed
    ``[西集网格]``. Never raises; the reason is the exception's class name only."""
    started = time.monotonic()
    if not address:
        return SendResult(False, "no e-mail address on the account", _ms(started))
    try:
        send_mail(f"[西集网格] {title}", body, settings.DEFAULT_FROM_EMAIL, [address])
    except Exception as exc:
        return SendResult(False, f"e-mail backend: {type(exc).__name__}", _ms(started))
    return SendResult(True, "", _ms(started))


def _reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact(lines[-1] if lines else "the channel refused the message")[:300]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
