"""What the pages' maps need (issue 14): the tile layer from settings and points in the tiles' system.

``settings.MAP_TILES`` picks the base layer: ``amap`` (AMap raster tiles, GCJ-02, no key), ``tianditu``
(Tianditu vector tiles with labels, CGCS2000 ≈ WGS-84, needs ``MAP_TIANDITU_KEY``), ``none`` (points over
a plain background), or a URL template with ``{z}/{x}/{y}`` (an intranet tile server; ``MAP_TILES_CRS``
its system). Points are stored in WGS-84 and sent in the tiles' system, converted on the server by
:mod:`grids.geo`, so the browser never converts and there is one rule. When no tile can be fetched the map
still draws every point over its plain background.
"""
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from grids import geo

#: Xiji's centre in WGS-84 (seeds/town.csv, read as GCJ-02 and converted): where an empty map looks.
DEFAULT_CENTER = (116.833781, 39.799232)

_PRESETS = {
    "amap": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "subdomains": "1234", "crs": geo.GCJ02, "attribution": "© 高德地图 AutoNavi",
    },
    "tianditu": {
        "url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
               "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "labels": "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva"
                  "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "subdomains": "01234567", "crs": geo.WGS84, "attribution": "© 天地图 Tianditu",
    },
}


def tile_config() -> dict | None:
    """The base layer for Leaflet: ``{"url", "labels"?, "subdomains", "crs", "attribution"}``, or None for
    ``MAP_TILES=none``. Raises ImproperlyConfigured for Tianditu without a key or an unknown preset."""
    choice = (settings.MAP_TILES or "none").strip()
    if choice == "none":
        return None
    if choice in _PRESETS:
        config = dict(_PRESETS[choice])
        if choice == "tianditu":
            if not settings.MAP_TIANDITU_KEY:
                raise ImproperlyConfigured("MAP_TILES=tianditu needs MAP_TIANDITU_KEY")
            config["url"] = config["url"].replace("{key}", settings.MAP_TIANDITU_KEY)
            config["labels"] = config["labels"].replace("{key}", settings.MAP_TIANDITU_KEY)
        if settings.MAP_TILES_ATTRIBUTION:
            config["attribution"] = settings.MAP_TILES_ATTRIBUTION
        return config
    if "{z}" in choice and "{x}" in choice and "{y}" in choice:
        if settings.MAP_TILES_CRS not in geo.SYSTEMS:
            raise ImproperlyConfigured(f"MAP_TILES_CRS must be one of {', '.join(geo.SYSTEMS)}")
        return {"url": choice, "subdomains": "abc", "crs": settings.MAP_TILES_CRS,
                "attribution": settings.MAP_TILES_ATTRIBUTION}
    raise ImproperlyConfigured("MAP_TILES must be amap, tianditu, none or a tile URL template with {z}/{x}/{y}")


def map_crs() -> str:
    """The coordinate system the pages' maps draw in (their tiles'; WGS-84 without tiles)."""
    config = tile_config()
    return config["crs"] if config else geo.WGS84


def shown(lng, lat) -> list[float] | None:
    """A stored WGS-84 point as ``[lng, lat]`` in the maps' system (6 places), or None when unplaced."""
    if lng is None or lat is None:
        return None
    x, y = geo.convert(float(lng), float(lat), src=geo.WGS84, dst=map_crs())
    return [round(x, 6), round(y, 6)]


def map_context(*, cases_query: str = "", pick_url: str | None = None, point=None, villages: bool = True) -> dict:
    """Everything ``cases/_map.html`` needs: the tile layer, the GeoJSON URLs in the maps' system
    (``cases_query``: extra query string of case filters, e.g. ``status=received&status=dispatched``), the
    hotspots' GeoJSON when the hotspots app provides one (URL name ``api:hotspot-geojson``), the centre,
    a case's own ``point`` (WGS-84 ``(lng, lat)``) and ``pick_url`` (the place API of a case the user may
    place). Pure apart from reading settings and URLs."""
    crs = map_crs()
    try:
        hotspots = reverse("api:hotspot-geojson") + f"?crs={crs}"
    except NoReverseMatch:  # hotspots (issue 11) not installed: no heat layer
        hotspots = ""
    cases_url = ""
    if cases_query is not None:
        cases_url = reverse("api:case-geojson") + f"?crs={crs}" + (f"&{cases_query}" if cases_query else "")
    return {
        "tiles": tile_config(), "crs": crs, "cases_url": cases_url,
        "villages_url": (reverse("api:village-geojson") + f"?crs={crs}") if villages else "",
        "hotspots_url": hotspots, "center": shown(*DEFAULT_CENTER),
        "point": shown(*point) if point else None, "pick_url": pick_url or "",
    }
