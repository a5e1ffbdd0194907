"""grids.geo: WGS-84 ↔ GCJ-02 ↔ BD-09 on published reference points, round trips within 1 m."""
import math
import random

import pytest

from grids import geo

# googollee/eviltransform's test vectors (MIT): (WGS-84 lng, lat) → GCJ-02 (lng, lat).
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]
# wandergis/coordtransform's README example (MIT), every function applied to (116.404, 39.915).
WANDERGIS = {
    "wgs84_to_gcj02": (116.41024449916938, 39.91640428150164),
    "gcj02_to_bd09": (116.41036949371029, 39.92133699351021),
    # its inverses are one-step approximations; ours iterate to the exact point (within 2 m of these)
    "gcj02_to_wgs84": (116.39775550083061, 39.91359571849836),
    "bd09_to_gcj02": (116.39762729119315, 39.90865673957631),
}


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_the_published_points(wgs, gcj):
    got = geo.wgs84_to_gcj02(*wgs)
    assert got == pytest.approx(gcj, abs=1e-9)
    back = geo.gcj02_to_wgs84(*gcj)
    assert geo.distance_m(*back, *wgs) < 0.001  # the exact inverse: under a millimetre


def test_the_wandergis_reference_point_forward_exactly_and_inverse_within_two_metres():
    point = (116.404, 39.915)
    assert geo.wgs84_to_gcj02(*point) == pytest.approx(WANDERGIS["wgs84_to_gcj02"], abs=1e-9)
    assert geo.gcj02_to_bd09(*point) == pytest.approx(WANDERGIS["gcj02_to_bd09"], abs=1e-9)
    for name, forward in (("gcj02_to_wgs84", geo.wgs84_to_gcj02), ("bd09_to_gcj02", geo.gcj02_to_bd09)):
        exact = getattr(geo, name)(*point)
        assert geo.distance_m(*exact, *WANDERGIS[name]) < 2.0  # theirs is one step short of ours
        ours_back, theirs_back = forward(*exact), forward(*WANDERGIS[name])
        assert geo.distance_m(*ours_back, *point) < 1e-6 < geo.distance_m(*theirs_back, *point)
    assert geo.wgs84_to_gcj02(*geo.gcj02_to_wgs84(*point)) == pytest.approx(point, abs=1e-9)
    assert geo.gcj02_to_bd09(*geo.bd09_to_gcj02(*point)) == pytest.approx(point, abs=1e-9)


def test_offsets_in_xiji_are_hundreds_of_metres_and_baidus_more():
    town = (116.839759, 39.80035)  # Xiji's centre as seeds/town.csv gives it
    gcj = geo.wgs84_to_gcj02(*town)
    bd = geo.wgs84_to_bd09(*town)
    assert 300 < geo.distance_m(*town, *gcj) < 700
    assert 900 < geo.distance_m(*town, *bd) < 1500


def test_round_trips_stay_within_one_metre_across_china():
    rng = random.Random(20251202)
    worst = 0.0
    for _ in range(2000):
        lng, lat = rng.uniform(73.7, 134.7), rng.uniform(18.2, 53.5)
        for there, back in (("wgs84_to_gcj02", "gcj02_to_wgs84"), ("wgs84_to_bd09", "bd09_to_wgs84"),
                            ("gcj02_to_bd09", "bd09_to_gcj02")):
            out = getattr(geo, back)(*getattr(geo, there)(lng, lat))
            worst = max(worst, geo.distance_m(lng, lat, *out))
    assert worst < 0.01  # centimetres at most; the bar is 1 m


def test_outside_china_gcj02_is_wgs84_and_convert_checks_its_input():
    paris = (2.3522, 48.8566)
    assert geo.wgs84_to_gcj02(*paris) == paris and geo.gcj02_to_wgs84(*paris) == paris
    assert geo.convert(116.404, 39.915, src="wgs84", dst="wgs84") == (116.404, 39.915)
    assert geo.convert(116.404, 39.915, src="gcj02", dst="bd09") == geo.gcj02_to_bd09(116.404, 39.915)
    for bad in ({"src": "mars", "dst": "wgs84"}, {"src": "wgs84", "dst": "bd9"}):
        with pytest.raises(ValueError):
            geo.convert(116.4, 39.9, **bad)
    for lng, lat in ((181, 0), (0, -91), (math.nan, 0), (0, math.inf)):
        with pytest.raises(ValueError):
            geo.convert(lng, lat, src="wgs84", dst="gcj02")


def test_distance_is_the_haversine_on_the_mean_earth():
    # one degree of latitude on a sphere of 6,371,008.8 m: 2πR/360 = 111,195.08 m
    assert geo.distance_m(116.0, 39.0, 116.0, 40.0) == pytest.approx(111195.08, abs=0.01)
    assert geo.distance_m(116.0, 39.0, 116.0, 39.0) == 0.0
