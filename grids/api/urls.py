"""Routes of the grid registry's API (mounted under ``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from rest_framework.routers import SimpleRouter

from .views import AssignmentViewSet, CadreViewSet, GridViewSet, VillageViewSet

router = SimpleRouter()
router.register("villages", VillageViewSet, basename="village")
router.register("grids", GridViewSet, basename="grid")
router.register("cadres", CadreViewSet, basename="cadre")
router.register("assignments", AssignmentViewSet, basename="assignment")

urlpatterns = router.urls
