"""Statistics endpoints (issue 5 §4): the rates of DESIGN §6 per group and the overdue list, over the
caller's scope, as JSON, CSV or XLSX (``?format=csv|xlsx``).

Figures come from ``cases.selectors`` (``rates`` and ``overdue_cases``); this module only validates the
query, passes the caller's scoped cases (None for town-wide roles, so that the stored daily aggregates
are used) and renders the rows.

Apps above add group-bys of their own with :func:`register_group_by` from their ``AppConfig.ready()``:
rows and columns of their own over what the caller may see (``reps`` registers ``station`` and ``deputy``,
issue 8 §5: the liaison stations' figures of deputy-raised demands, see ``reps.api.stats``).
"""
import dataclasses
import datetime as dt
from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import selectors
from cases.durations import FIELDS as DURATION_FIELDS
from cases.models import Case
from grids.api.base import ScopedMixin, error_responses

from .renderers import CSVRenderer, XLSXRenderer
from .serializers import CaseSerializer

#: The group-bys of ``cases.selectors.rates``; registered ones (:func:`register_group_by`) follow them.
GROUP_BY = ["village", "grid", "category", "source", "handler", "callback_source", "day", "week", "month",
            "assessment_month"]
RATE_COLUMNS = [
    "key", "label", "received", "dispatched", "responded", "resolved", "closed", "overdue", "respond_on_time",
    "resolve_on_time", "respond_on_time_rate", "resolve_on_time_rate", "dispatch_on_time", "dispatch_decided",
    "dispatch_on_time_rate", "closure_rate", "valid_callbacks",
    "response_rate", "resolution_rate", "satisfaction_rate", "satisfaction_lower_bound", "composite_score", "rank",
    *DURATION_FIELDS,
]
EXPORT_LIMIT = 10_000
#: The widest period a query may ask for: its Asia/Shanghai day bounds, in UTC, still fit in a datetime.
FIRST_DAY, LAST_DAY = dt.date(1, 1, 2), dt.date(9999, 12, 30)

_XLSX = XLSXRenderer.media_type
_FORMAT_PARAM = OpenApiParameter(
    "format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=["json", "csv", "xlsx"],
    description="Answer as JSON (default), CSV (UTF-8 with BOM) or XLSX.")


class ExportMixin:
    """JSON, CSV or XLSX answers; errors always as JSON; exports come as a download named ``export_name``."""

    renderer_classes = [renderers.JSONRenderer, CSVRenderer, XLSXRenderer]
    export_name = "export"

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        response = super().finalize_response(request, response, *args, **kwargs)
        fmt = getattr(request.accepted_renderer, "format", "json")
        if response.status_code < 400 and fmt in ("csv", "xlsx"):
            response["Content-Disposition"] = f'attachment; filename="{self.export_name}.{fmt}"'
        return response

    @property
    def exporting(self) -> bool:
        return getattr(self.request.accepted_renderer, "format", "json") in ("csv", "xlsx")


@dataclasses.dataclass(frozen=True)
class GroupBy:
    """A ``group_by`` of ``GET /stats/rates/`` served by an app above.

    ``rows(scope, *, start, end, full_scope) -> list[dict]``: the rows the caller may see, ``start``/``end``
    inclusive Asia/Shanghai dates or None, ``full_scope`` True for ``scope=all``; each row has ``key`` and
    ``label`` first and exactly ``columns``. ``answer``: the serializer of the whole answer (for the schema).
    """

    name: str
    columns: list[str]
    rows: Callable
    answer: type


_GROUP_BYS: dict[str, GroupBy] = {}


def register_group_by(name: str, *, columns: list[str], rows: Callable, answer: type) -> None:
    """Add (or replace) a registered :class:`GroupBy` named ``name`` (not one of :data:`GROUP_BY`)."""
    if name in GROUP_BY:
        raise ValueError(f"group_by {name!r} is one of cases.selectors.rates")
    _GROUP_BYS[name] = GroupBy(name, list(columns), rows, answer)


def group_by_choices() -> list[str]:
    """Every accepted ``group_by``: :data:`GROUP_BY`, then the registered ones in the order registered."""
    return [*GROUP_BY, *_GROUP_BYS]


class RatesQuery(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=GROUP_BY, required=False,
                                       help_text="Rows per village, grid, top-level category, source, handler, "
                                                 "callback source (local / upstream; no callback: key null), "
                                                 "day, ISO week, calendar month or assessment month (Asia/Shanghai); "
                                                 "absent: one row for the whole town. `station` / `deputy`: the "
                                                 "liaison stations' figures of deputy-raised demands, per station "
                                                 "or deputy, with their own columns.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group_by"].choices = group_by_choices()
    start = serializers.DateField(required=False,
                                  help_text="First day (Asia/Shanghai, inclusive) of cases received.")
    end = serializers.DateField(required=False,
                                help_text="Last day (Asia/Shanghai, inclusive) of cases received.")
    scope = serializers.ChoiceField(choices=["assessed", "all"], default="assessed",
                                    help_text="`assessed`: without excluded cases (剔除); `all`: 全口径.")
    counting = serializers.ChoiceField(
        choices=["case", "round"], default="case",
        help_text="`case` (default, the stricter): each case once, late on a deadline if any round of handling "
                  "was (a reopened case that was late stays late); `round`: every round counts — each finished "
                  "round's respond/resolve verdict and valid callback besides the current round's.")

    def validate(self, attrs):
        attrs.setdefault("group_by", None)
        attrs.setdefault("start", None)
        attrs.setdefault("end", None)
        for name in ("start", "end"):  # the period's bounds in UTC must fit in a datetime (years 1 to 9999)
            if attrs[name] is not None and not FIRST_DAY <= attrs[name] <= LAST_DAY:
                raise serializers.ValidationError({name: [f"日期须在 {FIRST_DAY} 至 {LAST_DAY} 之间。"]})
        if attrs["start"] and attrs["end"] and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": ["结束日期不能早于开始日期。"]})
        return attrs


class RateRowSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="Group key (id, code, value or YYYY-MM).")
    label = serializers.CharField(allow_null=True)
    received = serializers.IntegerField(allow_null=True)
    dispatched = serializers.IntegerField(allow_null=True)
    responded = serializers.IntegerField(allow_null=True)
    resolved = serializers.IntegerField(allow_null=True)
    closed = serializers.IntegerField(allow_null=True)
    overdue = serializers.IntegerField(allow_null=True)
    respond_on_time = serializers.IntegerField(allow_null=True)
    resolve_on_time = serializers.IntegerField(allow_null=True)
    respond_on_time_rate = serializers.FloatField(allow_null=True)
    resolve_on_time_rate = serializers.FloatField(allow_null=True)
    dispatch_on_time = serializers.IntegerField(
        allow_null=True, help_text="Cases dispatched at or before their dispatch deadline (DB11/T 2021—2022).")
    dispatch_decided = serializers.IntegerField(
        allow_null=True, help_text="Cases whose dispatch deadline is decided: dispatched, or open, undispatched "
                                   "and past it.")
    dispatch_on_time_rate = serializers.FloatField(allow_null=True)
    closure_rate = serializers.FloatField(allow_null=True)
    valid_callbacks = serializers.IntegerField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)
    resolution_rate = serializers.FloatField(allow_null=True)
    satisfaction_rate = serializers.FloatField(allow_null=True)
    satisfaction_lower_bound = serializers.FloatField(
        allow_null=True, help_text="Wilson score interval lower bound (95 %, z = 1.96) of satisfaction_rate over "
                                   "valid_callbacks (Wilson 1927; Evan Miller, 'How not to sort by average rating').")
    composite_score = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(
        allow_null=True, help_text="By satisfaction_lower_bound (ties: composite score), among rows with at least "
                                   "STATS_MIN_VALID_CALLBACKS valid callbacks; null when not ranked.")
    dispatch_mean_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds from received_at to dispatched_at over the group's dispatched cases.")
    dispatch_median_seconds = serializers.FloatField(allow_null=True, help_text="Median (percentile_cont 0.5).")
    dispatch_p90_seconds = serializers.FloatField(allow_null=True, help_text="90th percentile (percentile_cont 0.9).")
    respond_mean_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds from received_at to responded_at over the group's responded cases.")
    respond_median_seconds = serializers.FloatField(allow_null=True)
    respond_p90_seconds = serializers.FloatField(allow_null=True)
    resolve_mean_seconds = serializers.FloatField(
        allow_null=True, help_text="Mean seconds from received_at to resolved_at over the group's resolved cases.")
    resolve_median_seconds = serializers.FloatField(allow_null=True)
    resolve_p90_seconds = serializers.FloatField(allow_null=True)


class RatesSerializer(serializers.Serializer):
    # An enum of its own values (not any string), so each answer of RatesAnswer matches exactly one of its
    # schemas; a registered group-by's answer narrows it to its name (reps.api.stats).
    group_by = serializers.ChoiceField(choices=GROUP_BY, allow_null=True)
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    scope = serializers.CharField()
    counting = serializers.ChoiceField(choices=["case", "round"])
    results = RateRowSerializer(many=True, help_text="`null` figures mean “no data”.")


class RatesView(ScopedMixin, ExportMixin, APIView):
    """The three rates and the other figures of DESIGN §6 per group, over the cases in your scope; per
    liaison station or deputy, the figures of their deputy-raised demands (module docstring)."""

    export_name = "rates"
    export_columns = RATE_COLUMNS

    @extend_schema(
        tags=["statistics"], summary="Rates per group (DESIGN §6)",
        description=(
            "`group_by` absent or a place, category, source, handler or period: the DESIGN §6 figures over the "
            "cases in your scope (`RateRow` columns). `group_by=station` or `deputy`: the liaison stations' "
            "figures of deputy-raised demands (issue 8 §5; `StationRateRow` / `DeputyRateRow` columns) for the "
            "stations you may see — all of them for every role but deputy, a deputy their own station's; "
            "`scope=all` includes excluded cases. CSV and XLSX have the same columns as the JSON rows."),
        parameters=[RatesQuery, _FORMAT_PARAM],
        responses={
            (200, "application/json"): PolymorphicProxySerializer(
                component_name="RatesAnswer", resource_type_field_name=None,
                serializers=lambda: [RatesSerializer, *(g.answer for g in _GROUP_BYS.values())]),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, one row per group."),
            (200, _XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX, one row per group."),
            **error_responses(400, 401, media_type="application/json"),
        },
    )
    def get(self, request, *args, **kwargs):
        query = RatesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        registered = _GROUP_BYS.get(params["group_by"])
        if registered is not None:
            self.export_columns = registered.columns
            results = registered.rows(self.scope, start=params["start"], end=params["end"],
                                      full_scope=params["scope"] == "all")
        else:
            # Town-wide callers read the stored daily aggregates (cases=None); others count their scope live.
            case_filter = self.scope.case_filter()
            cases = None if case_filter is None else Case.objects.filter(case_filter)
            rows = selectors.rates(group_by=params["group_by"], start=params["start"], end=params["end"],
                                   scope=params["scope"], cases=cases, now=self.now, counting=params["counting"])
            results = [{**{c: row.get(c) for c in RATE_COLUMNS},
                        "key": None if row.get("key") is None else str(row["key"])} for row in rows]
        return Response({
            "group_by": params["group_by"],
            "start": params["start"].isoformat() if isinstance(params["start"], dt.date) else None,
            "end": params["end"].isoformat() if isinstance(params["end"], dt.date) else None,
            "scope": params["scope"],
            "counting": params["counting"],
            "results": results,
        })


class OverdueQuery(serializers.Serializer):
    open_only = serializers.BooleanField(
        default=False, help_text="true: only cases still open and past due (the supervisor's action list); "
                                 "default: also cases that met a deadline late (DESIGN §6).")


class OverdueCaseSerializer(CaseSerializer):
    lateness_seconds = serializers.SerializerMethodField(help_text="How late, in seconds, at the request's time.")

    class Meta(CaseSerializer.Meta):
        fields = ["lateness_seconds", *CaseSerializer.Meta.fields]
        read_only_fields = fields

    def get_lateness_seconds(self, case) -> int:
        lateness = case.lateness
        if isinstance(lateness, dt.timedelta):
            return int(lateness.total_seconds())
        return int(lateness)


class OverdueView(ScopedMixin, ExportMixin, generics.ListAPIView):
    """Overdue cases in your scope (open past a deadline they have not met, or met one late), the latest
    first, with how late each is at the request's time."""

    serializer_class = OverdueCaseSerializer
    filter_backends = []
    export_name = "overdue"
    export_columns = ["lateness_seconds", "number", "title", "status", "urgency", "village_name", "grid_name",
                      "handler_name", "received_at", "respond_due_at", "resolve_due_at"]

    def get_queryset(self):
        query = OverdueQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        cases = self.scope.cases(Case.objects.all())
        return selectors.overdue_cases(now=self.now, cases=cases, open_only=query.validated_data["open_only"]
                                       ).select_related("village", "grid", "category", "handler").prefetch_related("rounds")

    @extend_schema(
        tags=["statistics"], summary="Overdue cases, the latest first", parameters=[OverdueQuery, _FORMAT_PARAM],
        responses={
            (200, "application/json"): OverdueCaseSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV of all overdue cases."),
            (200, _XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="XLSX of all overdue cases."),
            **error_responses(400, 401, media_type="application/json"),
        },
    )
    def get(self, request, *args, **kwargs):
        if self.exporting:
            rows = self.get_serializer(self.get_queryset()[:EXPORT_LIMIT], many=True).data
            return Response(rows)
        return super().get(request, *args, **kwargs)
