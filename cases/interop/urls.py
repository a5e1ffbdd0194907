"""Routes of the upstream contract, mounted under ``/api/v1/`` with the cases API."""
from django.urls import path

from .api import CaseDeliveriesView, OrderCallbackView, OrdersView, OrderView

urlpatterns = [
    path("upstream/orders/", OrdersView.as_view(), name="upstream-orders"),
    path("upstream/orders/<str:order>/", OrderView.as_view(), name="upstream-order"),
    path("upstream/orders/<str:order>/callback/", OrderCallbackView.as_view(), name="upstream-order-callback"),
    path("cases/<int:pk>/deliveries/", CaseDeliveriesView.as_view(), name="case-deliveries"),
]
