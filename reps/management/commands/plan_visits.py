from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reps.visits import WEEKDAY_NAMES, current_week, next_week, parse_iso_week, plan_week


class Command(BaseCommand):
    help = (
        "Plan the weekly village visits (走访接待日) of one or more ISO weeks and print them. Idempotent: "
        "visits that exist are kept and shown as 'existing'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--week", action="append", default=[], metavar="YYYY-Www",
                            help="an ISO week such as 2025-W41 (repeatable)")
        parser.add_argument("--current", action="store_true", help="the current week (Asia/Shanghai)")
        parser.add_argument("--next", action="store_true", help="next week (Asia/Shanghai)")
        parser.add_argument("--summary", action="store_true", help="one line per week, not one per visit")

    def handle(self, *args, week=(), current=False, next=False, summary=False, **options):
        now = timezone.now()
        weeks = []
        for text in week:
            try:
                year, number = parse_iso_week(text)
            except ValidationError as exc:
                raise CommandError(f"--week: {exc.message_dict['iso_week'][0]}") from exc
            weeks.append(f"{year}-W{number:02d}")
        if current:
            weeks.append(current_week(now))
        if next:
            weeks.append(next_week(now))
        if not weeks:
            raise CommandError("Give --week YYYY-Www, --current and/or --next.")
        verbosity = options.get("verbosity", 1)
        for label in dict.fromkeys(weeks):
            report = plan_week(label, now=now)
            if verbosity == 0:
                continue
            self.stdout.write(
                f"{report.iso_week} (Monday {report.monday}): {report.created} visits created, "
                f"{report.existing} existing, {report.not_due} assignments with no visit due."
            )
            if summary:
                continue
            for visit, created in report.visits:
                if visit.planned_date:
                    day = f"{visit.planned_date} {WEEKDAY_NAMES[visit.planned_date.weekday()]}"
                else:
                    day = "—" + " " * 12
                self.stdout.write(
                    f"  {day}  {visit.status:16} {visit.cadre.name} → {visit.village.short_name}"
                    f"{'' if created else '  (existing)'}"
                )
