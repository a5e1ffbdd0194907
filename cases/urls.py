"""URLs of the cases app's web pages (issue 6), in the ``web`` namespace that ``xiji_grid/web_urls.py``
composes from every app's page URLs; mounted at the site root."""
from django.contrib.auth import views as auth_views
from django.urls import path

from grids.auth import LoginForm

from .views import case_new, case_page, channels, hotspots, intake, lists, notifications, start, workbench

urlpatterns = [
    path("", start.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", authentication_form=LoginForm,
                                                redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:login"), name="logout"),
    path("no-role/", start.no_role, name="no-role"),
    path("workbench/", workbench.workbench, name="workbench"),
    path("intake/", intake.intake, name="intake"),
    path("intake/bulk/", intake.intake_bulk, name="intake-bulk"),
    path("cases/", lists.case_list, name="case-list"),
    path("cases/export.<slug:fmt>", lists.case_export, name="case-export"),
    path("cases/new/", case_new.case_new, name="case-new"),
    path("cases/<int:pk>/", case_page.case_detail, name="case-detail"),
    path("cases/<int:pk>/do/<slug:action>/", case_page.case_act, name="case-act"),
    path("cases/<int:pk>/reveal-phone/", case_page.case_reveal_phone, name="case-reveal-phone"),
    path("cases/<int:pk>/attachments/", case_page.case_attach, name="case-attach"),
    path("cases/<int:pk>/print/", case_page.case_print, name="case-print"),
    path("hotspots/", hotspots.hotspot_list, name="hotspots"),
    path("hotspots/<int:pk>/", hotspots.hotspot_detail, name="hotspot-detail"),
    path("hotspots/<int:pk>/do/<slug:step>/", hotspots.hotspot_act, name="hotspot-act"),
    path("notifications/", notifications.notifications, name="notifications"),
    path("notifications/channels/", channels.channels, name="channels"),
    path("notifications/channels/add/", channels.channel_add, name="channel-add"),
    path("notifications/channels/<int:pk>/", channels.channel_change, name="channel-change"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/read-all/", notifications.notifications_read_all, name="notifications-read-all"),
]
