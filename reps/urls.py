"""URLs of the reps app's web pages, in the ``web`` namespace composed by ``xiji_grid/web_urls.py``."""
from django.urls import path

from .views import visits

urlpatterns = [
    path("visits/", visits.visits, name="visits"),
    path("visits/<int:pk>/record/", visits.visit_record, name="visit-record"),
]
