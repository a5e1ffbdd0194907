"""URLs of the reps app's web pages, in the ``web`` namespace composed by ``xiji_grid/web_urls.py``."""
from django.urls import path

from .views import deputies, receptions, visits

urlpatterns = [
    path("visits/", visits.visits, name="visits"),
    path("visits/<int:pk>/record/", visits.visit_record, name="visit-record"),
    path("receptions/", receptions.receptions, name="receptions"),
    path("receptions/new/", receptions.reception_new, name="reception-new"),
    path("receptions/<int:pk>/record/", receptions.reception_record, name="reception-record"),
    path("demands/", deputies.demands, name="demands"),
    path("demands/<int:case_id>/do/<slug:step>/", deputies.demand_act, name="demand-act"),
]
