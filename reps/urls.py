"""URLs of the reps app's web pages, in the ``web`` namespace composed by ``xiji_grid/web_urls.py``."""
from django.urls import path

from .views import deputies, visits

urlpatterns = [
    path("visits/", visits.visits, name="visits"),
    path("visits/<int:pk>/record/", visits.visit_record, name="visit-record"),
    path("demands/", deputies.demands, name="demands"),
    path("demands/<int:case_id>/do/<slug:step>/", deputies.demand_act, name="demand-act"),
]
