"""One rule for visits (走访接待日) and liaison-station receptions (接待): a session is recorded as held,
and demands are raised at it, only once it has begun (issue 16 §3).

A phone's clock may run a little ahead of the server's: :data:`CLOCK_TOLERANCE` (5 minutes) is allowed.
"""
import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

#: Allowance for clocks that run ahead of the server's (phones), in both directions of the rule.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)


def has_begun(starts_at: dt.datetime, now: dt.datetime) -> bool:
    """True when a session starting at ``starts_at`` (aware) has begun at ``now`` (aware), allowing
    :data:`CLOCK_TOLERANCE`."""
    return starts_at <= now + CLOCK_TOLERANCE


def day_start(day: dt.date) -> dt.datetime:
    """Asia/Shanghai midnight at the start of ``day`` (aware): when a session planned for a day but for no
    hour (a visit) counts as begun."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_default_timezone())


def check_begun(starts_at: dt.datetime, now: dt.datetime, *, field: str = "starts_at",
                what: str = "record") -> None:
    """Raise ValidationError on ``field`` unless the session starting at ``starts_at`` has begun at ``now``.

    ``what``: ``record`` (recording it as held) or ``raise`` (raising a demand at it) picks the sentence.
    """
    if has_begun(starts_at, now):
        return
    local = timezone.localtime(starts_at, timezone.get_default_timezone())
    if what == "raise":
        message = _("该场次于 %(start)s 开始，开始前不能登记诉求。")
    else:
        message = _("该场次于 %(start)s 开始，开始前不能记录为已举行。")
    raise ValidationError({field: message % {"start": f"{local:%Y-%m-%d %H:%M}"}})


def check_ended_by_now(ends_at: dt.datetime, now: dt.datetime, *, field: str = "ends_at") -> None:
    """Raise ValidationError on ``field`` when the recorded end lies after ``now`` (+ tolerance)."""
    if ends_at > now + CLOCK_TOLERANCE:
        raise ValidationError({field: _("结束时间不能晚于当前时间。")})
