import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.choices import CaseKind, Source
from cases.importing import ImportRefused, import_file
from cases.interop.profiles import shipped_ids


class Command(BaseCommand):
    help = (
        "Import citizen demands from a CSV, XLSX or JSON file or URL (format read from the content) through a "
        "column-map profile, and replay them through the lifecycle on their historical clock. Profiles: the "
        "message board (留言编号, 留言时间, 留言主题, …) and hotline (工单编号, 受理时间, …) sets, recognised by "
        "the header like every shipped profile, or --profile NAME_OR_FILE; --format open311 reads GeoReport v2 "
        "requests.json with --mapping (service codes → categories). Nothing is written when any row is bad, "
        "unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV, XLSX or JSON file, or an http(s):// URL")
        parser.add_argument("--format", dest="file_format", choices=["auto", "open311"], default="auto",
                            help="open311: GeoReport v2 requests.json (the shipped open311 profile)")
        parser.add_argument("--profile", help=f"a shipped profile ({', '.join(shipped_ids())}) or a profile file")
        parser.add_argument("--mapping", help="Open311 mapping file (service_code → taxonomy path, system, time zone), "
                                              "or a shipped one: sf_open311_services")
        parser.add_argument("--system", help="source system of the records (default: the profile's)")
        parser.add_argument("--source", choices=Source.values,
                            help="source of the cases (default: the profile's; online for message-board files, "
                                 "hotline for the hotline set)")
        parser.add_argument("--kind", choices=CaseKind.values,
                            help="kind of the cases where the file gives none (default: complaint)")
        parser.add_argument("--dry-run", action="store_true", help="check and count only; write nothing")
        parser.add_argument("--skip-invalid", action="store_true", help="write the good rows even if some are bad")
        parser.add_argument("--replay", dest="method", action="store_const", const="replay", default="bulk",
                            help="run each record through the lifecycle services one by one, the whole file in "
                                 "one transaction (default: the bulk fold, written in chunks of 2,000, which "
                                 "gives the same rows; an interrupted bulk import is resumed by running it again)")

    def handle(self, *args, path, source=None, kind=None, dry_run=False, skip_invalid=False, file_format="auto",
               profile=None, mapping=None, system=None, method="bulk", **options):
        now = timezone.now()
        bar = None
        if sys.stderr.isatty() and not dry_run:
            from tqdm import tqdm

            bar = tqdm(unit=" cases", desc="import", file=sys.stderr, leave=False)
        try:
            report = import_file(path, source=source, kind=kind, dry_run=dry_run, skip_invalid=skip_invalid,
                                 now=now, progress=bar.update if bar is not None else None, profile=profile,
                                 file_format=None if file_format == "auto" else file_format, mapping=mapping,
                                 system=system, method=method)
        except ImportRefused as exc:
            raise CommandError(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        for fault in report.plan.faults:
            self.stderr.write(str(fault))
        if report.written:
            # The import has committed: store the daily statistics of the imported days.
            from cases.selectors import days_of_cases, refresh_daily_stats

            refresh_daily_stats(days=days_of_cases(report.replay.case_ids))
        self.stdout.write(("dry run: " if dry_run else "") + report.summary())
        if not dry_run:  # the /metrics counters (cases.metrics): rows written, rows refused
            from cases import metrics

            metrics.increment(import_rows=len(report.plan.records) if report.written else 0,
                              import_bad_rows=report.plan.bad_rows)
        if report.plan.faults and not skip_invalid and not dry_run:
            raise CommandError(f"{report.plan.bad_rows} bad rows: nothing written (use --skip-invalid to write "
                               f"the good rows)")
