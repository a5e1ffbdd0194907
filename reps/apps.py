"""The reps app: the people who go out to residents — town cadres' weekly village visits, people's-congress
deputies at their liaison stations — and the cases they raise. May import ``cases`` and ``grids``."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepsConfig(AppConfig):
    name = "reps"
    verbose_name = _("代表联络站")

    def ready(self):
        from . import signals  # noqa: F401  (feedback to the raising deputy when a case is resolved)

        _register_case_reach()
        _register_case_filters()
        _register_pages()


def _register_case_reach():
    """A deputy's scope holds the demands they raised (``reps.RaisedDemand``), besides the cases they logged."""
    from grids.choices import Role
    from grids.scope import register_case_reach

    from .scope import raised_demand_covers, raised_demands_q

    register_case_reach("reps.raised_demands", role=Role.DEPUTY, q=raised_demands_q, covers=raised_demand_covers)


def _register_case_filters():
    """``GET /api/v1/cases/?visit_id=`` — the cases raised at one visit (``reps.VisitCase``)."""
    from cases.filtersets import register_case_filter
    from grids.filtersets import IdFilter

    register_case_filter("visit_id", IdFilter(field_name="visit_link__visit_id",
                                              help_text="Cases raised at this weekly visit."))


def _register_pages():
    """The visits page in the menu (cadres), the demands page in the menu and as start page (deputies), the
    receptions page in the menu (deputies and the command centre), the visits section of the workbench,
    "log a case" from a visit or a reception and a deputy's demand on it (see :mod:`cases.pages`), and the
    station/deputy rows of the rates API."""
    from cases.choices import Source
    from cases.pages import (
        register_case_creator,
        register_case_origin,
        register_nav,
        register_start_page,
        register_workbench_panel,
    )
    from grids.choices import Role

    from .api import stats
    from .views.deputies import create_deputy_demand
    from .views.receptions import reception_origin
    from .views.visits import visit_origin, workbench_visits

    register_nav("web:visits", _("走访"), order=60, visible=lambda s: bool(s.cadre_id) and s.has(Role.CADRE))
    register_nav("web:demands", _("代表诉求"), order=45, visible=lambda s: s.has(Role.DEPUTY))
    register_nav("web:receptions", _("接待活动"), order=46,
                 visible=lambda s: s.has(Role.DEPUTY, Role.ADMIN, Role.DISPATCHER, Role.SUPERVISOR))
    register_start_page("web:demands", order=35, applies=lambda s: s.has(Role.DEPUTY))
    register_workbench_panel("reps/_workbench_visits.html", order=10, context=workbench_visits)
    register_case_origin("visit", visit_origin)
    register_case_origin("reception", reception_origin)
    register_case_creator(Source.DEPUTY, create_deputy_demand)
    stats.register()
