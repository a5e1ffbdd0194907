"""The grids app: the registry everything stands on — town, villages, micro-grids, cadres and their village
assignments — with roles and scope (``grids.scope``). The lowest layer: imports no other app of the project."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = _("网格")

    def ready(self):
        from . import auth  # noqa: F401 - connects the failed-login audit (user_login_failed)
