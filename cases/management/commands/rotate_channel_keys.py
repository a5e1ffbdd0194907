"""``python manage.py rotate_channel_keys``: re-encrypt every stored channel URL with the first key of
``NOTIFY_CHANNEL_KEYS`` (after putting a new key first). Prints how many were rotated and how many could
not be decrypted with any key (those are left as they are, by id)."""
from django.core.management.base import BaseCommand

from cases.channels.crypto import ChannelKeyError, rotate
from cases.models import NotificationChannel


class Command(BaseCommand):
    help = "Re-encrypt stored notification channel URLs with the first NOTIFY_CHANNEL_KEYS key."

    def handle(self, *args, **options):
        rotated, unreadable = 0, []
        for channel in NotificationChannel.objects.exclude(url_token="").only("pk", "url_token").iterator():
            try:
                token = rotate(channel.url_token)
            except ChannelKeyError:
                unreadable.append(channel.pk)
                continue
            NotificationChannel.objects.filter(pk=channel.pk).update(url_token=token)
            rotated += 1
        self.stdout.write(f"rotated {rotated} channel URLs; unreadable: {len(unreadable)} {unreadable or ''}".rstrip())
