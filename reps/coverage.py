"""Reads of the weekly visits: coverage per week, cadre and village, and the week's missed visits (DESIGN §7,
issue 7 item 5)."""
from dataclasses import asdict, dataclass, field

from django.db.models import Count, Q

from grids.models import Cadre, Village

from .choices import VisitStatus
from .models import Visit, VisitCase
from .visits import parse_iso_week

#: Statuses of a visit that was due on a working day: the village counts in the coverage denominator.
#: ``skipped_holiday`` visits had no working day and are left out; ``cancelled`` ones count as not visited.
DUE_STATUSES = (VisitStatus.PLANNED, VisitStatus.DONE, VisitStatus.MISSED, VisitStatus.CANCELLED)


@dataclass
class CoverageRow:
    """Visit counts of one scope (a cadre, a village, or all) in one ISO week.

    ``total``: visits stored for the week; ``planned`` / ``done`` / ``missed`` / ``skipped_holiday`` /
    ``cancelled``: visits in that status now (``planned`` = still to be made or recorded).
    ``villages_due``: distinct villages with a visit due (status in :data:`DUE_STATUSES`);
    ``villages_visited``: distinct villages with at least one ``done`` visit; ``share_visited``:
    ``villages_visited / villages_due`` as a float in [0, 1], None when nothing was due.
    ``cases_raised``: cases linked to the scope's visits of that week (source ``visit``; full scope, 全口径:
    excluded and cancelled cases included).
    """

    id: int | None
    name: str
    total: int = 0
    planned: int = 0
    done: int = 0
    missed: int = 0
    skipped_holiday: int = 0
    cancelled: int = 0
    villages_due: int = 0
    villages_visited: int = 0
    share_visited: float | None = None
    cases_raised: int = 0
    _due: set = field(default_factory=set, repr=False)
    _visited: set = field(default_factory=set, repr=False)

    def _add(self, row: dict, cases: int) -> None:
        for name in ("total", "planned", "done", "missed", "skipped_holiday", "cancelled"):
            setattr(self, name, getattr(self, name) + row[name])
        if row["due"]:
            self._due.add(row["village_id"])
        if row["done"]:
            self._visited.add(row["village_id"])
        self.cases_raised += cases

    def _finish(self) -> "CoverageRow":
        self.villages_due, self.villages_visited = len(self._due), len(self._visited & self._due)
        self.share_visited = self.villages_visited / self.villages_due if self.villages_due else None
        return self

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("_due")
        data.pop("_visited")
        return data


@dataclass
class WeekCoverage:
    """Coverage of one ISO week: ``totals`` over all visits, one row per cadre (by name) and per village
    (by statistical code) that had a visit that week."""

    iso_week: str
    totals: CoverageRow
    by_cadre: list[CoverageRow]
    by_village: list[CoverageRow]

    def as_dict(self) -> dict:
        return {"iso_week": self.iso_week, "totals": self.totals.as_dict(),
                "by_cadre": [r.as_dict() for r in self.by_cadre], "by_village": [r.as_dict() for r in self.by_village]}


def visit_coverage(iso_week: str, *, town=None) -> WeekCoverage:
    """Visit coverage of ``iso_week`` (``"2025-W41"``), optionally limited to one ``town``.

    One scan of the week's visits with conditional counts per (cadre, village) pair — the pair is unique per
    week — and one grouped count of the cases linked to them (:class:`~reps.models.VisitCase`), folded into cadre, village and total rows in
    Python (no ``Count(distinct=True)`` over joined relations, whose joins would multiply rows). Two more
    queries fetch the names. Returns a :class:`WeekCoverage`; raises ValidationError (``iso_week``) for a
    malformed week.
    """
    year, week = parse_iso_week(iso_week)
    label = f"{year}-W{week:02d}"
    visits = Visit.objects.filter(iso_week=label)
    links = VisitCase.objects.filter(visit__iso_week=label)
    if town is not None:
        visits = visits.filter(village__town=town)
        links = links.filter(visit__village__town=town)
    rows = list(
        visits.values("cadre_id", "village_id").order_by().annotate(
            total=Count("pk"),
            **{status.value: Count("pk", filter=Q(status=status)) for status in VisitStatus},
            due=Count("pk", filter=Q(status__in=DUE_STATUSES)),
        )
    )
    raised = {
        (r["visit__cadre_id"], r["visit__village_id"]): r["n"]
        for r in links.values("visit__cadre_id", "visit__village_id").order_by().annotate(n=Count("pk"))
    }
    cadres = Cadre.objects.in_bulk({r["cadre_id"] for r in rows})
    villages = Village.objects.in_bulk({r["village_id"] for r in rows})

    totals = CoverageRow(id=None, name="")
    by_cadre: dict[int, CoverageRow] = {}
    by_village: dict[int, CoverageRow] = {}
    for row in rows:
        n = raised.get((row["cadre_id"], row["village_id"]), 0)
        cadre, village = cadres[row["cadre_id"]], villages[row["village_id"]]
        by_cadre.setdefault(cadre.pk, CoverageRow(id=cadre.pk, name=cadre.name))._add(row, n)
        by_village.setdefault(village.pk, CoverageRow(id=village.pk, name=village.short_name))._add(row, n)
        totals._add(row, n)
    return WeekCoverage(
        iso_week=label,
        totals=totals._finish(),
        by_cadre=sorted((r._finish() for r in by_cadre.values()), key=lambda r: (r.name, r.id)),
        by_village=sorted((r._finish() for r in by_village.values()), key=lambda r: villages[r.id].code),
    )


def missed_visits(iso_week: str):
    """The week's ``missed`` visits with cadre and village loaded, by planned date and village code
    (for the supervisor dashboard). Raises ValidationError (``iso_week``) for a malformed week."""
    year, week = parse_iso_week(iso_week)
    return (Visit.objects.filter(iso_week=f"{year}-W{week:02d}", status=VisitStatus.MISSED)
            .select_related("cadre", "village").order_by("planned_date", "village__code"))
