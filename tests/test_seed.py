import csv
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from grids.choices import CadreLevel, Role
from grids.models import Cadre, Grid, Town, Village, VillageAssignment
from grids.services import seed_xiji

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def seed_rows():
    with (SEEDS / "villages.csv").open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def snapshot():
    return {
        "towns": list(Town.objects.values_list("code", "name")),
        "villages": list(Village.objects.order_by("code").values_list("code", "name", "chief_grid_leader__name")),
        "grids": list(Grid.objects.order_by("code").values_list("code", "village__code", "leader__name")),
        "cadres": sorted(Cadre.objects.values_list("name", "level", "role", "user__username")),
        "assignments": sorted(VillageAssignment.objects.values_list("cadre__name", "village__code", "start_date")),
        "users": sorted(User.objects.values_list("username", "password")),
    }


@pytest.mark.django_db
def test_seed_loads_59_units_with_their_official_codes_and_names(xiji):
    rows = seed_rows()
    assert len(rows) == 59
    assert sorted(Village.objects.values_list("code", "name")) == sorted((r["code"], r["name"]) for r in rows)
    assert Counter(Village.objects.values_list("kind", flat=True)) == {"village": 57, "community": 2}
    assert Town.objects.get().code == "110112110000"


@pytest.mark.django_db
def test_seed_allots_180_micro_grids_by_the_documented_rule(xiji):
    assert Grid.objects.count() == 180
    per_village = Counter(Grid.objects.values_list("village__name", flat=True))
    assert len(per_village) == 59 and min(per_village.values()) >= 1
    assert per_village["大灰店村村委会"] == 5
    assert per_village["西集村委会"] == 4
    assert sorted(Grid.objects.filter(village__code="110112110222").values_list("code", flat=True)) == [
        f"110112110222-0{n}" for n in range(1, 6)
    ]
    assert Grid.objects.filter(leader__isnull=True).count() == 0


@pytest.mark.django_db
def test_every_unit_has_a_chief_grid_leader_and_a_town_cadre(xiji):
    assert Village.objects.filter(chief_grid_leader__isnull=True).count() == 0
    covered = set(VillageAssignment.objects.values_list("village__code", flat=True))
    assert covered == {r["code"] for r in seed_rows()}
    assert set(VillageAssignment.objects.values_list("cadre__level", flat=True)) == {CadreLevel.TOWN}
    # Fictional names only: every seeded cadre is marked as a demo person.
    assert all(name.endswith("（演示）") for name in Cadre.objects.values_list("name", flat=True))


@pytest.mark.django_db
def test_seeding_twice_changes_nothing():
    seed_xiji(demo=True)
    first = snapshot()
    report = seed_xiji(demo=True)
    assert report.created_logins == []
    assert snapshot() == first


@pytest.mark.django_db
def test_demo_logins_sit_in_the_group_of_their_role():
    report = seed_xiji(demo=True)
    roles = {role for _, role in report.created_logins}
    assert roles == {r.value for r in Role}
    assert User.objects.count() == 59 + 180 + 20 + 4
    gl = User.objects.get(username="gl222-1")
    assert list(gl.groups.values_list("name", flat=True)) == ["grid_leader"]
    assert gl.cadre.led_grids.get().code == "110112110222-01"
    assert gl.check_password("xiji-demo-2025")
    assert User.objects.get(username="admin").is_superuser
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_role_names_are_the_ones_the_registry_and_the_actions_use():
    from django.utils import translation

    from cases.choices import Action
    from grids.choices import Role
    from grids.models import Grid, Village

    with translation.override("zh-hans"):
        # The village's chief and the grid's leader are named as their roles are (issue 16 defect 8).
        assert str(Village._meta.get_field("chief_grid_leader").verbose_name) == str(Role.VILLAGE_LEADER.label)
        assert str(Grid._meta.get_field("leader").verbose_name) == str(Role.GRID_LEADER.label)
        # The supervisor is a person, not the escalation (督办) they order.
        assert str(Role.SUPERVISOR.label) == "督办领导"
        assert str(Role.SUPERVISOR.label) not in {str(label) for label in Action.labels}
