import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cases.interop.api import find_village
from cases.interop.upstream import create_system
from cases.models import ExternalSystem


class Command(BaseCommand):
    help = (
        "Register a system that calls the product with its own API key: an upstream 12345 platform (work orders "
        "in, signed feedback out to its webhook) or an Open311 client. Prints the new API key — only its SHA-256 "
        "is stored, so it is shown this once — on standard output, and nothing else there."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="short code, also the source system of its cases (tz12345)")
        parser.add_argument("name", help="display name (通州区12345平台)")
        parser.add_argument("--kind", choices=ExternalSystem.Kind.values, default=ExternalSystem.Kind.UPSTREAM)
        parser.add_argument("--webhook-url", default="", help="where feedback is posted (upstream platforms)")
        parser.add_argument("--webhook-secret", default="", help="shared HMAC-SHA256 secret of the feedback")
        parser.add_argument("--default-village", default="",
                            help="village (code or name) of its orders or requests that name none")

    def handle(self, *args, code, name, kind, webhook_url, webhook_secret, default_village, **options):
        village = None
        if default_village:
            village = find_village(default_village)
            if village is None:
                raise CommandError(f"unknown village {default_village!r}")
        try:
            system, key = create_system(code=code, name=name, kind=kind, webhook_url=webhook_url,
                                        webhook_secret=webhook_secret, default_village=village)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        sys.stderr.write(f"{system.kind} system {system.code} registered; its API key follows (shown once)\n")
        self.stdout.write(key)
