import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from cases.selectors import refresh_daily_stats


class Command(BaseCommand):
    help = (
        "Rebuild the stored daily statistics (DailyStat) from the cases: all of them, or with --since the "
        "days from DATE on (plus any day whose cases changed since the last refresh)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="first day to rebuild, YYYY-MM-DD (Asia/Shanghai)")

    def handle(self, *args, since=None, **options):
        day = None
        if since:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                raise CommandError(f"--since: not a date YYYY-MM-DD: {since!r}") from None
        started = time.monotonic()
        result = refresh_daily_stats(since=day, full=day is None)
        self.stdout.write(
            f"daily statistics {'rebuilt' if result['full'] else 'refreshed'}: {result['days']} days, "
            f"{result['rows']} rows in {time.monotonic() - started:.1f} s"
        )
