"""The weekly visits' move from ``grids`` to ``reps`` (issue 15) keeps every row, id and link: migrations
``reps.0002_visit``, ``cases.0011_remove_case_visit``, ``reps.0003_visit_table`` and
``grids.0006_visit_moved_to_reps`` applied to a database holding visits and cases raised at them
(django-test-migrations), forwards and backwards."""
import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

#: The migrations just before the move (django-test-migrations migrates a clean database up to the last of them
#: in the full plan, so each must come before ``reps.0002`` there: the parents of the move, nothing later).
OLD = [("grids", "0004_cadre_calendar_token"), ("cases", "0010_desk_queue_indexes"), ("reps", "0001_initial")]
NEW = [("grids", "0006_visit_moved_to_reps"), ("cases", "0011_remove_case_visit"), ("reps", "0003_visit_table")]
T0 = dt.datetime(2025, 4, 7, 1, 0, tzinfo=dt.UTC)


def _registry(apps):
    """One town, one village, one town cadre assigned to it; returns (village, cadre, assignment)."""
    Town, Village = apps.get_model("grids", "Town"), apps.get_model("grids", "Village")
    Cadre, Assignment = apps.get_model("grids", "Cadre"), apps.get_model("grids", "VillageAssignment")
    town = Town.objects.create(code="110112110000", name="西集镇")
    village = Village.objects.create(town=town, code="110112110222", name="大灰店村村委会")
    cadre = Cadre.objects.create(name="干部甲（演示）", level="town", role="cadre", calendar_token="t-1")
    assignment = Assignment.objects.create(cadre=cadre, village=village, start_date=dt.date(2025, 1, 1))
    return village, cadre, assignment


def _case(apps, village, n, **extra):
    Case = apps.get_model("cases", "Case")
    return Case.objects.create(number=f"XJ20250407-{n:04d}", kind="help", source="visit", title=f"诉求{n}",
                               village=village, received_at=T0, **extra)


def _visit_rows(Visit):
    return sorted(Visit.objects.values_list("id", "cadre_id", "village_id", "assignment_id", "iso_week",
                                            "planned_date", "status", "households_visited", "people_received",
                                            "notes"))


@pytest.mark.django_db(transaction=True)
def test_visits_keep_rows_ids_and_links_when_they_move_to_reps(migrator):
    old = migrator.apply_initial_migration(OLD).apps
    village, cadre, assignment = _registry(old)
    Visit = old.get_model("grids", "Visit")
    # Ids far from 1, so that a copy that renumbered rows would show.
    done = Visit.objects.create(id=7001, cadre=cadre, village=village, assignment=assignment, iso_week="2025-W15",
                                planned_date=dt.date(2025, 4, 7), status="done", households_visited=12,
                                people_received=5, notes="走访记录")
    missed = Visit.objects.create(id=7005, cadre=cadre, village=village, assignment=assignment, iso_week="2025-W16",
                                  planned_date=dt.date(2025, 4, 14), status="missed")
    Visit.objects.create(id=7009, cadre=cadre, village=village, iso_week="2025-W17", planned_date=dt.date(2025, 4, 21))
    numbered = Visit.objects.create(cadre=cadre, village=village, iso_week="2025-W18")  # id from the table's sequence
    before = _visit_rows(Visit)
    raised = [_case(old, village, 1, visit=done), _case(old, village, 2, visit=done),
              _case(old, village, 3, visit=missed), _case(old, village, 4)]  # the 4th raised at no visit
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    ContentType.objects.filter(app_label="reps", model="visit").delete()  # as on a database of the last release
    visit_type = ContentType.objects.get_or_create(app_label="grids", model="visit")[0]
    permission = Permission.objects.get_or_create(content_type=visit_type, codename="view_visit",
                                                  defaults={"name": "Can view 走访接待日"})[0]

    new = migrator.apply_tested_migration(NEW).apps

    Visit = new.get_model("reps", "Visit")
    assert _visit_rows(Visit) == before  # every row, with its id and values
    assert Visit._meta.db_table == "reps_visit"
    tables = connection.introspection.table_names()
    assert "reps_visit" in tables and "grids_visit" not in tables
    VisitCase = new.get_model("reps", "VisitCase")
    assert dict(VisitCase.objects.values_list("case_id", "visit_id")) == {
        raised[0].pk: done.pk, raised[1].pk: done.pk, raised[2].pk: missed.pk}
    Case = new.get_model("cases", "Case")
    assert "visit" not in {f.name for f in Case._meta.get_fields()}
    assert Case.objects.count() == 4
    # The content type and its permission now name reps.visit.
    assert ContentType.objects.filter(pk=visit_type.pk, app_label="reps", model="visit").exists()
    assert Permission.objects.get(pk=permission.pk).content_type_id == visit_type.pk
    # Foreign keys still hold: the moved table's to the registry, the links' to the moved table.
    constraints = connection.introspection.get_constraints(connection.cursor(), "reps_visit")
    targets = {c["columns"][0]: c["foreign_key"] for c in constraints.values() if c["foreign_key"]}
    assert targets == {"cadre_id": ("grids_cadre", "id"), "village_id": ("grids_village", "id"),
                       "assignment_id": ("grids_villageassignment", "id"), "recorded_by_id": ("auth_user", "id")}
    with pytest.raises(IntegrityError), transaction.atomic():
        VisitCase.objects.create(case_id=raised[3].pk, visit_id=9999)  # no such visit
    # The id sequence moved with the table: the next row continues it.
    assert Visit.objects.create(cadre_id=cadre.pk, village_id=village.pk, iso_week="2025-W19").pk == numbered.pk + 1


@pytest.mark.django_db(transaction=True)
def test_moving_the_visits_back_restores_the_case_column(migrator):
    new = migrator.apply_initial_migration(NEW).apps
    village, cadre, _assignment = _registry(new)
    Visit, VisitCase = new.get_model("reps", "Visit"), new.get_model("reps", "VisitCase")
    visit = Visit.objects.create(id=8003, cadre=cadre, village=village, iso_week="2025-W15", status="done")
    linked, other = _case(new, village, 1), _case(new, village, 2)
    VisitCase.objects.create(case=linked, visit=visit)

    old = migrator.apply_tested_migration(OLD).apps

    Case = old.get_model("cases", "Case")
    assert dict(Case.objects.values_list("pk", "visit_id")) == {linked.pk: visit.pk, other.pk: None}
    assert list(old.get_model("grids", "Visit").objects.values_list("pk", "status")) == [(visit.pk, "done")]
    assert "grids_visit" in connection.introspection.table_names()


@pytest.mark.django_db(transaction=True)
def test_cases_reopened_before_rounds_get_their_first_round_back_from_the_audit_trail(migrator):
    """``cases.0015_case_rounds`` rebuilds the finished round of a case reopened under 0014 from its events:
    received T0, resolve due T0 + 7 d, breached (event at T0 + 7 d), resolved T0 + 8 d, called back
    unsatisfied, reopened at T0 + 9 d → round 1 respond on time, resolve late (a day), unsatisfied; the case
    is in round 2, earlier resolve late, and the stored statistics are to be rebuilt."""
    old = migrator.apply_initial_migration([("cases", "0014_dispatch_deadline")]).apps
    village, _cadre, _assignment = _registry(old)
    D = dt.timedelta(days=1)
    R = T0 + 9 * D
    case = _case(old, village, 1, status="dispatched", respond_due_at=R + D, resolve_due_at=R + 7 * D,
                 dispatched_at=R)
    Event = old.get_model("cases", "CaseEvent")
    Event.objects.create(case=case, action="resolve_breach", at=T0 + 7 * D, data={"deadline": "resolve"})
    Event.objects.create(case=case, action="callback", at=T0 + 8 * D + dt.timedelta(hours=1),
                         data={"contacted": True, "solved": False, "satisfaction": "unsatisfied", "source": "local"})
    Event.objects.create(case=case, action="reopened", at=R, data={"previous": {
        "satisfaction": "unsatisfied", "solved": False, "result": "未修好",
        "responded_at": (T0 + dt.timedelta(hours=2)).isoformat(), "resolved_at": (T0 + 8 * D).isoformat(),
        "respond_due_at": (T0 + D).isoformat(), "resolve_due_at": (T0 + 7 * D).isoformat()}})
    old.get_model("cases", "StatFillState").objects.create(name="daily", clean_until=R)

    new = migrator.apply_tested_migration([("cases", "0015_case_rounds")]).apps

    (first,) = new.get_model("cases", "CaseRound").objects.filter(case_id=case.pk)
    assert (first.number, first.started_at, first.ended_at) == (1, T0, R)
    assert (first.respond_late, first.resolve_late, first.resolve_breached_at) == (False, True, T0 + 7 * D)
    assert (first.satisfaction, first.callback_solved, first.result) == ("unsatisfied", False, "未修好")
    moved = new.get_model("cases", "Case").objects.get(pk=case.pk)
    assert (moved.round_number, moved.earlier_respond_late, moved.earlier_resolve_late, moved.earlier_lateness) == (
        2, False, True, D)
    assert new.get_model("cases", "StatFillState").objects.get(name="daily").clean_until is None
