"""URLs of the web pages (issue 6), namespace ``web``; mounted at the site root by ``xiji_grid/urls.py``."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html",
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("no-role/", views.no_role, name="no-role"),
    path("workbench/", views.workbench, name="workbench"),
    path("intake/", views.intake, name="intake"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/do/<slug:action>/", views.case_act, name="case-act"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications-read-all"),
    path("visits/", views.visits, name="visits"),
    path("visits/<int:pk>/record/", views.visit_record, name="visit-record"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/villages/<int:pk>/", views.dashboard_village, name="dashboard-village"),
    path("dashboard/export/<slug:table>.<slug:fmt>", views.dashboard_export, name="dashboard-export"),
]
