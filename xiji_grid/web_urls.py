"""The web pages, namespace ``web``: each app's page URLs (no namespace of their own) put together, so a
page keeps its name (``web:case-detail``, ``web:visits``, ``web:dashboard`` …) whichever app serves it."""
from django.urls import include, path

app_name = "web"

urlpatterns = [
    path("", include("cases.urls")),  # start, login, workbench, log a case, case page, lists, intake, notifications
    path("", include("reps.urls")),  # weekly visits (and the deputies' pages)
    path("", include("xiji_grid.dashboard.urls")),  # the supervisor dashboard and its downloads
]
