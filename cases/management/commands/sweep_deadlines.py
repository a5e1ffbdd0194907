import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.heartbeat import run_sweep


class Command(BaseCommand):
    help = "Record every response/resolve warning and breach due now (or at --now), once each."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO-8601 time to sweep at; without a zone it is Asia/Shanghai.")

    def handle(self, *args, now=None, **options):
        moment = None
        if now:
            try:
                moment = dt.datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO-8601 time: {now!r}") from exc
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, timezone.get_default_timezone())
        report = run_sweep(moment, trigger="command")  # stamped like a scheduled run (cases.heartbeat)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))
