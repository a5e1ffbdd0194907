"""Routes of the liaison stations' API (mounted under ``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from rest_framework.routers import SimpleRouter

from .views import DemandViewSet, DeputyViewSet, ReceptionViewSet, StationViewSet

router = SimpleRouter()
router.register("stations", StationViewSet, basename="station")
router.register("deputies", DeputyViewSet, basename="deputy")
router.register("receptions", ReceptionViewSet, basename="reception")
router.register("demands", DemandViewSet, basename="demand")

urlpatterns = router.urls
