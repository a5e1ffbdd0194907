"""Check a restored database (issue 18.5): counts per table, every case's append-only event chain, and the
statistics from the stored daily figures equal to a direct count over the cases.

    python manage.py check_restore --write-counts counts.json   # on the source, right before pg_dump
    python manage.py check_restore --expect counts.json         # on the restored database

Exit status 0 when every check holds, 1 (CommandError) naming what failed otherwise. The event chain: a case's
events in the order they were appended (id) start with ``created`` and each one's ``from_status`` is the
previous one's ``to_status``; the last ``to_status`` is the case's status. The statistics: ``rates`` per
village for all time, from the snapshots (``cases=None``) and counted directly (``cases=<all cases>``),
must give the same rows.
"""
import json

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from cases import selectors
from cases.choices import Action
from cases.models import Case, CaseEvent

#: Apps whose tables are counted (the product's and the logins').
COUNTED_APPS = ("auth", "authtoken", "grids", "cases", "reps", "django_celery_beat")


def table_counts() -> dict[str, int]:
    """Rows per table of :data:`COUNTED_APPS`, keyed by ``app_label.Model``."""
    counts = {}
    for label in COUNTED_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            counts[model._meta.label] = model._default_manager.count()
    return counts


def broken_chains(limit: int = 20) -> list[str]:
    """Up to ``limit`` descriptions of cases whose event chain is broken (see the module docstring)."""
    statuses = dict(Case.objects.values_list("pk", "status"))
    problems, current, previous = [], None, None

    def close(case_id, last):
        if case_id is not None and last != statuses.get(case_id):
            problems.append(f"case {case_id}: last event leaves it {last!r}, the case is {statuses.get(case_id)!r}")

    events = CaseEvent.objects.order_by("case_id", "id").values_list("case_id", "id", "action", "from_status",
                                                                     "to_status")
    for case_id, event_id, action, from_status, to_status in events.iterator(chunk_size=5000):
        if case_id != current:
            close(current, previous)
            current, previous = case_id, None
            if action != Action.CREATED:
                problems.append(f"case {case_id}: first event {event_id} is {action!r}, not 'created'")
        elif from_status != previous:
            problems.append(f"case {case_id}: event {event_id} ({action}) starts from {from_status!r} "
                            f"but the previous event left {previous!r}")
        previous = to_status
        if len(problems) >= limit:
            return problems
    close(current, previous)
    missing = set(statuses) - set(CaseEvent.objects.values_list("case_id", flat=True).distinct())
    problems += [f"case {pk}: no events" for pk in sorted(missing)[: max(0, limit - len(problems))]]
    return problems[:limit]


def statistics_differences() -> list[str]:
    """Rows where the stored daily figures and a direct count disagree (all time, per village)."""
    stored = {r["key"]: r for r in selectors.rates(group_by="village", cases=None)}
    direct = {r["key"]: r for r in selectors.rates(group_by="village", cases=Case.objects.all())}
    out = []
    for key in sorted(set(stored) | set(direct), key=str):
        a, b = stored.get(key), direct.get(key)
        if a != b:
            out.append(f"village {key}: stored {a!r} ≠ direct {b!r}")
    return out


class Command(BaseCommand):
    help = "Check a restored database: counts per table, event chains, statistics = direct count."

    def add_arguments(self, parser):
        parser.add_argument("--write-counts", metavar="FILE", help="write the counts per table to FILE (JSON)")
        parser.add_argument("--expect", metavar="FILE", help="counts per table the database must have (JSON)")

    def handle(self, *args, write_counts=None, expect=None, **options):
        counts = table_counts()
        if write_counts:
            with open(write_counts, "w", encoding="utf-8") as fh:
                json.dump(counts, fh, indent=1, sort_keys=True)
        failures = []
        if expect:
            with open(expect, encoding="utf-8") as fh:
                wanted = json.load(fh)
            for table in sorted(set(wanted) | set(counts)):
                if wanted.get(table) != counts.get(table):
                    failures.append(f"{table}: {counts.get(table)} rows, expected {wanted.get(table)}")
        chains = broken_chains()
        failures += chains
        stats = statistics_differences()
        failures += stats
        self.stdout.write(f"{len(counts)} tables, {sum(counts.values())} rows; "
                          f"{Case.objects.count()} cases, event chains {'intact' if not chains else 'BROKEN'}; "
                          f"statistics {'equal to a direct count' if not stats else 'DIFFER'}")
        if failures:
            raise CommandError("restore check failed:\n" + "\n".join(failures))
