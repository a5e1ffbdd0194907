"""Routes of the grid registry's API (mounted under ``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from .geo import VillageGeoJSONView
from .views import AssignmentViewSet, CadreViewSet, GridViewSet, VillageViewSet

router = SimpleRouter()
router.register("villages", VillageViewSet, basename="village")
router.register("grids", GridViewSet, basename="grid")
router.register("cadres", CadreViewSet, basename="cadre")
router.register("assignments", AssignmentViewSet, basename="assignment")

urlpatterns = [
    path("villages/geojson/", VillageGeoJSONView.as_view(), name="village-geojson"),  # before villages/{pk}/
    *router.urls,
]
