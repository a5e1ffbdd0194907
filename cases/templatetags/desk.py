"""Template helpers of the desk pages (issue 16): local times that show the year only when it is not this
year's, waiting times for people, and the hidden idempotency token of a form."""
import uuid

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def when(moment, now=None):
    """An aware datetime in Asia/Shanghai as ``04-07 09:00`` when it lies in the current year, else
    ``2024-04-07 09:00`` (issue 16 §2: any date not in the current year shows its year). "—" for None."""
    if not moment:
        return "—"
    local = timezone.localtime(moment, timezone.get_default_timezone())
    year = timezone.localtime(now or timezone.now(), timezone.get_default_timezone()).year
    return local.strftime("%m-%d %H:%M") if local.year == year else local.strftime("%Y-%m-%d %H:%M")


def duration_text(seconds: float) -> str:
    """A duration for people: "3天4小时", "5小时12分", "8分" (English when the page is)."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)s天%(h)s小时") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s小时%(m)s分") % {"h": hours, "m": mins}
    return _("%(m)s分") % {"m": mins}


@register.filter
def since(moment, now):
    """How long ago ``moment`` was at ``now`` (both aware), as :func:`duration_text`; "—" for None."""
    if not moment or not now:
        return "—"
    return duration_text((now - moment).total_seconds())


@register.simple_tag
def idempotency_field():
    """A hidden ``idempotency_key`` input with a fresh token: a form sent twice (double tap, resend after a
    lost answer) is acted on once (``cases.idempotency``)."""
    return format_html('<input type="hidden" name="idempotency_key" value="{}">', uuid.uuid4().hex)


@register.filter
def week_range(iso_week):
    """An ISO week ``2026-W49`` as the dates people read: "11月30日–12月6日" (with the years when the week is
    not in the current one); :func:`cases.desk.dates.week_range`. Anything else is shown as given."""
    from cases.desk.dates import week_range as text

    return text(iso_week)


@register.filter
def is_overdue(case, now):
    """True when an open case is past a deadline it has not met at ``now`` (the API's ``overdue`` rule)."""
    from cases.boundary import open_past
    from cases.choices import OPEN_STATES

    if case.status not in OPEN_STATES or now is None:
        return False
    return open_past(case.responded_at, case.respond_due_at, now) or open_past(case.resolved_at, case.resolve_due_at, now)


@register.filter
def get(mapping, key):
    """``mapping[key]`` or None (for dicts keyed by id in templates)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


__all__ = ["when", "since", "duration_text", "idempotency_field", "get"]
