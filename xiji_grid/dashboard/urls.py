"""URLs of the supervisor dashboard, in the ``web`` namespace composed by ``xiji_grid/web_urls.py``."""
from django.urls import path

from . import exports, report, views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/villages/<int:pk>/", views.dashboard_village, name="dashboard-village"),
    path("dashboard/export/<slug:table>.<slug:fmt>", exports.dashboard_export, name="dashboard-export"),
    path("dashboard/report/", report.monthly_report, name="dashboard-report"),
]
