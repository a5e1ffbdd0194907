"""China's map coordinate systems: WGS-84, GCJ-02 and BD-09 (issue 14).

The product stores every coordinate in **WGS-84** (what a phone's GPS and the browser's geolocation give,
what Tianditu's CGCS2000 tiles agree with to well under a metre). Chinese web maps draw in shifted systems:

* **GCJ-02** (国测局坐标, "Mars coordinates"): AMap/高德, Tencent/腾讯, Google Maps' China tiles. A
  deliberately non-linear offset of about 100–700 m inside mainland China, zero outside it.
* **BD-09** (百度坐标): Baidu Maps; GCJ-02 with Baidu's own extra rotation and shift (about 0.0065° east,
  0.006° north).

Formulas. GCJ-02 is not published by its authority; the forward transform used across the industry (and
here) is the one published with the open-source ``eviltransform`` (googollee, MIT) and
``coordtransform`` (wandergis, MIT) projects: the offset series in ``_offset`` on the Krasovsky 1940
ellipsoid (a = 6,378,245 m, e² = 0.00669342162296594323), applied only inside the rough mainland box of
``out_of_china``. BD-09 from GCJ-02 is Baidu's published transform (x_pi = π·3000/180; z = r + 2e-5·sin(y·x_pi),
θ = atan2(y, x) + 3e-6·cos(x·x_pi), then +0.0065 / +0.006). Neither has a closed-form inverse: the inverses
here solve ``forward(p) = q`` by fixed-point iteration to 1e-10° (≈ 0.01 mm), so a round trip comes back
within millimetres (the one-step inverse most libraries ship errs by 1–2 m).

Why not a package: the candidates on PyPI were ``prcoords`` 1.0.2 (public domain, last release 2019),
``eviltransform`` 0.1.1 (2018), ``prcoords-typed`` (needs Python ≥ 3.14) and ``coordTransform`` 0.2.1
(a binary fork whose GCJ→WGS is the one-step inverse, off by 1–2 m, so it misses the 1 m round trip).
None is both maintained and exact enough, so the formulas live here, tested on the published reference
points of those projects (``tests/test_geo.py``).

Every function takes and returns ``(lng, lat)`` in decimal degrees (GeoJSON's order).
"""
import math

WGS84, GCJ02, BD09 = "wgs84", "gcj02", "bd09"
SYSTEMS = (WGS84, GCJ02, BD09)

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_EPSILON = 1e-10  # degrees: the inverses iterate until a step is smaller than this
_MAX_STEPS = 30

#: Mean Earth radius (m) for :func:`distance_m` (IUGG).
EARTH_RADIUS_M = 6371008.8


def out_of_china(lng: float, lat: float) -> bool:
    """True outside the rough mainland box (lng 72.004–137.8347, lat 0.8293–55.8271) in which GCJ-02
    applies its offset; outside it GCJ-02 equals WGS-84 (the box of the published implementations)."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _offset(lng: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlng, dlat) in degrees at WGS-84 point (lng, lat)."""
    x, y = lng - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlng = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return dlng, dlat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (AMap, Tencent). Unchanged outside mainland China."""
    if out_of_china(lng, lat):
        return lng, lat
    dlng, dlat = _offset(lng, lat)
    return lng + dlng, lat + dlat


def _invert(forward, lng: float, lat: float) -> tuple[float, float]:
    """The point p with ``forward(p) == (lng, lat)``, by fixed-point iteration from p = (lng, lat)."""
    x, y = lng, lat
    for _step in range(_MAX_STEPS):
        fx, fy = forward(x, y)
        dx, dy = lng - fx, lat - fy
        x, y = x + dx, y + dy
        if abs(dx) < _EPSILON and abs(dy) < _EPSILON:
            break
    return x, y


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, exact to about 1e-10° (iterated inverse). Unchanged outside mainland China."""
    if out_of_china(lng, lat):
        return lng, lat
    return _invert(wgs84_to_gcj02, lng, lat)


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (Baidu), Baidu's published transform."""
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02, exact to about 1e-10° (iterated inverse of :func:`gcj02_to_bd09`)."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    start = (z * math.cos(theta), z * math.sin(theta))  # Baidu's own one-step inverse, then refined
    gx, gy = start
    for _step in range(_MAX_STEPS):
        fx, fy = gcj02_to_bd09(gx, gy)
        dx, dy = lng - fx, lat - fy
        gx, gy = gx + dx, gy + dy
        if abs(dx) < _EPSILON and abs(dy) < _EPSILON:
            break
    return gx, gy


def wgs84_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    """WGS-84 → BD-09 (through GCJ-02). Outside mainland China only Baidu's own shift applies."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))


def bd09_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """BD-09 → WGS-84 (through GCJ-02), exact to about 1e-10°."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))


_CONVERSIONS = {
    (WGS84, GCJ02): wgs84_to_gcj02, (GCJ02, WGS84): gcj02_to_wgs84,
    (GCJ02, BD09): gcj02_to_bd09, (BD09, GCJ02): bd09_to_gcj02,
    (WGS84, BD09): wgs84_to_bd09, (BD09, WGS84): bd09_to_wgs84,
}


def convert(lng: float, lat: float, *, src: str, dst: str) -> tuple[float, float]:
    """(lng, lat) from system ``src`` to ``dst`` (each one of SYSTEMS). Raises ValueError for an unknown
    system or a coordinate outside lng −180..180 / lat −90..90."""
    if src not in SYSTEMS or dst not in SYSTEMS:
        raise ValueError(f"coordinate system must be one of {', '.join(SYSTEMS)}")
    check(lng, lat)
    if src == dst:
        return float(lng), float(lat)
    return _CONVERSIONS[(src, dst)](float(lng), float(lat))


def check(lng: float, lat: float) -> None:
    """Raise ValueError unless −180 ≤ lng ≤ 180 and −90 ≤ lat ≤ 90 (finite numbers)."""
    if not (math.isfinite(lng) and math.isfinite(lat)) or not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise ValueError("longitude must lie in −180..180 and latitude in −90..90")


def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance in metres between two points (haversine on a sphere of EARTH_RADIUS_M)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """A bounding box ``"min_lng,min_lat,max_lng,max_lat"`` (degrees, as GeoJSON's ``bbox``) as floats.
    Raises ValueError unless there are four finite numbers in range with min ≤ max on both axes."""
    try:
        parts = [float(p) for p in (text or "").split(",")]
    except ValueError:
        raise ValueError("bbox must be four numbers: min_lng,min_lat,max_lng,max_lat") from None
    if len(parts) != 4:
        raise ValueError("bbox must be four numbers: min_lng,min_lat,max_lng,max_lat")
    min_lng, min_lat, max_lng, max_lat = parts
    check(min_lng, min_lat)
    check(max_lng, max_lat)
    if min_lng > max_lng or min_lat > max_lat:
        raise ValueError("bbox minimum must not exceed its maximum")
    return min_lng, min_lat, max_lng, max_lat


def wgs84_bbox(bbox: tuple[float, float, float, float], *, src: str) -> tuple[float, float, float, float]:
    """A bbox given in system ``src`` as a WGS-84 bbox that contains it (corners converted, then the
    envelope taken; at a town's scale the offsets are smooth, so four corners suffice)."""
    if src == WGS84:
        return bbox
    min_lng, min_lat, max_lng, max_lat = bbox
    corners = [convert(x, y, src=src, dst=WGS84) for x in (min_lng, max_lng) for y in (min_lat, max_lat)]
    lngs, lats = [c[0] for c in corners], [c[1] for c in corners]
    return min(lngs), min(lats), max(lngs), max(lats)


def feature(lng, lat, properties: dict, *, crs: str = WGS84, feature_id=None) -> dict:
    """A GeoJSON (RFC 7946) Point Feature at WGS-84 (lng, lat) (numbers or Decimals), written in ``crs``
    (RFC 7946 says WGS-84; ``crs`` other than ``wgs84`` is for drawing over GCJ-02 / BD-09 tiles), with
    coordinates rounded to 6 places (about 0.1 m)."""
    x, y = convert(float(lng), float(lat), src=WGS84, dst=crs)
    out = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
           "properties": properties}
    if feature_id is not None:
        out["id"] = feature_id
    return out
