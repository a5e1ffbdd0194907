"""The cadre's secret calendar link of visits, served outside the API and the pages (no login). Its URL name
is ``grids:visit-calendar``: the namespace it was published under before the visits moved into this app,
kept so that every ``reverse()`` of it goes on working."""
from django.urls import path

from .views import calendar

app_name = "grids"

urlpatterns = [
    path("calendar/<slug:token>.ics", calendar.visit_calendar, name="visit-calendar"),
]
