from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reps.seeding import SeedError, seed_stations


class Command(BaseCommand):
    help = (
        "Load the five featured liaison stations (代表联络站), their partner platforms and their fictional "
        "deputies from seeds/stations.csv and seeds/deputies.csv (illustrative data). Run seed_xiji first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo", action="store_true",
            help="Make the demo login 'deputy' (from seed_xiji --demo) the first station's first deputy.",
        )

    def handle(self, *args, demo=False, **options):
        if demo and settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError("--demo links a demo login with a published password; refused under production settings.")
        try:
            report = seed_stations(demo=demo)
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Liaison stations seeded: {report.stations} stations, {report.partners} partner platforms, "
            f"{report.deputies} deputies (illustrative data)."
        )
        if report.demo_login:
            self.stdout.write(f"  Demo login '{report.demo_login}' is the first station's first deputy.")
