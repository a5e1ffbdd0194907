"""Routes of the cases API (mounted under ``/api/v1/`` by ``xiji_grid/api_urls.py``)."""
from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .channels import MyChannelViewSet
from .desk import AttachmentViewSet, CallbackQueueView, IntakeQueueView
from .geo import CaseGeoJSONView, CasePlaceView, HotspotGeoJSONView
from .stats import OverdueView, RatesView
from .text import (
    CaseDuplicatesView,
    CategorySearchView,
    CategorySuggestView,
    DraftDuplicatesView,
    HotspotViewSet,
    MergeDuplicateView,
    MonthlyTopicViewSet,
)
from .views import CaseViewSet, CategoryViewSet, NotificationViewSet, SlaPolicyViewSet

router = SimpleRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("categories", CategoryViewSet, basename="category")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("me/channels", MyChannelViewSet, basename="my-channel")
router.register("hotspots", HotspotViewSet, basename="hotspot")
router.register("topics", MonthlyTopicViewSet, basename="topic")

urlpatterns = [
    path("cases/geojson/", CaseGeoJSONView.as_view(), name="case-geojson"),  # before cases/{pk}/
    path("cases/<int:pk>/place/", CasePlaceView.as_view(), name="case-place"),
    path("hotspots/geojson/", HotspotGeoJSONView.as_view(), name="hotspot-geojson"),  # before hotspots/{pk}/
    # Before the router: its detail routes (categories/{pk}/, cases/{pk}/) would take these paths.
    path("categories/suggest/", CategorySuggestView.as_view(), name="category-suggest"),
    path("categories/search/", CategorySearchView.as_view(), name="category-search"),
    path("cases/duplicates/", DraftDuplicatesView.as_view(), name="case-draft-duplicates"),
    path("cases/<int:pk>/duplicates/", CaseDuplicatesView.as_view(), name="case-duplicates"),
    path("cases/<int:pk>/merge-duplicate/", MergeDuplicateView.as_view(), name="case-merge-duplicate"),
    path("", include("cases.interop.urls")),  # the upstream contract and delivery logs (issue 13)
    *router.urls,
    path("stats/rates/", RatesView.as_view(), name="stats-rates"),
    path("stats/overdue/", OverdueView.as_view(), name="stats-overdue"),
    path("queues/intake/", IntakeQueueView.as_view(), name="queue-intake"),
    path("queues/callback/", CallbackQueueView.as_view(), name="queue-callback"),
]
