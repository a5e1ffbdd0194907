"""The liaison stations' API (issue 8 §6): stations, deputies, receptions (create, record, cancel, raise a
demand) and deputy-raised cases with their five-step loop.

Views declare queryset, serializer, filterset; what a user sees comes from ``reps.selectors`` over the
caller's :class:`grids.scope.Scope` (outside it: 404), who may act from :func:`reps.scope.may_run_reception` (403), every state
change from ``reps.services`` (409 when the state does not allow it, 400 for bad input). The request's clock
(``self.now``) is passed to the services.

Who may act on receptions: the town-wide roles (admin, dispatcher, supervisor) at every station; a deputy
at their own station and at receptions they are on duty at. A deputy raises demands as themself; the
command centre names the raising deputy. Only the raising deputy follows up and evaluates (DESIGN §8).
"""
from django.db.models import Count, Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.api.errors import Forbidden
from cases.api.serializers import ReasonInput
from cases.models import Case, CaseEvent
from grids.api.base import ScopedMixin, error_responses
from grids.choices import Role
from grids.models import Village
from reps import selectors, services
from reps.filtersets import DemandFilterSet, DeputyFilterSet, ReceptionFilterSet, StationFilterSet
from reps.models import Deputy, LiaisonStation, RaisedDemand, Reception
from reps.scope import may_run_reception

from .serializers import (
    DemandInput,
    DemandSerializer,
    DeputyCaseSerializer,
    DeputySerializer,
    DeputyStatsSerializer,
    EvaluateInput,
    FollowUpInput,
    ReceptionCreateInput,
    ReceptionSerializer,
    RecordInput,
    StationSerializer,
    StationStatsSerializer,
    StatsQuery,
)

_READ = error_responses(401, 404)
_ACT = error_responses(400, 401, 403, 404, 409)

_ORDERED_EVENTS = Prefetch("events", queryset=CaseEvent.objects.order_by("at", "id"))


def _validated(serializer_class, data, context) -> dict:
    ser = serializer_class(data=data, context=context)
    ser.is_valid(raise_exception=True)
    return dict(ser.validated_data)


def deputy_case(case_id: int) -> Case:
    """One case loaded for :class:`DeputyCaseSerializer` (relations and ordered events prefetched)."""
    return (Case.objects.select_related("village", "grid", "category", "handler", "raised_demand__deputy",
                                        "raised_demand__station")
            .prefetch_related(_ORDERED_EVENTS).get(pk=case_id))


def _stats_params(request) -> dict:
    return _validated(StatsQuery, request.query_params, {})


@extend_schema_view(
    list=extend_schema(tags=["liaison stations"], summary="List liaison stations",
                       responses={200: StationSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["liaison stations"], summary="One liaison station",
                           responses={200: StationSerializer, **_READ}),
)
class StationViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Deputies' liaison stations (代表联络站): reference data every role reads; a deputy sees their own."""

    serializer_class = StationSerializer
    filterset_class = StationFilterSet

    def get_queryset(self):
        qs = (LiaisonStation.objects.select_related("village")
              .prefetch_related("partners", "deputies", Prefetch("villages_served", Village.objects.only("pk")))
              .order_by("code"))
        return selectors.stations_in_scope(self.scope, qs)

    @extend_schema(tags=["liaison stations"], summary="Figures of each station's deputy-raised demands",
                   parameters=[StatsQuery], responses={200: StationStatsSerializer(many=True),
                                                       **error_responses(400, 401)})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request):
        visible = set(self.get_queryset().values_list("pk", flat=True))
        rows = [r for r in selectors.station_stats(**_stats_params(request)) if r["station_id"] in visible]
        return Response(StationStatsSerializer(rows, many=True).data)


@extend_schema_view(
    list=extend_schema(tags=["liaison stations"], summary="List deputies",
                       responses={200: DeputySerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["liaison stations"], summary="One deputy", responses={200: DeputySerializer, **_READ}),
)
class DeputyViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """People's-congress deputies (人大代表); a deputy sees those of their own station."""

    serializer_class = DeputySerializer
    filterset_class = DeputyFilterSet

    def get_queryset(self):
        qs = Deputy.objects.select_related("station").order_by("station__code", "code")
        return selectors.deputies_in_scope(self.scope, qs)

    @extend_schema(tags=["liaison stations"], summary="Figures of each deputy's raised demands",
                   parameters=[StatsQuery], responses={200: DeputyStatsSerializer(many=True),
                                                       **error_responses(400, 401)})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request):
        visible = set(self.get_queryset().values_list("pk", flat=True))
        rows = [r for r in selectors.deputy_stats(**_stats_params(request)) if r["deputy_id"] in visible]
        return Response(DeputyStatsSerializer(rows, many=True).data)


@extend_schema_view(
    list=extend_schema(tags=["liaison stations"], summary="List receptions in your scope",
                       responses={200: ReceptionSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["liaison stations"], summary="One reception",
                           responses={200: ReceptionSerializer, **_READ}),
    create=extend_schema(tags=["liaison stations"], summary="Plan an extra reception", request=ReceptionCreateInput,
                         responses={201: ReceptionSerializer, **error_responses(400, 401, 403)}),
)
class ReceptionViewSet(ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       viewsets.GenericViewSet):
    """Reception sessions (接待) of the stations; regular ones are planned by the beat task."""

    serializer_class = ReceptionSerializer
    filterset_class = ReceptionFilterSet

    def get_queryset(self):
        qs = (Reception.objects.select_related("station").prefetch_related("deputies")
              .annotate(demand_count=Count("demands")).order_by("starts_at", "station__code", "pk"))
        return selectors.receptions_in_scope(self.scope, qs)

    def _answer(self, reception, status_code=status.HTTP_200_OK):
        reception = (Reception.objects.select_related("station").prefetch_related("deputies")
                     .annotate(demand_count=Count("demands")).get(pk=reception.pk))
        return Response(ReceptionSerializer(reception, context=self.get_serializer_context()).data,
                        status=status_code)

    def _reception_to_run(self) -> Reception:
        reception = self.get_object()
        if not may_run_reception(self.scope, station_id=reception.station_id, reception=reception):
            raise Forbidden("只有指挥中心、督办或本站代表可以操作本次接待。")
        return reception

    def create(self, request, *args, **kwargs):
        if not (self.scope.town_wide or Role.DEPUTY in self.scope.roles):
            raise Forbidden("只有指挥中心、督办或人大代表可以安排接待。")
        data = _validated(ReceptionCreateInput, request.data, self.get_serializer_context())
        if not may_run_reception(self.scope, station_id=data["station"].pk):
            raise serializers.ValidationError({"station": ["只能为本人所在的代表联络站安排接待。"]})
        reception = services.create_reception(actor=request.user, now=self.now, **data)
        return self._answer(reception, status.HTTP_201_CREATED)

    @extend_schema(tags=["liaison stations"], summary="Record the reception as held (接待记录)", request=RecordInput,
                   responses={200: ReceptionSerializer, **_ACT})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def record(self, request, pk=None):
        reception = self._reception_to_run()
        data = _validated(RecordInput, request.data, self.get_serializer_context())
        return self._answer(services.record_reception(reception, actor=request.user, now=self.now, **data))

    @extend_schema(tags=["liaison stations"], summary="Cancel a planned reception", request=ReasonInput,
                   responses={200: ReceptionSerializer, **_ACT})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request, pk=None):
        reception = self._reception_to_run()
        data = _validated(ReasonInput, request.data, self.get_serializer_context())
        return self._answer(services.cancel_reception(reception, actor=request.user, now=self.now, **data))

    @extend_schema(methods=["GET"], tags=["liaison stations"], summary="Demands raised at this reception",
                   responses={200: DemandSerializer(many=True), **_READ})
    @extend_schema(methods=["POST"], tags=["liaison stations"], request=DemandInput,
                   summary="Raise a demand at this reception: a case with source `deputy` (收集)",
                   responses={201: DeputyCaseSerializer, **_ACT})
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def demands(self, request, pk=None):
        reception = self.get_object()
        if request.method == "GET":
            qs = selectors.demands_in_scope(self.scope, DemandViewSet.base_queryset().filter(reception=reception))
            return Response(DemandSerializer(qs, many=True, context=self.get_serializer_context()).data)
        data = _validated(DemandInput, request.data, self.get_serializer_context())
        deputy = data.pop("deputy", None)
        own = services.deputy_of(request.user) if Role.DEPUTY in self.scope.roles else None
        if not self.scope.town_wide:
            if own is None:
                raise Forbidden("只有人大代表或指挥中心可以登记代表诉求。")
            if deputy is not None and deputy.pk != own.pk:
                raise Forbidden("代表只能以本人名义登记诉求。")
            deputy = own
        elif deputy is None:
            deputy = own
            if deputy is None:
                raise serializers.ValidationError({"deputy": ["请指定提出诉求的人大代表。"]})
        data = {k: v for k, v in data.items() if v is not None}
        case = services.raise_demand(actor=request.user, deputy=deputy, reception=reception, now=self.now, **data)
        return Response(DeputyCaseSerializer(deputy_case(case.pk), context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(tags=["liaison stations"], summary="Deputy-raised cases in your scope, with their loop",
                       responses={200: DemandSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["liaison stations"], summary="One deputy-raised case with its five steps",
                           responses={200: DeputyCaseSerializer, **_READ}),
)
class DemandViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Deputy-raised cases (代表诉求), addressed by the case's id: ``/demands/{case_id}/`` shows the case
    with its deputy, station, reception and the five-step loop (五单式闭环) with the time of each step.
    A deputy sees the cases they raised; other roles the deputy cases within their case scope."""

    filterset_class = DemandFilterSet
    lookup_field = "case_id"
    lookup_value_regex = r"[0-9]{1,18}"

    @staticmethod
    def base_queryset():
        return (RaisedDemand.objects.select_related("case__village", "deputy", "station")
                .prefetch_related(Prefetch("case__events", queryset=CaseEvent.objects.order_by("at", "id")))
                .order_by("-raised_at", "-id"))

    def get_queryset(self):
        return selectors.demands_in_scope(self.scope, self.base_queryset())

    def get_serializer_class(self):
        return DemandSerializer

    def retrieve(self, request, *args, **kwargs):
        demand = self.get_object()
        return Response(DeputyCaseSerializer(deputy_case(demand.case_id), context=self.get_serializer_context()).data)

    @extend_schema(tags=["liaison stations"], summary="The raising deputy's follow-up note (督办 step)",
                   request=FollowUpInput, responses={200: DeputyCaseSerializer, **_ACT})
    @action(detail=True, methods=["post"], url_path="follow-up", url_name="follow-up", filter_backends=[],
            pagination_class=None)
    def follow_up(self, request, case_id=None):
        demand = self.get_object()
        data = _validated(FollowUpInput, request.data, self.get_serializer_context())
        services.follow_up(demand.case, actor=request.user, now=self.now, **data)
        return Response(DeputyCaseSerializer(deputy_case(demand.case_id), context=self.get_serializer_context()).data)

    @extend_schema(tags=["liaison stations"], summary="The raising deputy's evaluation (评价 step, a call-back)",
                   request=EvaluateInput, responses={200: DeputyCaseSerializer, **_ACT})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def evaluate(self, request, case_id=None):
        demand = self.get_object()
        data = _validated(EvaluateInput, request.data, self.get_serializer_context())
        services.evaluate(demand.case, actor=request.user, now=self.now, **data)
        return Response(DeputyCaseSerializer(deputy_case(demand.case_id), context=self.get_serializer_context()).data)
