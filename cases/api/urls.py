"""Routes of the cases API (mounted under ``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from .channels import MyChannelViewSet
from .desk import AttachmentViewSet, CallbackQueueView, IntakeQueueView
from .geo import CaseGeoJSONView, CasePlaceView
from .stats import OverdueView, RatesView
from .views import CaseViewSet, CategoryViewSet, NotificationViewSet, SlaPolicyViewSet

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("categories", CategoryViewSet, basename="category")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("me/channels", MyChannelViewSet, basename="my-channel")

urlpatterns = [
    path("cases/geojson/", CaseGeoJSONView.as_view(), name="case-geojson"),  # before cases/{pk}/
    path("cases/<int:pk>/place/", CasePlaceView.as_view(), name="case-place"),
    *router.urls,
    path("stats/rates/", RatesView.as_view(), name="stats-rates"),
    path("stats/overdue/", OverdueView.as_view(), name="stats-overdue"),
    path("queues/intake/", IntakeQueueView.as_view(), name="queue-intake"),
    path("queues/callback/", CallbackQueueView.as_view(), name="queue-callback"),
]
