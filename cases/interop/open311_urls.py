"""Routes of the Open311 GeoReport v2 server, mounted at ``/open311/v2/`` (each with an optional
``.json`` / ``.xml`` suffix)."""
from django.urls import re_path

from . import open311

FMT = r"(?:\.(?P<fmt>json|xml))?$"

urlpatterns = [
    re_path(r"^discovery" + FMT, open311.discovery_view, name="open311-discovery"),
    re_path(r"^services" + FMT, open311.services_view, name="open311-services"),
    re_path(r"^services/(?P<code>[0-9A-Za-z_-]+?)" + FMT, open311.definition_view, name="open311-definition"),
    re_path(r"^requests" + FMT, open311.requests_view, name="open311-requests"),
    re_path(r"^requests/(?P<number>[0-9A-Za-z_-]+?)" + FMT, open311.request_view, name="open311-request"),
    re_path(r"^tokens/(?P<token>[0-9A-Za-z_-]+?)" + FMT, open311.token_view, name="open311-token"),
]
