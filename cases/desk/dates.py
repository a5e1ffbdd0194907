"""Dates as people in the command centre read them (issue 16 §8): an ISO week such as ``2026-W49`` is shown as
the dates it runs from and to, "11月30日–12月6日"; the ISO form stays in URLs, the API and stored data."""
import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _


def week_range(iso_week, *, today: dt.date | None = None) -> str:
    """``iso_week`` (``"2026-W49"``) as "11月30日–12月6日" — Monday to Sunday — with the years when the week
    does not lie wholly in the year of ``today`` (an Asia/Shanghai date, default the current one):
    "2025年12月29日–2026年1月4日". In the active language. Anything that is no ISO week is returned as
    given (as a string)."""
    try:
        year, week = str(iso_week).split("-W")
        monday = dt.date.fromisocalendar(int(year), int(week), 1)
    except (ValueError, TypeError):
        return str(iso_week)
    sunday = monday + dt.timedelta(days=6)
    if today is None:
        today = timezone.localtime(timezone.now(), timezone.get_default_timezone()).date()
    if monday.year == sunday.year == today.year:
        return _("%(m1)s月%(d1)s日–%(m2)s月%(d2)s日") % {"m1": monday.month, "d1": monday.day, "m2": sunday.month,
                                                       "d2": sunday.day}
    return _("%(y1)s年%(m1)s月%(d1)s日–%(y2)s年%(m2)s月%(d2)s日") % {
        "y1": monday.year, "m1": monday.month, "d1": monday.day, "y2": sunday.year, "m2": sunday.month, "d2": sunday.day}
