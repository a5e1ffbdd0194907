"""One failed-login throttle for every way in (web ``/login/``, ``/admin/login/``, ``POST /api/v1/auth/token/``),
shared by every process (issues 16.1, 18.3, 19.4).

Rule: at most ``n`` attempts per window for one client address and username, where ``n/window`` is
``LOGIN_FAILURES_RATE`` (default ``5/min``: 5 per 60 s). The window starts at the first attempt. Each attempt
*reserves* a slot with one atomic increment **before** the password is checked, and a successful login gives
its slot back — so of 40 simultaneous wrong passwords exactly 5 are checked and 35 are refused, and a user who
types the right password on the fifth try is not locked out afterwards. Refused attempts answer with the
Chinese lockout message (``LOCKOUT_MESSAGE``) until the window has passed, whether or not the password is right.

Where the counter lives (``LOGIN_THROTTLE_STORE``, default ``auto``):

- ``cache`` — the default cache when it is Redis (production, the tests): ``cache.add`` then ``cache.incr``,
  both atomic in Redis; the key expires with the window.
- ``database`` — a :class:`~grids.models.LoginAttemptWindow` row per address and username, incremented under a
  row lock (``SELECT … FOR UPDATE``; SQLite serialises writers) — shared by every process of README command 1,
  whose cache is a file cache that has no atomic increment.
- ``auto`` — ``cache`` when the default cache is Django's Redis backend, else ``database``.

The client address is ``REMOTE_ADDR``, or the entry of ``X-Forwarded-For`` that the last ``NUM_PROXIES``
proxies added (never the client's own header when ``NUM_PROXIES`` is 0), as DRF's throttles read it.
"""
import dataclasses
import datetime as dt
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: Shown on the login pages and in the API's 429 body when an address and username are locked out.
LOCKOUT_MESSAGE = _("登录失败次数过多，已暂时锁定。请 %(seconds)s 秒后再试。")

_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One reserved attempt: ``allowed`` (False: locked out), ``count`` (attempts in the window including
    this one), ``wait_seconds`` (until the window ends; 0 when allowed) and the counter ``key``."""

    allowed: bool
    count: int
    wait_seconds: int
    key: str


def rate() -> tuple[int, int]:
    """``LOGIN_FAILURES_RATE`` as (attempts, window seconds): ``"5/min"`` → (5, 60), ``"10/5m"`` → (10, 300).
    Raises ValueError for a malformed rate."""
    text = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_failures"]
    count, _slash, period = text.partition("/")
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits):] if period.startswith(digits) else period
    seconds = (int(digits) if digits else 1) * _PERIODS[unit.strip().lower()]
    return int(count), seconds


def client_address(request) -> str:
    """The client's address of a Django or DRF request (see the module docstring)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "")
    xff = meta.get("HTTP_X_FORWARDED_FOR")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES", 0) or 0
    if proxies == 0 or not xff:
        return remote
    addresses = [a.strip() for a in xff.split(",")]
    return addresses[-min(proxies, len(addresses))]


def _key(address: str, username: str) -> str:
    digest = hashlib.sha256(f"{address}\n{username.strip().lower()}".encode()).hexdigest()[:40]
    return f"login-attempts:{digest}"


def store() -> str:
    """The store in use: ``"cache"`` or ``"database"`` (``LOGIN_THROTTLE_STORE``, ``auto`` resolved)."""
    chosen = getattr(settings, "LOGIN_THROTTLE_STORE", "auto")
    if chosen == "auto":
        backend = settings.CACHES["default"]["BACKEND"]
        return "cache" if backend == "django.core.cache.backends.redis.RedisCache" else "database"
    if chosen not in ("cache", "database"):
        raise ValueError(f"LOGIN_THROTTLE_STORE must be auto, cache or database, not {chosen!r}")
    return chosen


def reserve(request, username: str, *, now: dt.datetime | None = None) -> Attempt:
    """Reserve one login attempt for ``request``'s address and ``username`` (atomic across processes).

    Returns the Attempt; ``allowed`` is False once more than the rate's attempts were made in the window.
    ``now`` (aware) is used by the database store only (tests pin it; default the current time).
    """
    limit, window = rate()
    key = _key(client_address(request), username)
    if store() == "cache":
        cache.add(key, 0, window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start a new window
            cache.add(key, 0, window)
            count = cache.incr(key)
        if count == 1:
            cache.touch(key, window)  # the window starts at the first attempt
        wait = 0 if count <= limit else _cache_ttl(key, window)
        return Attempt(count <= limit, count, wait, key)
    count, ends = _database_increment(key, window, now or timezone.now())
    wait = 0 if count <= limit else max(1, int(((ends - (now or timezone.now())).total_seconds()) + 0.999))
    return Attempt(count <= limit, count, wait, key)


def give_back(attempt: Attempt, *, now: dt.datetime | None = None) -> None:
    """Return ``attempt``'s slot (the login succeeded): successful logins never count."""
    if store() == "cache":
        try:
            cache.decr(attempt.key)
        except ValueError:  # the window has ended meanwhile
            pass
        return
    from django.db.models import F

    from .models import LoginAttemptWindow

    LoginAttemptWindow.objects.filter(key=attempt.key, count__gt=0, ends_at__gt=now or timezone.now()).update(
        count=F("count") - 1)


def _cache_ttl(key: str, window: int) -> int:
    ttl = getattr(cache, "ttl", None)
    if ttl is None:  # Django's RedisCache has no ttl(): ask the client
        client = getattr(cache, "_cache", None)
        try:
            seconds = client.get_client(key).ttl(cache.make_and_validate_key(key))
        except Exception:  # noqa: BLE001 - the wait is advice only
            return window
        return max(1, int(seconds)) if seconds and seconds > 0 else window
    return max(1, int(ttl(key) or window))


def _database_increment(key: str, window: int, now: dt.datetime) -> tuple[int, dt.datetime]:
    """Add one attempt to the row of ``key`` under a row lock; a row whose window has ended starts anew.
    Returns (count, window end)."""
    from .models import LoginAttemptWindow

    with transaction.atomic():
        row, created = LoginAttemptWindow.objects.select_for_update().get_or_create(
            key=key, defaults={"count": 1, "ends_at": now + dt.timedelta(seconds=window)})
        if not created:
            if row.ends_at <= now:
                row.count, row.ends_at = 1, now + dt.timedelta(seconds=window)
            else:
                row.count += 1
            row.save(update_fields=["count", "ends_at"])
        LoginAttemptWindow.objects.filter(ends_at__lt=now - dt.timedelta(days=1)).delete()  # old windows
    return row.count, row.ends_at


def lockout_message(wait_seconds: int) -> str:
    """The Chinese (or active-language) lockout message for ``wait_seconds``."""
    return str(LOCKOUT_MESSAGE) % {"seconds": wait_seconds}
