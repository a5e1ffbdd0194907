"""Import throughput through the column-map profiles, and Boston's on-time agreement (issue 13).

Usage (from the repository root)::

    .venv/bin/python bench/bench_import_profiles.py [--data ../shared/data]

Uses ``DATABASE_URL`` when set, otherwise a private PostgreSQL from the virtualenv (``pgserver``), in a
fresh database of its own (``test_<name>``) that it creates and drops, so it never touches existing data.

In one process, on the same freshly seeded town (59 villages, 180 grids, the 650-node taxonomy):

1. **Baseline**: the first 1,000 rows of the message-board file ``messages_with_replies_2816.csv``
   (profile ``message_board``, the first release's column set): parse (``plan_import``) and full import
   (parse + replay through the lifecycle services, one transaction).
2. **NYC**: the 1,000 rows of ``open311/nyc311_1000_2014-2019.csv`` (profile ``nyc311``), the same two
   measurements. Prints rows/s for each and the ratio NYC / baseline.
3. **Boston**: imports ``open311/boston311_100_2022.csv`` and compares the product's on-time verdict with
   the file's ``ontime`` on every row (closed: resolved after its deadline = late; open: past its deadline =
   late; no deadline = never late), printing the agreement.
"""
import argparse
import csv
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def measure(path: Path, *, label: str, **kwargs) -> dict:
    """Parse, then import ``path``; returns rows, seconds and rows/s of each."""
    from cases.importing import import_file, plan_import

    clock = time.perf_counter()
    plan = plan_import(path, **kwargs)
    parse = time.perf_counter() - clock
    clock = time.perf_counter()
    report = import_file(path, skip_invalid=True, **kwargs)
    full = time.perf_counter() - clock
    written = len(report.plan.records) if report.written else 0
    figures = {"rows": plan.rows, "written": written, "faults": len(plan.faults), "parse_s": parse, "full_s": full,
               "parse_rps": plan.rows / parse, "full_rps": written / full if written else 0.0}
    print(f"  {label:<34} {plan.rows:5d} rows, {written:5d} written, {len(plan.faults):3d} faults   "
          f"parse {parse:6.2f} s = {figures['parse_rps']:8.0f} rows/s   "
          f"import {full:6.1f} s = {figures['full_rps']:6.1f} rows/s")
    return figures


def boston_agreement(path: Path) -> tuple[int, int, dict]:
    from cases.importing import import_file
    from cases.models import Case

    import_file(path)
    cases = {c.external_ref: c for c in Case.objects.filter(source_system="boston311")}
    now = timezone.now()
    agree = disagree = 0
    tally = {"closed on time": 0, "closed late": 0, "closed, no deadline": 0, "open late": 0, "open, not late": 0}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            case = cases[row["case_enquiry_id"]]
            if row["case_status"] == "Closed":
                late = case.resolved_on_time is False
                tally["closed, no deadline" if case.resolve_due_at is None else
                      "closed late" if late else "closed on time"] += 1
            else:
                late = case.resolve_due_at is not None and case.resolve_due_at < now
                tally["open late" if late else "open, not late"] += 1
            agree, disagree = (agree + 1, disagree) if late == (row["ontime"] == "OVERDUE") else (agree, disagree + 1)
    return agree, disagree, tally


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XIJI_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
    args = parser.parse_args(argv)
    data = Path(args.data)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        import tempfile

        from cases.seeding import seed_categories, seed_sla_policies
        from grids.services import seed_xiji

        seed_sla_policies()
        seed_categories()
        seed_xiji()
        print(f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}")
        with tempfile.TemporaryDirectory() as tmp:
            baseline = Path(tmp) / "messages_1000.csv"
            with (data / "complaints/tipdm2020c/messages_with_replies_2816.csv").open(encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
            with baseline.open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh).writerows(rows[:1001])
            base = measure(baseline, label="baseline: message_board, 1,000 rows")
            nyc = measure(data / "open311/nyc311_1000_2014-2019.csv", label="nyc311 CSV")
        print(f"  ratio NYC / baseline: parse ×{nyc['parse_rps'] / base['parse_rps']:.2f}, "
              f"import ×{nyc['full_rps'] / base['full_rps']:.2f}")
        agree, disagree, tally = boston_agreement(data / "open311/boston311_100_2022.csv")
        print(f"\nBoston on-time agreement: {agree} of {agree + disagree} rows agree with the file's ontime "
              f"({', '.join(f'{k} {v}' for k, v in tally.items())})")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
