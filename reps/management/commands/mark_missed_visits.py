from django.core.management.base import BaseCommand

from reps.visits import mark_missed


class Command(BaseCommand):
    help = (
        "Mark every planned visit whose day is past (Asia/Shanghai) as missed and notify the supervisors, as the "
        "nightly task does (reps.visits.mark_missed). bin/run runs it at start-up, so weeks that passed while "
        "the product was down are marked at once. Safe to run any number of times: nothing is marked or "
        "notified twice."
    )

    def handle(self, *args, **options):
        report = mark_missed()
        self.stdout.write(f"Missed visits: {report.marked} marked, {report.notified} notifications.")
