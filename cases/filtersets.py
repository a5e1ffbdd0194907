"""Filters of the cases API lists (issue 5 §3): several statuses, ``<relation>_id`` filters, ``overdue``,
time windows, a ``q`` search, and ordering by ``received_at`` / ``resolve_due_at``."""
import django_filters as df
from django.core.exceptions import ValidationError
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from grids import geo
from grids.filtersets import IdFilter, SearchFilter, UTCDateTimeFilter
from grids.scope import request_now

from .choices import CaseKind, NotificationKind, Satisfaction, Source, Status, Urgency
from .models import Case, Category, Notification


def category_and_descendants(category_id: int):
    """A queryset of the ids of category ``category_id`` and its descendants (three levels: the node,
    its children and grandchildren), for use as a subquery."""
    return Category.objects.filter(
        Q(pk=category_id) | Q(parent_id=category_id) | Q(parent__parent_id=category_id)
    ).values("pk")


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class CategoryTreeFilter(IdFilter):
    """``category_id``: cases of this category or any of its descendants."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        return qs.filter(category_id__in=category_and_descendants(value))


class CaseFilterSet(df.FilterSet):
    status = df.MultipleChoiceFilter(
        choices=Status.choices, help_text="One or more statuses (repeat the parameter: `status=a&status=b`)."
    )
    source = df.MultipleChoiceFilter(choices=Source.choices, help_text="One or more sources (repeat the parameter).")
    kind = df.MultipleChoiceFilter(choices=CaseKind.choices, help_text="One or more kinds (repeat the parameter).")
    urgency = df.MultipleChoiceFilter(choices=Urgency.choices, help_text="One or more (repeat the parameter).")
    category_id = CategoryTreeFilter(field_name="category_id", help_text="This category and its descendants.")
    village_id = IdFilter(field_name="village_id")
    grid_id = IdFilter(field_name="grid_id")
    handler_id = IdFilter(field_name="handler_id", help_text="Cases handled by this cadre.")
    bbox = df.CharFilter(
        method="filter_bbox",
        help_text="Only cases placed inside `min_lng,min_lat,max_lng,max_lat` (WGS-84 degrees; `bbox_crs=gcj02|bd09` "
                  "for a box read off an AMap/Tencent or Baidu map). Cases without a place are left out.",
    )
    bbox_crs = df.ChoiceFilter(choices=[("wgs84", "WGS-84"), ("gcj02", "GCJ-02"), ("bd09", "BD-09")],
                               method="filter_noop", help_text="The coordinate system of `bbox` (default wgs84).")
    overdue = df.BooleanFilter(
        method="filter_overdue",
        help_text="true: open cases past a deadline they have not met (at the request's time); false: the others.",
    )
    received_after = UTCDateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="Received at or after (ISO 8601, with offset)."
    )
    received_before = UTCDateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="Received before (ISO 8601, with offset)."
    )
    due_before = UTCDateTimeFilter(
        field_name="resolve_due_at", lookup_expr="lt", help_text="Resolve deadline before (ISO 8601)."
    )
    q = SearchFilter(("number", "title", "description"), help_text="Number, title or description contains.")
    # Issue 16 build 5: a filter for every field a dispatcher reads.
    number = df.CharFilter(field_name="number", lookup_expr="iexact", max_length=20, help_text="Case number, exactly.")
    external_ref = df.CharFilter(field_name="external_ref", lookup_expr="iexact", max_length=64)
    complainant_name = df.CharFilter(method="filter_name", max_length=50,
                                     help_text="Complainant's name, exactly (trimmed).")
    complainant_phone = df.CharFilter(method="filter_phone", max_length=30,
                                      help_text="Complainant's phone, matched whole (separators ignored).")
    created_by_id = IdFilter(field_name="created_by_id", help_text="Cases logged by this user.")
    duplicate_of_id = IdFilter(field_name="duplicate_of_id")
    satisfaction = df.MultipleChoiceFilter(choices=Satisfaction.choices, help_text="Callback answer (repeat for several).")
    callback = df.ChoiceFilter(choices=[("pending", "pending"), ("valid", "valid"), ("unreachable", "unreachable")],
                               method="filter_callback", help_text="No callback yet / a valid one / unreachable.")
    solved = df.BooleanFilter(field_name="solved")
    excluded = df.BooleanFilter(field_name="excluded", help_text="Out of the assessed scope (剔除).")
    imported = df.BooleanFilter(field_name="imported", help_text="Imported history (true) or live cases (false).")
    escalated = df.BooleanFilter(field_name="escalated_at", lookup_expr="isnull", exclude=True,
                                 help_text="true: escalated (督办) at least once.")
    extension_pending = df.BooleanFilter(field_name="extension_requested_until", lookup_expr="isnull", exclude=True,
                                         help_text="true: an extension request awaits approval.")
    has_grid = df.BooleanFilter(field_name="grid", lookup_expr="isnull", exclude=True)
    dispatched_after = UTCDateTimeFilter(field_name="dispatched_at", lookup_expr="gte")
    dispatched_before = UTCDateTimeFilter(field_name="dispatched_at", lookup_expr="lt")
    resolved_after = UTCDateTimeFilter(field_name="resolved_at", lookup_expr="gte")
    resolved_before = UTCDateTimeFilter(field_name="resolved_at", lookup_expr="lt")
    closed_after = UTCDateTimeFilter(field_name="closed_at", lookup_expr="gte")
    closed_before = UTCDateTimeFilter(field_name="closed_at", lookup_expr="lt")
    due_after = UTCDateTimeFilter(field_name="resolve_due_at", lookup_expr="gte", help_text="Resolve deadline at or after.")
    respond_due_before = UTCDateTimeFilter(field_name="respond_due_at", lookup_expr="lt")
    respond_due_after = UTCDateTimeFilter(field_name="respond_due_at", lookup_expr="gte")
    updated_after = UTCDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    ordering = df.OrderingFilter(
        fields=(("received_at", "received_at"), ("resolve_due_at", "resolve_due_at"),
                ("respond_due_at", "respond_due_at"), ("resolved_at", "resolved_at"), ("updated_at", "updated_at"),
                ("number", "number"), ("urgency", "urgency"), ("status", "status")),
        help_text="`received_at`, `resolve_due_at`, `respond_due_at`, `resolved_at`, `updated_at`, `number`, "
                  "`urgency`, `status`; prefix `-` for descending. Default `-received_at`.",
    )

    class Meta:
        model = Case
        fields = []

    def filter_name(self, queryset, name, value):
        value = (value or "").strip()
        return queryset.filter(complainant_name=value) if value else queryset

    def filter_phone(self, queryset, name, value):
        from .desk.history import filter_phone

        value = (value or "").strip()
        return filter_phone(queryset, value) if value else queryset

    def filter_callback(self, queryset, name, value):
        if value == "pending":
            return queryset.filter(satisfaction="")
        if value == "unreachable":
            return queryset.filter(satisfaction=Satisfaction.UNREACHABLE)
        if value == "valid":
            return queryset.exclude(satisfaction="").exclude(satisfaction=Satisfaction.UNREACHABLE)
        return queryset

    def filter_bbox(self, queryset, name, value):
        try:
            box = geo.wgs84_bbox(geo.parse_bbox(value), src=self.data.get("bbox_crs") or geo.WGS84)
        except ValueError as exc:
            raise ValidationError({"bbox": [str(exc)]}) from None
        min_lng, min_lat, max_lng, max_lat = box
        return queryset.filter(lng__gte=min_lng, lng__lte=max_lng, lat__gte=min_lat, lat__lte=max_lat)

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        now = request_now(self.request)
        if value:
            return queryset.overdue(now)
        return queryset.exclude(pk__in=Case.objects.overdue(now).values("pk"))

    @property
    def qs(self):
        qs = super().qs
        # A stable order whatever the requested one, so that pages never overlap.
        ordering = list(qs.query.order_by) or ["-received_at"]
        return qs.order_by(*ordering, "-id")


class CategoryFilterSet(df.FilterSet):
    parent_id = IdFilter(field_name="parent_id", help_text="Children of this category.")
    level = df.TypedChoiceFilter(choices=[(1, "1"), (2, "2"), (3, "3")], coerce=int)
    q = SearchFilter(("name",), help_text="Name contains.")

    class Meta:
        model = Category
        fields = []


class NotificationFilterSet(df.FilterSet):
    unread = df.BooleanFilter(field_name="read_at", lookup_expr="isnull", help_text="true: unread only.")
    kind = df.ChoiceFilter(choices=NotificationKind.choices)

    class Meta:
        model = Notification
        fields = []


def register_case_filter(name: str, case_filter) -> None:
    """Add a filter of ``GET /cases/`` contributed by an app above (from its ``AppConfig.ready()``), e.g.
    ``reps``'s ``visit_id`` over its own link; ``case_filter`` is a django-filter ``Filter`` over Case."""
    CaseFilterSet.base_filters[name] = case_filter
