"""The reps app: the people who go out to residents — town cadres' weekly village visits, people's-congress
deputies at their liaison stations — and the cases they raise. May import ``cases`` and ``grids``."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepsConfig(AppConfig):
    name = "reps"
    verbose_name = _("代表联络站")

    def ready(self):
        from . import signals  # noqa: F401  (feedback to the raising deputy when a case is resolved)

        _register_pages()


def _register_pages():
    """The visits page in the menu (cadres) and the visits section of the workbench (see :mod:`cases.pages`)."""
    from cases.pages import register_nav, register_workbench_panel
    from grids.choices import Role

    from .views.visits import workbench_visits

    register_nav("web:visits", _("走访"), order=60, visible=lambda s: bool(s.cadre_id) and s.has(Role.CADRE))
    register_workbench_panel("reps/_workbench_visits.html", order=10, context=workbench_visits)
