"""Seeding the five featured liaison stations and their deputies from ``seeds/`` (illustrative data).

``seeds/stations.csv`` columns: ``code, name, theme`` (a :class:`~reps.choices.StationTheme` value),
``village_code`` (where it stands), ``serves_from, serves_to`` (the village-level units it serves: every
unit whose statistical code lies in that inclusive range; the standing village must be one of them),
``partners`` (``;``-separated :class:`~reps.choices.PartnerKind` values, the "+N"), ``volunteers``,
``social_organisations`` (counts), ``reception_weekday`` (ISO 1–7, Monday = 1), ``reception_starts``,
``reception_ends`` (``HH:MM`` Asia/Shanghai). ``seeds/deputies.csv``: ``code, station_code, name, level``
(a :class:`~reps.choices.DeputyLevel` value). Stations, places and deputies are fictional.
"""
import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from grids.models import Village

from .choices import DeputyLevel, PartnerKind, StationTheme, Weekday
from .models import Deputy, LiaisonStation, PartnerPlatform
from .services import link_login

SEEDS_DIR = Path(settings.BASE_DIR) / "seeds"
#: The demo login that ``seed_xiji --demo`` creates for the deputy role.
DEMO_DEPUTY_USERNAME = "deputy"


class SeedError(ValueError):
    """A malformed seed row: the message names the file, the line and the field."""


@dataclass
class StationSeedReport:
    """What :func:`seed_stations` did: counts after the run, and the demo login linked (or None)."""

    stations: int = 0
    partners: int = 0
    deputies: int = 0
    demo_login: str | None = None


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with their line numbers (header = line 1), values stripped."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(n, {k: (v or "").strip() for k, v in row.items()}) for n, row in enumerate(csv.DictReader(fh), 2)]


def _field(path: Path, line: int, row: dict, name: str, parse=str):
    where = f"{path.name} line {line}, field {name!r}"
    if name not in row or row[name] is None:
        raise SeedError(f"{where}: missing column")
    value = row[name]
    if value == "":
        raise SeedError(f"{where}: empty")
    try:
        return parse(value)
    except KeyError:
        raise SeedError(f"{where}: {value!r} is unknown") from None
    except ValueError as exc:
        raise SeedError(f"{where}: {value!r} is not valid ({exc})") from None


def _choice(choices):
    def parse(value):
        if value not in choices.values:
            raise ValueError(f"expected one of {', '.join(map(str, choices.values))}")
        return value
    return parse


def _time(value: str) -> dt.time:
    return dt.datetime.strptime(value, "%H:%M").time()


def _count(value: str) -> int:
    n = int(value)
    if n < 0:
        raise ValueError("must be ≥ 0")
    return n


@transaction.atomic
def seed_stations(*, demo: bool = False, seeds_dir: Path = SEEDS_DIR) -> StationSeedReport:
    """Create or update the liaison stations, their "+N" partner platforms and their deputies.

    Needs the villages (run ``seed_xiji`` first). Idempotent: stations and deputies are keyed by ``code``,
    so a second run changes nothing and creates no duplicates; partner platforms listed in the file are
    added where missing (others, added by an administrator, are kept); a deputy's login is left alone.
    With ``demo``, the demo login ``deputy`` (if it exists) becomes the login of the first station's first
    deputy (code order) and is put in the ``deputy`` group. All or nothing: raises :class:`SeedError`
    naming the file, line and field of a malformed row, and nothing is written.
    """
    report = StationSeedReport()
    villages = {v.code: v for v in Village.objects.order_by("code")}
    if not villages:
        raise SeedError("no villages: run seed_xiji first")
    codes = sorted(villages)

    path = seeds_dir / "stations.csv"
    stations = {}
    for line, row in _read_csv(path):
        code = _field(path, line, row, "code")
        village_code = _field(path, line, row, "village_code", lambda c: villages[c].code)
        first = _field(path, line, row, "serves_from", lambda c: villages[c].code)
        last = _field(path, line, row, "serves_to", lambda c: villages[c].code)
        served = [villages[c] for c in codes if first <= c <= last]
        if village_code not in {v.code for v in served}:
            raise SeedError(f"{path.name} line {line}, field 'village_code': {village_code} is not among the "
                            f"villages served ({first}–{last})")
        station, _ = LiaisonStation.objects.update_or_create(
            code=code,
            defaults={
                "name": _field(path, line, row, "name"),
                "address": row.get("address", ""),
                "village": villages[village_code],
                "theme": _field(path, line, row, "theme", _choice(StationTheme)),
                "volunteers": _field(path, line, row, "volunteers", _count),
                "social_organisations": _field(path, line, row, "social_organisations", _count),
                "reception_weekday": _field(path, line, row, "reception_weekday", lambda v: _choice(Weekday)(int(v))),
                "reception_starts": _field(path, line, row, "reception_starts", _time),
                "reception_ends": _field(path, line, row, "reception_ends", _time),
            },
        )
        try:
            station.full_clean(exclude=["village"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            raise SeedError(f"{path.name} line {line}: {exc.message_dict}") from None
        station.villages_served.set(served)
        kinds = [k.strip() for k in row.get("partners", "").split(";") if k.strip()]
        for kind in kinds:
            if kind not in PartnerKind.values:
                raise SeedError(f"{path.name} line {line}, field 'partners': {kind!r} is not valid (expected "
                                f"{', '.join(PartnerKind.values)})")
            PartnerPlatform.objects.get_or_create(station=station, kind=kind, name="")
        stations[code] = station

    path = seeds_dir / "deputies.csv"
    first_deputy = None
    for line, row in _read_csv(path):
        station_code = _field(path, line, row, "station_code", lambda c: stations[c].code)
        deputy, _ = Deputy.objects.update_or_create(
            code=_field(path, line, row, "code"),
            defaults={"name": _field(path, line, row, "name"), "station": stations[station_code],
                      "level": _field(path, line, row, "level", _choice(DeputyLevel))},
        )
        if first_deputy is None or (deputy.station.code, deputy.code) < (first_deputy.station.code, first_deputy.code):
            first_deputy = deputy

    if demo and first_deputy is not None:
        user = get_user_model().objects.filter(username=DEMO_DEPUTY_USERNAME).first()
        if user is not None:
            link_login(first_deputy, user)
            report.demo_login = user.username

    report.stations = LiaisonStation.objects.count()
    report.partners = PartnerPlatform.objects.count()
    report.deputies = Deputy.objects.count()
    return report
