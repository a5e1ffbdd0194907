"""Village points as GeoJSON (issue 14): ``GET /api/v1/villages/geojson/``.

The villages in the caller's scope that have a point (23 of Xiji's 59 in the seed data), WGS-84 unless
``crs=gcj02|bd09``. Properties: id, code, name (short), kind.
"""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from grids import geo
from grids.models import Village

from .base import ScopedMixin, error_responses


class VillageFeatureCollection(serializers.Serializer):
    type = serializers.CharField(default="FeatureCollection")
    features = serializers.ListField(child=serializers.DictField())
    crs = serializers.CharField()


class VillageGeoJSONView(ScopedMixin, generics.GenericAPIView):
    """Placed villages in scope as a GeoJSON FeatureCollection."""

    queryset = Village.objects.none()
    serializer_class = VillageFeatureCollection
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[OpenApiParameter("crs", str, enum=list(geo.SYSTEMS),
                                                description="Coordinate system of the answer (default wgs84).")],
                   responses={200: VillageFeatureCollection, **error_responses(400, 401)})
    def get(self, request):
        crs = request.query_params.get("crs") or geo.WGS84
        if crs not in geo.SYSTEMS:
            raise serializers.ValidationError({"crs": [f"one of {', '.join(geo.SYSTEMS)}"]})
        villages = self.scope.villages(Village.objects.filter(lng__isnull=False, lat__isnull=False).order_by("code"))
        features = [geo.feature(v.lng, v.lat, {"id": v.pk, "code": v.code, "name": v.short_name, "kind": v.kind},
                                crs=crs, feature_id=v.pk) for v in villages]
        return Response({"type": "FeatureCollection", "features": features, "crs": crs})
