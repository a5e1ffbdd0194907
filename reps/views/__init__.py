"""The web pages of the reps app, one module per page family: :mod:`.visits` — a town cadre's weekly visits
(走访接待日: the week's list, recording one) and its workbench section; :mod:`.receptions` — a station's
receptions (list, plan, record, raise a demand at one); :mod:`.deputies` — a deputy's demands. Rendered with :func:`cases.pages.page`; menu
entries and workbench sections are registered in :mod:`reps.apps`."""
