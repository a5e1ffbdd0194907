"""The REST API, version 1 (issue 5): everything under ``/api/v1/``."""
from django.urls import include, path

from grids.api.auth import ObtainTokenView

app_name = "api"

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("", include("grids.api.urls")),
    path("", include("cases.api.urls")),
    path("", include("reps.api.urls")),  # stations, deputies, receptions, demands (issue 8)
]
