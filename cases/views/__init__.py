"""The web pages of the cases app (issue 6; DESIGN §1, §9), one module per page family:

- :mod:`.start` — ``/`` (the start page of the user's roles), the page of a login without a role, and the
  403 and 404 pages with the user's menu;
- :mod:`.workbench` — the grid leader's workbench with its live countdowns;
- :mod:`.case_new` — log a case (登记), on the spot too;
- :mod:`.case_page` — one case: facts, deadlines, timeline and the actions the user may take now;
- :mod:`.lists` — the case list and the dispatcher's intake queue;
- :mod:`.notifications` — my notifications.

Plain Django views over the same pieces the API uses: every read is narrowed by the user's scope
(:func:`grids.scope.request_scope`; an object outside it is a 404), who may act comes from
:func:`cases.rules.can`, and every change is one call of ``cases.services`` (no view sets a status). Shared
page helpers (the renderer, menu, start pages, input parsing, periods) are in :mod:`cases.pages`; pages of
the apps above live with them (``reps.views``, ``xiji_grid.dashboard``).
"""
