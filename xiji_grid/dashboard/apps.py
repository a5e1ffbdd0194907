"""The supervisor dashboard as an installed app (its templates under ``templates/dashboard/``, its menu entry
and start page registered into :mod:`cases.pages`). Part of the project layer: may import every app."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "xiji_grid.dashboard"
    label = "dashboard"
    verbose_name = _("督办看板")

    def ready(self):
        from cases.pages import register_nav, register_start_page
        from grids.choices import Role

        from .views import DASHBOARD_ROLES

        register_nav("web:dashboard", _("督办看板"), order=30, visible=lambda s: s.has(*DASHBOARD_ROLES))
        register_start_page("web:dashboard", order=10, applies=lambda s: s.has(Role.SUPERVISOR, Role.ADMIN))
