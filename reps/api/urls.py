"""Routes of the reps app's API (liaison stations, deputies, receptions, demands, weekly visits; mounted under
``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from rest_framework.routers import SimpleRouter

from .views import DemandViewSet, DeputyViewSet, ReceptionViewSet, StationViewSet
from .visits import VisitViewSet

router = SimpleRouter()
router.register("stations", StationViewSet, basename="station")
router.register("deputies", DeputyViewSet, basename="deputy")
router.register("receptions", ReceptionViewSet, basename="reception")
router.register("demands", DemandViewSet, basename="demand")
router.register("visits", VisitViewSet, basename="visit")  # weekly visits (issue 7)

urlpatterns = router.urls
