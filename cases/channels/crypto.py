"""Channel URLs encrypted at rest with Fernet (``cryptography``; AES-128-CBC with HMAC-SHA256, as the
Fernet specification defines it: https://github.com/fernet/spec).

Keys come from ``settings.NOTIFY_CHANNEL_KEYS`` (a list of url-safe base64 32-byte Fernet keys, the first
encrypts, all decrypt: rotate by putting a new key first, then re-encrypting with
``python manage.py rotate_channel_keys``). When the list is empty a key is derived from ``SECRET_KEY``
(SHA-256 of a fixed label and the secret), so a fresh clone works; production should set its own keys so
that changing ``SECRET_KEY`` does not make stored channels unreadable.
"""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class ChannelKeyError(Exception):
    """A stored channel URL cannot be decrypted with any configured key (wrong or rotated-out key)."""


def _keys() -> list[bytes]:
    keys = [k.encode() if isinstance(k, str) else k for k in (settings.NOTIFY_CHANNEL_KEYS or []) if k]
    if not keys:
        digest = hashlib.sha256(b"xiji-grid notification channels\0" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest)]
    return keys


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("NOTIFY_CHANNEL_KEYS must be Fernet keys (url-safe base64 of 32 bytes)") from exc


def encrypt(text: str) -> str:
    """Encrypt ``text`` (a channel URL) with the first key; returns the Fernet token as ASCII text."""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt` with any configured key. Raises ChannelKeyError."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise ChannelKeyError("channel URL cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first key (after a key rotation). Raises ChannelKeyError."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError) as exc:
        raise ChannelKeyError("channel URL cannot be decrypted with the configured keys") from exc
