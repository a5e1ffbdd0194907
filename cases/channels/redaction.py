"""Keep channel secrets and phone numbers out of every log line (issue 14; DESIGN §10).

Apprise logs the full webhook URL (with its token) at DEBUG, urllib3 logs each request line with its query
string, and an exception from ``requests`` names the URL. :class:`RedactingFilter` rewrites a record's
message (and its traceback text) before any handler sees it:

* every secret registered for the current delivery with :func:`secrets_redacted` (the channel's URL and
  each of its parts: user, password, host, path segments, query values) becomes ``[secret]``;
* the values of ``access_token``, ``key``, ``token``, ``secret``, ``sign``, ``password`` query parameters
  and the user-info of any URL become ``***``;
* mainland mobile numbers (``1[3-9]`` + 9 digits) become ``138****5678``; runs of 15 or more digits (ID
  card numbers) keep only their first 3 and last 4 digits.

``settings.LOGGING`` puts the filter on the console handler and on the loggers of Apprise and urllib3, so
records are clean before they propagate (and so in the tests' captured logs too). Never drops a record.
This module imports no model: logging is configured before the apps are loaded.
"""
import contextlib
import contextvars
import logging
import re
from urllib.parse import parse_qsl, unquote, urlsplit

_SECRETS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("xiji_channel_secrets", default=())

_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9])[-\s]?([0-9]{4})[-\s]?([0-9]{4})(?![0-9])")
_LONG_NUMBER = re.compile(r"(?<![0-9])([0-9]{3})([0-9]{8,})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_SECRET_PARAM = re.compile(r"(?i)\b(access_token|key|token|secret|sign|password|passwd|apikey|api_key)=([^&\s'\"]+)")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]+@")
#: Parts of a URL shorter than this are not secrets worth a blanket replace (``s``, ``80``, ``api`` …).
MIN_SECRET_LENGTH = 6


def url_secrets(url: str) -> tuple[str, ...]:
    """The parts of a channel URL to redact: the URL, its user, password, host, path segments and query
    values of at least MIN_SECRET_LENGTH characters (also URL-decoded). Returns them longest first."""
    parts = {url}
    try:
        split = urlsplit(url)
    except ValueError:
        return (url,)
    candidates = [split.username or "", split.password or "", split.hostname or "", split.netloc]
    candidates += split.path.split("/")
    candidates += [value for _name, value in parse_qsl(split.query, keep_blank_values=True)]
    for candidate in candidates:
        for text in (candidate, unquote(candidate)):
            if len(text) >= MIN_SECRET_LENGTH:
                parts.add(text)
    return tuple(sorted(parts, key=len, reverse=True))


@contextlib.contextmanager
def secrets_redacted(*urls: str):
    """Within the block, every log line has the parts of ``urls`` (see :func:`url_secrets`) replaced."""
    extra = tuple(part for url in urls if url for part in url_secrets(url))
    token = _SECRETS.set(tuple(sorted(set(_SECRETS.get() + extra), key=len, reverse=True)))
    try:
        yield
    finally:
        _SECRETS.reset(token)


def redact(text: str) -> str:
    """``text`` with the registered secrets, secret query values, URL user-info, mobile numbers and long
    digit runs masked (see the module docstring). Pure apart from reading the current secrets."""
    if not text:
        return text
    for secret in _SECRETS.get():
        text = text.replace(secret, "[secret]")
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}***@", text)
    text = _LONG_NUMBER.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that applies :func:`redact` to the message and the traceback text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's own error path
            return True
        cleaned = redact(message)
        if cleaned != message:  # only then is the record's message frozen (its args dropped)
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
