"""Cases on the map (issue 14): GeoJSON of the cases in scope, and setting a case's place.

``GET /api/v1/cases/geojson/`` answers an RFC 7946 FeatureCollection of the placed cases in the caller's
scope, with every filter of the case list (``status``, ``overdue``, ``village_id`` …, and ``bbox``).
Coordinates are WGS-84 unless ``crs=gcj02|bd09`` asks for the system of the tiles they are drawn on.
``POST /api/v1/cases/{id}/place/`` sets the place (``lng``, ``lat``, ``crs``, ``source``: ``map`` or ``gps``).
"""
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from cases import rules
from cases.boundary import open_past
from cases.filtersets import CaseFilterSet
from cases.importing import mask_personal_data
from cases.models import Case, Hotspot
from cases.places import set_place
from grids import geo
from grids.api.base import ScopedMixin, error_responses

from ..text.topics import hotspots_in_scope
from .errors import Forbidden
from .serializers import CaseSerializer

CRS_CHOICES = [(geo.WGS84, "WGS-84"), (geo.GCJ02, "GCJ-02 (AMap, Tencent)"), (geo.BD09, "BD-09 (Baidu)")]
CRS_PARAMETER = OpenApiParameter("crs", str, enum=list(geo.SYSTEMS),
                                 description="Coordinate system of the answer (default wgs84).")


def requested_crs(request) -> str:
    """The ``crs`` query parameter (default ``wgs84``); raises a 400 for an unknown system."""
    crs = request.query_params.get("crs") or geo.WGS84
    if crs not in geo.SYSTEMS:
        raise serializers.ValidationError({"crs": [f"one of {', '.join(geo.SYSTEMS)}"]})
    return crs


class FeatureCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = serializers.ListField(child=serializers.DictField())
    crs = serializers.CharField(help_text="wgs84, gcj02 or bd09")
    truncated = serializers.BooleanField(help_text="More cases matched than MAP_MAX_FEATURES")


def case_feature(case: Case, *, now, crs: str) -> dict:
    """One case as a GeoJSON Feature: number, masked title, status, urgency, village, ``overdue`` (open
    and past a deadline it has not met at ``now``), and the case page's path."""
    overdue = case.is_open and (open_past(case.responded_at, case.respond_due_at, now)
                                or open_past(case.resolved_at, case.resolve_due_at, now))
    return geo.feature(case.lng, case.lat, {
        "id": case.pk, "number": case.number, "title": mask_personal_data(case.title),
        "status": case.status, "status_label": case.get_status_display(), "urgency": case.urgency,
        "village": case.village.short_name, "overdue": bool(overdue),
        "url": reverse("web:case-detail", args=[case.pk]),
    }, crs=crs, feature_id=case.pk)


class CaseGeoJSONView(ScopedMixin, generics.GenericAPIView):
    """Placed cases in scope as GeoJSON (at most ``MAP_MAX_FEATURES``, newest first)."""

    filterset_class = CaseFilterSet
    queryset = Case.objects.none()
    serializer_class = FeatureCollectionSerializer
    pagination_class = None

    def get_queryset(self):
        qs = Case.objects.select_related("village").filter(lng__isnull=False, lat__isnull=False)
        return self.scope.cases(qs).order_by("-received_at", "-pk")

    @extend_schema(parameters=[CRS_PARAMETER], responses={200: FeatureCollectionSerializer,
                                                          **error_responses(400, 401)})
    def get(self, request):
        crs = requested_crs(request)
        limit = settings.MAP_MAX_FEATURES
        cases = list(self.filter_queryset(self.get_queryset())[:limit + 1])
        features = [case_feature(c, now=self.now, crs=crs) for c in cases[:limit]]
        return Response({"type": "FeatureCollection", "features": features, "crs": crs,
                         "truncated": len(cases) > limit})


class PlaceInput(serializers.Serializer):
    lng = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    crs = serializers.ChoiceField(choices=CRS_CHOICES, default=geo.WGS84)
    source = serializers.ChoiceField(choices=[("map", "tap on the map"), ("gps", "the phone's location")],
                                     default="map")
    accuracy_m = serializers.FloatField(min_value=0, required=False, allow_null=True,
                                        help_text="The phone's reported accuracy in metres")


class CasePlaceView(ScopedMixin, generics.GenericAPIView):
    """Set a case's place (handlers in scope and the command centre); answers the updated case."""

    queryset = Case.objects.none()
    serializer_class = PlaceInput

    @extend_schema(request=PlaceInput, responses={200: CaseSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        data = PlaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            case = get_object_or_404(self.scope.cases(Case.objects.select_for_update(of=("self",))), pk=pk)
            if not rules.can(self.scope, "place", case):
                raise Forbidden(rules.denial_detail("place"))
            set_place(case, actor=request.user, now=self.now, **data.validated_data)
        case = Case.objects.select_related("village", "grid", "category", "handler").get(pk=pk)
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data)


class HotspotGeoJSONView(ScopedMixin, generics.GenericAPIView):
    """Active hotspots in scope as GeoJSON Points at their village's point, ``properties.heat`` their heat
    index (issue 11), for the dashboard map's heat layer. Hotspots whose village has no point are left out."""

    queryset = Case.objects.none()
    serializer_class = FeatureCollectionSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[CRS_PARAMETER], responses={200: FeatureCollectionSerializer,
                                                          **error_responses(400, 401)})
    def get(self, request):
        crs = requested_crs(request)
        qs = Hotspot.objects.select_related("village").filter(active=True, village__lng__isnull=False,
                                                              village__lat__isnull=False).order_by("-heat", "id")
        features = [geo.feature(h.village.lng, h.village.lat, {
            "id": h.pk, "title": mask_personal_data(h.title), "heat": h.heat, "cases": h.case_count,
            "village": h.village.short_name}, crs=crs, feature_id=h.pk)
            for h in hotspots_in_scope(self.scope, qs).distinct()[:settings.MAP_MAX_FEATURES] if h.heat > 0]
        return Response({"type": "FeatureCollection", "features": features, "crs": crs, "truncated": False})
