"""Read-only API of the grid registry, scoped by :mod:`grids.scope` (an object outside scope is a 404).

The registry is edited in the Django admin; the API lists and shows it.
"""
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from grids.filtersets import AssignmentFilterSet, CadreFilterSet, GridFilterSet, VillageFilterSet
from grids.models import Cadre, Grid, Village, VillageAssignment
from grids.scope import local_today

from .base import ScopedMixin, error_responses
from .serializers import AssignmentSerializer, CadreSerializer, GridSerializer, VillageSerializer

_READ_ERRORS = error_responses(401, 404)


def _documented(tag: str, noun: str, serializer):
    return extend_schema_view(
        list=extend_schema(tags=[tag], summary=f"List {noun} in your scope",
                           responses={200: serializer, **error_responses(400, 401)}),
        retrieve=extend_schema(tags=[tag], summary=f"One of the {noun} in your scope",
                               responses={200: serializer, **_READ_ERRORS}),
    )


@_documented("registry", "villages", VillageSerializer)
class VillageViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Village-level units (村 / 社区)."""

    serializer_class = VillageSerializer
    filterset_class = VillageFilterSet

    def get_queryset(self):
        qs = Village.objects.select_related("chief_grid_leader").order_by("code")
        return self.scope.villages(qs)


@_documented("registry", "micro-grids", GridSerializer)
class GridViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Micro-grids (微网格)."""

    serializer_class = GridSerializer
    filterset_class = GridFilterSet

    def get_queryset(self):
        qs = (Grid.objects.select_related("village", "leader")
              .prefetch_related(Prefetch("members", queryset=Cadre.objects.only("pk")))
              .order_by("code"))
        return self.scope.grids(qs)


@_documented("registry", "cadres", CadreSerializer)
class CadreViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Cadres (干部) who work cases."""

    serializer_class = CadreSerializer
    filterset_class = CadreFilterSet

    def get_queryset(self):
        qs = Cadre.objects.select_related("village").order_by("level", "name", "pk")
        return self.scope.cadres(qs, today=local_today(self.now))


@_documented("registry", "village assignments (包村)", AssignmentSerializer)
class AssignmentViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Town cadres' standing assignments to villages (包村)."""

    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilterSet

    def get_queryset(self):
        qs = VillageAssignment.objects.select_related("cadre", "village").order_by("village__code", "start_date",
                                                                                  "pk")
        return self.scope.assignments(qs)
