"""Filters of the cases API lists (issue 5 §3): several statuses, ``<relation>_id`` filters, ``overdue``,
time windows, a ``q`` search, and ordering by ``received_at`` / ``resolve_due_at``."""
import django_filters as df
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from grids.filtersets import IdFilter, SearchFilter, UTCDateTimeFilter
from grids.scope import request_now

from .choices import CaseKind, NotificationKind, Source, Status, Urgency
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
    source = df.ChoiceFilter(choices=Source.choices)
    kind = df.ChoiceFilter(choices=CaseKind.choices)
    urgency = df.ChoiceFilter(choices=Urgency.choices)
    category_id = CategoryTreeFilter(field_name="category_id", help_text="This category and its descendants.")
    village_id = IdFilter(field_name="village_id")
    grid_id = IdFilter(field_name="grid_id")
    handler_id = IdFilter(field_name="handler_id", help_text="Cases handled by this cadre.")
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
    ordering = df.OrderingFilter(
        fields=(("received_at", "received_at"), ("resolve_due_at", "resolve_due_at")),
        help_text="`received_at`, `resolve_due_at`; prefix `-` for descending. Default `-received_at`.",
    )

    class Meta:
        model = Case
        fields = []

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
