"""Filters of the grid registry's API lists (django-filter): ``<relation>_id`` filters and a ``q`` search."""
import datetime as dt

import django_filters as df
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from .choices import CadreLevel, Role, VillageKind
from .models import Cadre, Grid, Village, VillageAssignment
from .scope import active_on, local_today, request_now

#: Largest primary key PostgreSQL's bigint holds; larger ids are refused with 400, not sent to the database.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(df.NumberFilter):
    """An exact filter on a primary or foreign key: a positive integer within bigint range."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, normalised to UTC; an offset-less value is read as Asia/Shanghai time.

    Offsets PostgreSQL refuses (beyond ±15:59) and values that fall outside the calendar once in UTC are
    turned into UTC here or refused as bad input, never sent to the database as they came.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("日期时间超出范围。", code="invalid") from None


class UTCDateTimeFilter(df.IsoDateTimeFilter):
    """An ISO 8601 date-time filter (see :class:`UTCDateTimeField`)."""

    field_class = UTCDateTimeField


class SearchFilter(df.CharFilter):
    """``q``: case-insensitive substring match over ``fields`` (any of them)."""

    def __init__(self, fields: tuple[str, ...], **kwargs):
        kwargs.setdefault("label", "q")
        kwargs.setdefault("max_length", 100)
        super().__init__(method=self.search, **kwargs)
        self.search_fields = fields

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q()
        for field in self.search_fields:
            q |= Q(**{f"{field}__icontains": value})
        return queryset.filter(q)


class VillageFilterSet(df.FilterSet):
    kind = df.ChoiceFilter(choices=VillageKind.choices, help_text="村 village or 社区 community.")
    q = SearchFilter(("name", "code"), help_text="Name or 12-digit code contains.")

    class Meta:
        model = Village
        fields = []


class GridFilterSet(df.FilterSet):
    village_id = IdFilter(field_name="village_id", help_text="Grids of this village.")
    leader_id = IdFilter(field_name="leader_id", help_text="Grids led by this cadre.")
    q = SearchFilter(("name", "code", "village__name"), help_text="Grid name or code, or village name contains.")

    class Meta:
        model = Grid
        fields = []


class CadreFilterSet(df.FilterSet):
    role = df.ChoiceFilter(choices=Role.choices)
    level = df.ChoiceFilter(choices=CadreLevel.choices)
    village_id = IdFilter(field_name="village_id", help_text="Village-level cadres of this village.")
    is_active = df.BooleanFilter()
    q = SearchFilter(("name", "position"), help_text="Name or position contains.")

    class Meta:
        model = Cadre
        fields = []


class AssignmentFilterSet(df.FilterSet):
    cadre_id = IdFilter(field_name="cadre_id")
    village_id = IdFilter(field_name="village_id")
    active = df.BooleanFilter(method="filter_active", help_text="Active today (Asia/Shanghai date) or not.")

    class Meta:
        model = VillageAssignment
        fields = []

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        today = local_today(request_now(self.request))
        q = active_on(today)
        return queryset.filter(q) if value else queryset.exclude(q)
