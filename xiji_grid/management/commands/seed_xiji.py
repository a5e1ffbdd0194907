"""``seed_xiji``: seed every app for Xiji in order — the grid registry (``grids``), then the category taxonomy
and SLA policies (``cases``). A project command because it spans the apps."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.seeding import seed_categories, seed_sla_policies
from grids.services import DEMO_PASSWORD, seed_xiji


class Command(BaseCommand):
    help = (
        "Load Xiji from seeds/: the town, 59 village-level units, 180 micro-grids, fictional cadres, "
        "the category taxonomy and the SLA policies."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Also create a login per fictional cadre and one per remaining role (refused in production).",
        )

    def handle(self, *args, demo=False, **options):
        if demo and settings.SETTINGS_MODULE.endswith(".production"):
            raise CommandError("--demo creates logins with a published password; it is refused under production settings.")
        report = seed_xiji(demo=demo)
        seed_sla_policies()
        categories = seed_categories()
        self.stdout.write(
            f"Xiji seeded: {report.villages} villages, {report.grids} micro-grids, "
            f"{report.cadres} cadres, {report.assignments} 包村 assignments, {categories} categories."
        )
        if report.created_logins:
            self.stdout.write(self.style.WARNING(f"Demo logins created (password for all: {DEMO_PASSWORD}):"))
            by_role: dict[str, list[str]] = {}
            for username, role in report.created_logins:
                by_role.setdefault(role, []).append(username)
            for role, names in by_role.items():
                shown = ", ".join(names[:4]) + (f", … ({len(names)} in all)" if len(names) > 4 else "")
                self.stdout.write(f"  {role:15} {shown}")
            self.stdout.write(
                "  Usernames: vl<last 3 digits of the village code> (village leader), gl<same>-<n> (grid "
                "leader), cadreNN (town cadre).\n"
                "  Change a password with: python manage.py changepassword USERNAME"
            )
