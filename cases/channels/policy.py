"""When a notification goes out on a channel: at once, in a window digest, or in the morning digest.

The rule (issue 14, DESIGN §5), as one pure function shared by every path:

* breaches of ``emergency`` and ``utilities`` cases (``settings.NOTIFY_IMMEDIATE_URGENCIES``) go out at
  once, at any hour (7×24);
* a supervisor's own channels collect the other breaches and the missed visits for the morning digest
  (``settings.NOTIFY_MORNING_DIGEST_TIME``, Asia/Shanghai): one message per supervisor listing the
  breaches and missed visits of the 24 hours before it (yesterday morning to this morning), the pending
  extensions and the week's three rates;
* reminders and misses (``settings.NOTIFY_DIGEST_KINDS``) of the same kind for the same person within
  ``settings.NOTIFY_DIGEST_WINDOW_SECONDS`` go out as one message (a cadre with three villages gets one
  visit reminder listing all three);
* everything else, and everything to a group chat, goes out at once.
"""
import datetime as dt
import zoneinfo

from django.conf import settings

from ..choices import NotificationKind

NOW, WINDOW, MORNING = "now", "window", "morning"
BREACHES = frozenset({NotificationKind.RESPOND_BREACH, NotificationKind.RESOLVE_BREACH})
MORNING_KINDS = BREACHES | {NotificationKind.VISIT_MISSED}


def delivery_mode(kind: str, *, urgency: str | None, to_supervisor: bool, group_chat: bool) -> str:
    """NOW, WINDOW or MORNING for a notification of ``kind`` (NotificationKind value) about a case of
    ``urgency`` (an Urgency value, None when no case) sent to one channel: ``to_supervisor`` when the
    channel is a supervisor's own, ``group_chat`` when it belongs to a village or micro-grid."""
    if kind in BREACHES and urgency in settings.NOTIFY_IMMEDIATE_URGENCIES:
        return NOW
    if group_chat:
        return NOW
    if to_supervisor and kind in MORNING_KINDS:
        return MORNING
    if kind in settings.NOTIFY_DIGEST_KINDS:
        return WINDOW
    return NOW


def morning_time() -> dt.time:
    """``settings.NOTIFY_MORNING_DIGEST_TIME`` ("HH:MM", Asia/Shanghai) as a time."""
    return dt.time.fromisoformat(settings.NOTIFY_MORNING_DIGEST_TIME)


def release_at(mode: str, created: dt.datetime) -> dt.datetime:
    """When a message held at ``created`` (aware) is due: ``created`` for NOW; ``created`` + the window for
    WINDOW; for MORNING the first morning-digest time (Asia/Shanghai) after ``created``, so each morning
    digest lists what came in during the 24 hours before it. Returns an aware datetime in UTC."""
    if mode == NOW:
        return created
    if mode == WINDOW:
        return created + dt.timedelta(seconds=settings.NOTIFY_DIGEST_WINDOW_SECONDS)
    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = created.astimezone(tz)
    release = dt.datetime.combine(local.date(), morning_time(), tzinfo=tz)
    if release <= local:
        release = dt.datetime.combine(local.date() + dt.timedelta(days=1), morning_time(), tzinfo=tz)
    return release.astimezone(dt.UTC)


def retry_delay(attempts: int) -> int | None:
    """Seconds to wait before the next try after ``attempts`` failed tries, from
    ``settings.NOTIFY_RETRY_BACKOFF_SECONDS`` (default 30, 120, 600: four tries in all); None when no try
    is left."""
    backoff = list(settings.NOTIFY_RETRY_BACKOFF_SECONDS)
    if attempts < 1 or attempts > len(backoff):
        return None
    return int(backoff[attempts - 1])
