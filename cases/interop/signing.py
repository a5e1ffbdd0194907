"""Signing the feedback the town posts to an upstream platform (issue 13 §1).

Scheme (documented for the upstream in the README): every POST carries

* ``X-Xiji-Timestamp``: the sending time in whole seconds since the Unix epoch (UTC), fresh on every attempt;
* ``X-Xiji-Signature``: ``sha256=`` + lower-case hex of HMAC-SHA256(shared secret, ``"<timestamp>." + body``),
  over the exact bytes of the body;
* ``Idempotency-Key``: one value per feedback step, the same on every attempt of that step.

A receiver recomputes the signature with the shared secret, compares in constant time, and refuses a
timestamp more than :data:`REPLAY_WINDOW_SECONDS` away from its own clock, so a captured request cannot
be replayed later; within the window, the idempotency key makes a repeat harmless.
"""
import hashlib
import hmac

#: How far (seconds) a timestamp may be from the receiver's clock (either way) to be accepted.
REPLAY_WINDOW_SECONDS = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(``secret`` as UTF-8, ``b"<timestamp>." + body``)."""
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, timestamp: int, idempotency_key: str) -> dict[str, str]:
    """The headers of one signed POST (see the module docstring)."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Xiji-Timestamp": str(int(timestamp)),
        "X-Xiji-Signature": signature(secret, body, timestamp),
        "Idempotency-Key": idempotency_key,
    }


def verify(secret: str, body: bytes, *, timestamp: str, signature_header: str, now: float,
           window: int = REPLAY_WINDOW_SECONDS) -> str | None:
    """Check a signed request as a receiver would. ``now``: the receiver's clock (seconds since the epoch).

    Returns None when valid, else the reason (``bad timestamp``, ``stale timestamp``, ``bad signature``).
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return "bad timestamp"
    if abs(now - ts) > window:
        return "stale timestamp"
    if not hmac.compare_digest(signature(secret, body, ts), signature_header or ""):
        return "bad signature"
    return None


__all__ = ["REPLAY_WINDOW_SECONDS", "signature", "signed_headers", "verify"]
