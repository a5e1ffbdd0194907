"""URLs of the grid registry served outside the API: the secret per-cadre calendar link."""
from django.urls import path

from . import views

app_name = "grids"

urlpatterns = [
    path("calendar/<slug:token>.ics", views.visit_calendar, name="visit-calendar"),
]
