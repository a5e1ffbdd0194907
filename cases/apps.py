"""The cases app: citizen demands and their lifecycle, deadlines, statistics, imports, notifications, and the
pages of the command centre. May import ``grids`` only; upper apps extend it through registries."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("诉求")

    def ready(self):
        _register_pages()
        from . import hooks
        from .interop.feedback import record_feedback

        hooks.on_event(record_feedback)  # feedback steps of upstream work orders (issue 13)


def _register_pages():
    """The cases app's own menu entries and start pages (see :mod:`cases.pages`)."""
    from grids.choices import Role
    from grids.scope import LOCAL_ROLES

    from .pages import register_nav, register_start_page

    register_nav("web:workbench", _("工作台"), order=10, visible=lambda s: s.has(*LOCAL_ROLES))
    register_nav("web:intake", _("受理队列"), order=20,
                 visible=lambda s: s.has(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN))
    register_nav("web:case-new", _("登记诉求"), order=40, visible=lambda s: bool(s.roles - {Role.DEPUTY}))
    register_nav("web:case-list", _("诉求列表"), order=50, visible=lambda s: bool(s.roles))
    register_nav("web:hotspots", _("高频难点"), order=55,
                 visible=lambda s: s.has(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN))
    register_start_page("web:intake", order=20, applies=lambda s: s.has(Role.DISPATCHER))
    register_start_page("web:workbench", order=30, applies=lambda s: s.has(*LOCAL_ROLES))
    register_start_page("web:case-list", order=40, applies=lambda s: s.has(Role.DEPUTY))
