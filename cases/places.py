"""A case's place on the map (issue 14): set by tapping the map or from the phone's location.

Stored in WGS-84 (``Case.lng`` / ``Case.lat``); a point read off a GCJ-02 (AMap, Tencent) or BD-09 (Baidu)
map is converted by :mod:`grids.geo` first. The change goes through the intake correction service
(``cases.desk.editing.edit_case``), so it is one ``edited`` event with the old and new place; who may do
it is ``cases.rules.PERMISSIONS["place"]`` (handlers in their scope and the command centre).
"""
import datetime as dt

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from grids import geo

from .desk.editing import edit_case

#: Where a place came from, kept in the event's note: a tap on the map or the phone's geolocation.
SOURCES = {"map": "地图选点", "gps": "手机定位"}


def set_place(case, *, actor, lng, lat, crs: str = geo.WGS84, source: str = "map", accuracy_m: float | None = None,
              now: dt.datetime | None = None):
    """Set the place of the open ``case`` to (``lng``, ``lat``) in system ``crs`` (``wgs84``, ``gcj02``,
    ``bd09``; degrees), noting ``source`` (``map`` or ``gps``) and the phone's ``accuracy_m`` (metres).
    Returns the updated Case. Raises ValidationError for a bad point, system or source, and
    TransitionNotAllowed (409) when the case is closed or cancelled."""
    if source not in SOURCES:
        raise ValidationError({"source": _("来源须为 map 或 gps。")})
    try:
        lng, lat = float(lng), float(lat)
        wlng, wlat = geo.convert(lng, lat, src=crs, dst=geo.WGS84)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"lng": [_("坐标无效：%s") % exc]}) from None
    note = SOURCES[source] + (f"（精度约 {accuracy_m:.0f} 米）" if accuracy_m else "")
    return edit_case(case, actor=actor, changes={"lng": f"{wlng:.6f}", "lat": f"{wlat:.6f}"}, note=note, now=now)
