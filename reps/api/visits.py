"""The weekly visits' API (issue 7 §4, §5, §7; DESIGN §7): list and show visits, record one, raise a case at
one, and the week's coverage.

What a caller sees comes from :func:`reps.scope.visits_in_scope` (outside it: 404); who may record a visit or
raise cases at it from :func:`reps.scope.may_record_visit` — the visit's own cadre, or an admin
(403 otherwise; the web page ``/visits/<id>/record/`` allows the same people); every change from
:mod:`reps.visits` (409 when the visit's state does not allow it, 400 with field errors for bad input).
The coverage figures are :func:`reps.coverage.visit_coverage` over the whole town, for the town-wide roles
only, as on the supervisor dashboard (403 for the others). The request's clock (``self.now``) is passed to
the services: clients never set the time of an operation.
"""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import rules, services
from cases.api.errors import Forbidden
from cases.api.serializers import NOTE_MAX, CaseCreateSerializer, CaseSerializer
from cases.models import Case
from grids.api.base import ScopedMixin, error_responses
from grids.models import Cadre

from ..coverage import visit_coverage
from ..filtersets import VisitFilterSet
from ..models import Visit
from ..scope import may_record_visit, visits_in_scope
from ..visits import MAX_COUNT, current_week, parse_iso_week, raise_case_at_visit, record_visit

# --- Representations and inputs -------------------------------------------------------------------------


class VisitSerializer(serializers.ModelSerializer):
    """One cadre's reception-day visit to one village in one ISO week (times ISO 8601, Asia/Shanghai)."""

    cadre_name = serializers.CharField(source="cadre.name", read_only=True)
    village_name = serializers.CharField(source="village.short_name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    cases_raised = serializers.IntegerField(read_only=True, help_text="Cases logged at this visit (source `visit`).")

    class Meta:
        model = Visit
        fields = ["id", "iso_week", "planned_date", "status", "status_label", "cadre", "cadre_name", "village",
                  "village_name", "assignment", "started_at", "ended_at", "households_visited", "people_received",
                  "notes", "recorded_by", "reminded_at", "cases_raised"]
        read_only_fields = fields
        extra_kwargs = {
            "planned_date": {"help_text": "The week's first working day (Monday unless a holiday); null for a "
                                          "`skipped_holiday` week."},
        }


class VisitRecordInput(serializers.Serializer):
    """Input of ``POST /visits/{id}/record/``; ``reps.visits.record_visit`` checks the times against the
    visit's week and the clock."""

    started_at = serializers.DateTimeField(
        help_text="When the visit began (ISO 8601; without an offset, Asia/Shanghai time). Must fall within the "
                  "visit's ISO week.")
    ended_at = serializers.DateTimeField(
        help_text="When it ended: after the start, at most 24 hours later, not in the future.")
    households_visited = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, help_text="走访户数")
    people_received = serializers.IntegerField(min_value=0, max_value=MAX_COUNT, help_text="接待人数")
    notes = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class VisitCaseInput(CaseCreateSerializer):
    """Input of ``POST /visits/{id}/cases/``: a case as for ``POST /cases/`` without ``source``, ``village``,
    ``external_ref`` and ``on_the_spot``, which the visit decides (source `visit`, the visit's village).
    An optional ``grid`` must lie in the visit's village."""

    on_the_spot = None

    class Meta(CaseCreateSerializer.Meta):
        fields = ["kind", "category", "urgency", "title", "description", "grid", "complainant_name",
                  "complainant_phone", "address", "lng", "lat"]


class CoverageRowSerializer(serializers.Serializer):
    """Visit counts of a cadre, a village or the whole town in one week (see ``reps.coverage.CoverageRow``)."""

    id = serializers.IntegerField(allow_null=True, help_text="Cadre or village id; null for the totals.")
    name = serializers.CharField(allow_blank=True)
    total = serializers.IntegerField(help_text="Visits stored for the week.")
    planned = serializers.IntegerField(help_text="Still to be made or recorded.")
    done = serializers.IntegerField()
    missed = serializers.IntegerField()
    skipped_holiday = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    villages_due = serializers.IntegerField(help_text="Distinct villages with a visit due (not skipped_holiday).")
    villages_visited = serializers.IntegerField(help_text="Distinct villages due with a `done` visit.")
    share_visited = serializers.FloatField(allow_null=True,
                                           help_text="villages_visited / villages_due; null when nothing was due.")
    cases_raised = serializers.IntegerField(help_text="Cases linked to these visits (全口径).")


class CoverageSerializer(serializers.Serializer):
    iso_week = serializers.CharField()
    totals = CoverageRowSerializer()
    by_cadre = CoverageRowSerializer(many=True, help_text="One row per cadre with a visit that week, by name.")
    by_village = CoverageRowSerializer(many=True, help_text="One row per village with a visit that week, by code.")


class CoverageQuery(serializers.Serializer):
    week = serializers.RegexField(r"^\d{4}-?[Ww]\d{2}$", required=False, max_length=8,
                                  help_text="ISO week, e.g. `2025-W41`; default: the current week (Asia/Shanghai).")

    def validate_week(self, value: str) -> str:
        try:
            year, week = parse_iso_week(value)
        except DjangoValidationError:
            raise serializers.ValidationError("周次须为 ISO 8601 格式（如 2025-W41），且该年有此周。") from None
        return f"{year}-W{week:02d}"


# --- Views ------------------------------------------------------------------------------------------------

_ACT = error_responses(400, 401, 403, 404, 409)


@extend_schema_view(
    list=extend_schema(tags=["visits"], summary="List weekly visits in your scope",
                       description="Grid leader: visits to the villages of own grids; village leader: to own "
                                   "village; cadre: own visits and visits to assigned villages; dispatcher, "
                                   "supervisor, admin: the whole town; deputy: none. Newest week first.",
                       responses={200: VisitSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["visits"], summary="One weekly visit in your scope",
                           responses={200: VisitSerializer, **error_responses(401, 404)}),
)
class VisitViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Reception-day visits (走访接待日) of town cadres to their assigned villages."""

    serializer_class = VisitSerializer
    filterset_class = VisitFilterSet
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        qs = (Visit.objects.select_related("cadre", "village").annotate(cases_raised=Count("case_links"))
              .order_by("-iso_week", "planned_date", "village__code", "pk"))
        return visits_in_scope(self.scope, qs)

    def _visit_to_record(self) -> Visit:
        """The visit of the URL in scope (404 otherwise) that the caller may record (403 otherwise)."""
        visit = self.get_object()
        if not may_record_visit(self.scope, visit):
            raise Forbidden("只有该走访的包村干部或管理员可以记录走访、登记诉求。")
        return visit

    @extend_schema(
        tags=["visits"], summary="Record how the visit went (走访记录)", request=VisitRecordInput,
        description="For the visit's own cadre, or an admin. A `planned` or `missed` visit becomes `done`; a "
                    "`done` one is corrected; `cancelled` and `skipped_holiday` visits answer 409 "
                    "(`visit_not_recordable`). Answers the updated visit.",
        responses={200: VisitSerializer, **_ACT},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def record(self, request, pk=None):
        visit = self._visit_to_record()
        ser = VisitRecordInput(data=request.data)
        ser.is_valid(raise_exception=True)
        record_visit(visit, actor=request.user, now=self.now, **ser.validated_data)
        answer = self.get_queryset().get(pk=visit.pk)
        return Response(VisitSerializer(answer, context=self.get_serializer_context()).data)

    @extend_schema(
        tags=["visits"], summary="Log a case raised by a resident at this visit", request=VisitCaseInput,
        description="For the visit's own cadre, or an admin, while the visit's village is in their scope. The "
                    "case gets source `visit`, the visit's village and a link to the visit; a grid leader "
                    "logging it in an own grid has it dispatched at once. Visits `cancelled` or "
                    "`skipped_holiday` answer 409. Answers 201 with the case as `GET /cases/{id}/` shows it.",
        responses={201: CaseSerializer, **_ACT},
    )
    @action(detail=True, methods=["post"], url_path="cases", url_name="cases", filter_backends=[],
            pagination_class=None)
    def raise_case(self, request, pk=None):
        visit = self._visit_to_record()
        scope = self.scope
        ser = VisitCaseInput(data=request.data, context=self.get_serializer_context())
        ser.is_valid(raise_exception=True)
        data = {k: v for k, v in ser.validated_data.items() if v is not None}
        grid = data.get("grid")
        if not rules.can_create(scope, village_id=visit.village_id, grid_id=grid.pk if grid else None):
            raise Forbidden("该走访所在村不在您的管辖范围内，不能登记诉求。")
        actor, now = request.user, self.now
        with transaction.atomic():
            case = raise_case_at_visit(visit, actor=actor, now=now, **data)
            if rules.dispatches_on_logging(scope, grid_id=grid.pk if grid else None):
                handler = Cadre.objects.select_related("user").get(pk=scope.cadre_id)
                case = services.dispatch(case, actor=actor, grid=grid, handler=handler, now=now)
        case = Case.objects.select_related("village", "grid", "category", "handler").get(pk=case.pk)
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=["visits"], summary="Coverage of one week: per cadre, per village, share of villages visited",
        description="The figures of the supervisor dashboard (issue 7 §5) over the whole town; for admins, "
                    "dispatchers and supervisors (403 for the other roles). `skipped_holiday` visits are not "
                    "due; `cancelled` ones count as due and not visited.",
        parameters=[CoverageQuery],
        responses={200: CoverageSerializer, **error_responses(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def coverage(self, request):
        if not self.scope.town_wide:
            raise Forbidden("走访覆盖率仅向指挥中心、督办和管理员开放。")
        query = CoverageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        week = query.validated_data.get("week") or current_week(self.now)
        return Response(CoverageSerializer(visit_coverage(week).as_dict()).data)
