from django.core.management.base import BaseCommand, CommandError

from reps.services import plan_receptions, plan_weeks


class Command(BaseCommand):
    help = (
        "Create the planned receptions of every active liaison station's regular reception day for the coming "
        "weeks (default: setting RECEPTION_PLAN_WEEKS, 4). Safe to run any number of times."
    )

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=int, default=None, help="Weeks ahead (default RECEPTION_PLAN_WEEKS).")

    def handle(self, *args, weeks=None, **options):
        if weeks is not None and weeks < 0:
            raise CommandError("--weeks must be 0 or more.")
        weeks = plan_weeks() if weeks is None else weeks
        created = plan_receptions(weeks=weeks)
        self.stdout.write(f"Planned receptions: {created} created for the coming {weeks} weeks.")
