"""The supervisors' morning digest (督办晨报, issue 14).

Every morning at ``settings.NOTIFY_MORNING_DIGEST_TIME`` (Asia/Shanghai; beat entry
``morning-digest``) each active supervisor gets one notification, kind ``morning_digest``, that lists:

* the breaches (respond and resolve) and the missed visits they were notified of in the 24 hours before
  the digest — the same rows their own channels held back (``policy.MORNING``), which are now folded
  into it; breaches of emergency and utilities cases went out at once and are listed again here;
* the cases with an extension request waiting for a decision;
* the three rates (response, resolution, satisfaction) of the ISO week that contains yesterday, town-wide.

The digest is an ordinary notification (in-app, and to every channel of the supervisor that carries the
kind), stored once per supervisor and day (dedupe key ``morning_digest:<YYYY-MM-DD>``).
"""
import dataclasses
import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..choices import DeliveryStatus, NotificationKind
from ..models import Case, Delivery, Notification
from . import policy

#: At most this many items of one section are listed; the rest are counted.
MAX_LISTED = 15


@dataclasses.dataclass
class MorningReport:
    """What :func:`send_morning_digests` did: digests stored, held deliveries folded into them."""

    day: dt.date
    digests: int = 0
    folded: int = 0

    def as_dict(self) -> dict:
        return {"day": self.day.isoformat(), "digests": self.digests, "folded": self.folded}


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _section(heading: str, titles: list[str]) -> list[str]:
    lines = [f"{heading}（{len(titles)}）"]
    lines += [f"· {t}" for t in titles[:MAX_LISTED]]
    if len(titles) > MAX_LISTED:
        lines.append(_("· 另有 %s 条") % (len(titles) - MAX_LISTED))
    return lines


def compose(user, *, now: dt.datetime) -> tuple[str, str]:
    """Title and body of ``user``'s morning digest at ``now`` (aware): sections as in the module
    docstring, in Chinese, phone numbers never included (titles come from stored notifications)."""
    from ..importing import mask_personal_data
    from ..selectors import local_date, rates

    since = now - dt.timedelta(days=1)
    mine = Notification.objects.filter(recipient=user, created_at__gte=since, created_at__lt=now).order_by("created_at")
    breaches = [mask_personal_data(n.title) for n in mine.filter(kind__in=policy.BREACHES)]
    missed = [mask_personal_data(n.title) for n in mine.filter(kind=NotificationKind.VISIT_MISSED)]
    pending = [f"{c.number} {mask_personal_data(c.title)}" for c in
               Case.objects.open().filter(extension_requested_until__isnull=False).order_by("extension_requested_until")]
    yesterday = local_date(now) - dt.timedelta(days=1)
    monday = yesterday - dt.timedelta(days=yesterday.weekday())
    town = rates(start=monday, end=yesterday, now=now)
    figures = town[0] if town else {}
    week = yesterday.isocalendar()
    lines = _section(_("超时"), breaches) + _section(_("走访未记录"), missed) + _section(_("待审批延期"), pending)
    lines.append(
        _("本周（%(week)s，%(start)s 至 %(end)s）三率：响应率 %(r)s，解决率 %(s)s，满意率 %(m)s") % {
            "week": f"{week.year}-W{week.week:02d}", "start": monday.isoformat(), "end": yesterday.isoformat(),
            "r": _pct(figures.get("response_rate")), "s": _pct(figures.get("resolution_rate")),
            "m": _pct(figures.get("satisfaction_rate")),
        }
    )
    title = _("督办晨报 %(day)s：超时 %(b)s，未走访 %(v)s，待批延期 %(e)s") % {
        "day": local_date(now).isoformat(), "b": len(breaches), "v": len(missed), "e": len(pending)}
    return title, "\n".join(lines)


def send_morning_digests(now: dt.datetime | None = None) -> MorningReport:
    """Store each active supervisor's morning digest for the day of ``now`` (aware, default the current
    time; Asia/Shanghai date), once per day, and fold the deliveries their channels held for it (those
    due by ``now``). Delivery follows the commit (``cases.notifications.notify``). Safe to rerun.
    Returns a MorningReport."""
    from ..notifications import notify, supervisors
    from ..selectors import local_date

    now = now or timezone.now()
    day = local_date(now)
    report = MorningReport(day=day)
    for user in supervisors():
        title, body = compose(user, now=now)
        with transaction.atomic():
            created = notify([user], kind=NotificationKind.MORNING_DIGEST, title=title, body=body,
                             dedupe_key=f"morning_digest:{day.isoformat()}", now=now)
            report.digests += len(created)
            report.folded += Delivery.objects.filter(
                channel__user=user, status=DeliveryStatus.HELD, digest_group__startswith="morning:",
                next_attempt_at__lte=now,
            ).update(status=DeliveryStatus.FOLDED, next_attempt_at=None)
    return report
