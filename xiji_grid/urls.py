"""Top-level URLs."""
from django.contrib import admin
from django.urls import include, path
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from grids.auth import AdminLoginForm
from xiji_grid import health, metrics_view

# The admin's header and <title> carry the product name (西集网格 / Xiji Grid), not "Django 管理".
admin.site.site_header = _("西集网格")
admin.site.site_title = _("西集网格")
admin.site.login_form = AdminLoginForm  # the shared failed-login throttle's lockout message (grids.auth)

class PlainYamlRenderer(OpenApiYamlRenderer):
    """The schema as YAML under ``text/plain``: a browser shows it instead of downloading it (issue 16 §9)."""

    media_type = "text/plain"
    charset = "utf-8"
    format = "yaml-text"


class ReadableSchemaView(SpectacularAPIView):
    """``/api/schema/``: the OpenAPI schema; a browser (``Accept: text/html``) gets readable YAML as text,
    clients asking for ``application/vnd.oai.openapi(+json)`` or ``?format=json`` get what they ask."""

    renderer_classes = [PlainYamlRenderer, *SpectacularAPIView.renderer_classes]

    def perform_content_negotiation(self, request, force=False):
        accept = request.META.get("HTTP_ACCEPT", "")
        if "text/html" in accept and not request.query_params.get("format"):
            return PlainYamlRenderer(), "text/plain"
        return super().perform_content_negotiation(request, force)

    def _get_schema_response(self, request):
        """drf-spectacular's answer with a valid ``Content-Disposition``: the title is Chinese (西集网格), which
        Django would send as a MIME encoded word that no browser reads; RFC 6266's ``filename*`` instead."""
        response = super()._get_schema_response(request)
        version = self.api_version or request.version or self._get_version_parameter(request)
        name = self._get_filename(request, version).replace(".yaml-text", ".yaml")
        response.headers["Content-Disposition"] = content_disposition_header(False, name)
        return response


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),  # liveness, no login (xiji_grid/health.py)
    path("readyz", health.readyz, name="readyz"),  # readiness: database, migrations, broker, cache
    path("metrics", metrics_view.metrics, name="metrics"),  # Prometheus, token or admin (xiji_grid/metrics_view.py)
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("xiji_grid.api_urls")),
    path("api/schema/", ReadableSchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("open311/v2/", include("cases.interop.open311_urls")),  # Open311 GeoReport v2 (issue 13)
    path("", include("reps.calendar_urls")),  # /calendar/<token>.ics (URL name grids:visit-calendar)
    path("", include("xiji_grid.web_urls")),  # the web pages of every app (namespace ``web``)
]

handler404 = "xiji_grid.health.not_found"  # JSON under /api/, the friendly page elsewhere
handler403 = "cases.views.start.permission_denied"  # the refusal with the user's own menu
