from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepsConfig(AppConfig):
    name = "reps"
    verbose_name = _("代表联络站")

    def ready(self):
        from . import signals  # noqa: F401  (feedback to the raising deputy when a case is resolved)
