"""State changes of the grid registry: seeding Xiji from ``seeds/``."""
import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from . import geo
from .choices import CadreLevel, Role
from .models import Cadre, Grid, Town, Village, VillageAssignment

SEEDS_DIR = Path(settings.BASE_DIR) / "seeds"

#: The seed article says 大灰店村 has five micro-grids.
DAHUIDIAN_CODE = "110112110222"
#: 西集村, the town seat and the only unit classed 121 (镇中心区) in the 2016 urban-rural codes.
TOWN_SEAT_CODE = "110112110201"
GRIDS_PER_UNIT = 3
TOWN_CADRES = 20
ASSIGNMENTS_FROM = dt.date(2025, 1, 1)
DEMO_PASSWORD = "xiji-demo-2025"


def micro_grid_count(village_code: str) -> int:
    """How many micro-grids a village-level unit gets in the seed.

    Rule (deterministic, 180 in all over Xiji's 59 units): every unit gets 3; 大灰店村 gets 5 because
    the seed article says so; 西集村, the town seat (urban-rural code 121), gets 4. 59 × 3 + 2 + 1 = 180.

    ``village_code``: the 12-digit statistical code. Returns a positive int.
    """
    if village_code == DAHUIDIAN_CODE:
        return 5
    if village_code == TOWN_SEAT_CODE:
        return 4
    return GRIDS_PER_UNIT


def grid_code(village_code: str, seq: int) -> str:
    """Stable micro-grid code: the village's 12-digit code, a dash, the 2-digit sequence (``110112110222-05``)."""
    return f"{village_code}-{seq:02d}"


def ensure_role_groups() -> dict[str, Group]:
    """Create the Django group of every role of DESIGN §1 (idempotent). Returns {role value: Group}."""
    return {role.value: Group.objects.get_or_create(name=role.value)[0] for role in Role}


def _decimal_or_none(text: str):
    return Decimal(text) if text and text.strip() else None


#: The coordinate system of ``seeds/town.csv`` and ``seeds/villages.csv``. The project's shared data notes
#: that its file does not say; the upstream data set it comes from (Vonng/adcode, README "数据说明") states
#: that all its points are GCJ-02 (its boundaries and centres come from AMap's district API). So they are
#: read as GCJ-02 and stored as WGS-84 (issue 14: coordinates are stored in WGS-84; ``grids.geo``); read as
#: WGS-84 they would sit 300–700 m off on a WGS-84 or CGCS2000 map such as Tianditu.
SEED_COORDINATE_SYSTEM = geo.GCJ02


def _seed_point(row: dict) -> dict:
    """``{"lng", "lat"}`` of a seed row as WGS-84 Decimals (6 places, about 0.1 m), or both None."""
    lng, lat = _decimal_or_none(row["lng"]), _decimal_or_none(row["lat"])
    if lng is None or lat is None:
        return {"lng": None, "lat": None}
    wlng, wlat = geo.convert(float(lng), float(lat), src=SEED_COORDINATE_SYSTEM, dst=geo.WGS84)
    return {"lng": Decimal(f"{wlng:.6f}"), "lat": Decimal(f"{wlat:.6f}")}


@dataclass
class SeedReport:
    """What :func:`seed_xiji` did: counts, and the logins it created this run (username, role)."""

    villages: int = 0
    grids: int = 0
    cadres: int = 0
    assignments: int = 0
    created_logins: list[tuple[str, str]] = field(default_factory=list)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


class _Logins:
    """Creates demo logins once; never resets a password that exists."""

    def __init__(self, enabled: bool, report: SeedReport):
        self.enabled = enabled
        self.report = report
        self.groups = ensure_role_groups()
        self.User = get_user_model()
        self._hash = None  # PBKDF2 once for every demo login: hundreds of logins, one hashing cost

    def get(self, username: str, role: str, *, staff: bool = False, superuser: bool = False):
        if not self.enabled:
            return None
        user, created = self.User.objects.get_or_create(
            username=username, defaults={"is_staff": staff or superuser, "is_superuser": superuser}
        )
        if created:
            if self._hash is None:
                self._hash = make_password(DEMO_PASSWORD)
            user.password = self._hash
            user.save(update_fields=["password"])
            self.report.created_logins.append((username, role))
        user.groups.add(self.groups[role])
        return user


def _cadre(name: str, *, level: str, role: str, position: str, village=None, user=None) -> Cadre:
    cadre, _ = Cadre.objects.update_or_create(
        name=name,
        level=level,
        defaults={"role": role, "position": position, "village": village, **({"user": user} if user else {})},
    )
    return cadre


@transaction.atomic
def seed_xiji(*, demo: bool = False, seeds_dir: Path = SEEDS_DIR) -> SeedReport:
    """Load Xiji town from ``seeds_dir`` (``town.csv``, ``villages.csv``) into the registry.

    Creates or updates: the town; its 59 village-level units with official codes and names; 180 micro-grids
    (rule: :func:`micro_grid_count`); fictional cadres — a chief grid leader per unit, a leader per
    micro-grid, 20 town cadres with 包村 assignments (village *i* in code order goes to town cadre
    *i* mod 20, from 2025-01-01), so every unit has one. With ``demo`` also a login per fictional cadre
    and one per remaining role (admin, dispatcher, supervisor, deputy), password ``DEMO_PASSWORD``.

    Idempotent: a second run changes nothing and creates no duplicates; existing passwords are kept.
    Returns a :class:`SeedReport`. Raises ``KeyError`` / ``ValueError`` on a malformed seed file.
    """
    report = SeedReport()
    logins = _Logins(demo, report)

    (town_row,) = _read_csv(seeds_dir / "town.csv")
    town, _ = Town.objects.update_or_create(
        code=town_row["code"],
        defaults={
            "name": town_row["name"],
            "district": town_row["district"],
            **_seed_point(town_row),
        },
    )

    village_rows = sorted(_read_csv(seeds_dir / "villages.csv"), key=lambda r: r["code"])
    villages = []
    for row in village_rows:
        village, _ = Village.objects.update_or_create(
            code=row["code"],
            defaults={
                "town": town,
                "name": row["name"],
                "kind": row["kind"],
                "urban_rural_code": row["urban_rural_code_2016"],
                **_seed_point(row),
            },
        )
        villages.append(village)
        short, tail = village.short_name, village.code[-3:]

        chief = _cadre(
            f"{short}总网格长（演示）",
            level=CadreLevel.VILLAGE,
            role=Role.VILLAGE_LEADER,
            position="党支部书记、村级总网格长",
            village=village,
            user=logins.get(f"vl{tail}", Role.VILLAGE_LEADER),
        )
        if village.chief_grid_leader_id != chief.pk:
            village.chief_grid_leader = chief
            village.save(update_fields=["chief_grid_leader"])

        for seq in range(1, micro_grid_count(village.code) + 1):
            leader = _cadre(
                f"{short}{seq}号网格长（演示）",
                level=CadreLevel.VILLAGE,
                role=Role.GRID_LEADER,
                position="微网格组长",
                village=village,
                user=logins.get(f"gl{tail}-{seq}", Role.GRID_LEADER),
            )
            grid, _ = Grid.objects.update_or_create(
                code=grid_code(village.code, seq),
                defaults={"village": village, "name": f"第{seq}微网格", "leader": leader},
            )
            grid.members.add(leader)
            report.grids += 1

    town_cadres = [
        _cadre(
            f"包村干部{k:02d}（演示）",
            level=CadreLevel.TOWN,
            role=Role.CADRE,
            position="镇包村干部",
            user=logins.get(f"cadre{k:02d}", Role.CADRE),
        )
        for k in range(1, TOWN_CADRES + 1)
    ]
    for i, village in enumerate(villages):
        VillageAssignment.objects.get_or_create(
            cadre=town_cadres[i % TOWN_CADRES], village=village, start_date=ASSIGNMENTS_FROM
        )

    logins.get("admin", Role.ADMIN, superuser=True)
    logins.get("dispatcher", Role.DISPATCHER)
    logins.get("supervisor", Role.SUPERVISOR, staff=True)
    logins.get("deputy", Role.DEPUTY)

    report.villages = len(villages)
    report.cadres = Cadre.objects.count()
    report.assignments = VillageAssignment.objects.count()
    return report
