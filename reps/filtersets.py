"""Filters of the reps app's API lists (django-filter): stations, deputies, receptions, demands and weekly
visits; ``<relation>_id`` filters and a ``q`` search."""
import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field

from cases.choices import Status
from grids.filtersets import IdFilter, SearchFilter, UTCDateTimeFilter

from .choices import DeputyLevel, ReceptionStatus, StationTheme, VisitStatus
from .models import Deputy, LiaisonStation, RaisedDemand, Reception, Visit
from .visits import parse_iso_week


class StationFilterSet(df.FilterSet):
    theme = df.ChoiceFilter(choices=StationTheme.choices)
    village_id = IdFilter(field_name="village_id", help_text="Stations standing in this village.")
    serves_village_id = IdFilter(field_name="villages_served", help_text="Stations serving this village.")
    is_active = df.BooleanFilter()
    q = SearchFilter(("name", "code", "address"), help_text="Name, code or address contains.")

    class Meta:
        model = LiaisonStation
        fields = []


class DeputyFilterSet(df.FilterSet):
    station_id = IdFilter(field_name="station_id")
    level = df.ChoiceFilter(choices=DeputyLevel.choices)
    is_active = df.BooleanFilter()
    q = SearchFilter(("name", "code"), help_text="Name or code contains.")

    class Meta:
        model = Deputy
        fields = []


class ReceptionFilterSet(df.FilterSet):
    station_id = IdFilter(field_name="station_id")
    deputy_id = IdFilter(field_name="deputies", help_text="Receptions with this deputy on duty / present.")
    status = df.MultipleChoiceFilter(choices=ReceptionStatus.choices,
                                     help_text="One or more statuses (repeat the parameter).")
    regular = df.BooleanFilter(help_text="true: planned from the station's regular reception day.")
    date_from = df.DateFilter(field_name="date", lookup_expr="gte", help_text="On or after (Asia/Shanghai date).")
    date_to = df.DateFilter(field_name="date", lookup_expr="lte", help_text="On or before (Asia/Shanghai date).")

    class Meta:
        model = Reception
        fields = []


class DemandFilterSet(df.FilterSet):
    station_id = IdFilter(field_name="station_id")
    deputy_id = IdFilter(field_name="deputy_id")
    reception_id = IdFilter(field_name="reception_id")
    status = df.MultipleChoiceFilter(field_name="case__status", choices=Status.choices,
                                     help_text="One or more case statuses (repeat the parameter).")
    raised_after = UTCDateTimeFilter(field_name="raised_at", lookup_expr="gte")
    raised_before = UTCDateTimeFilter(field_name="raised_at", lookup_expr="lt")
    q = SearchFilter(("case__number", "case__title"), help_text="Case number or title contains.")

    class Meta:
        model = RaisedDemand
        fields = []


class IsoWeekField(forms.CharField):
    """An ISO 8601 week, ``2025-W41`` (``2025W41`` accepted), cleaned to the stored form ``2025-W41``."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            year, week = parse_iso_week(value)
        except ValidationError:
            raise forms.ValidationError("周次须为 ISO 8601 格式（如 2025-W41），且该年有此周。", code="invalid") from None
        return f"{year}-W{week:02d}"


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-?[Ww]\d{2}$", "example": "2025-W41"})
class IsoWeekFilter(df.CharFilter):
    """An exact filter on an ISO week (see :class:`IsoWeekField`)."""

    field_class = IsoWeekField


class VisitFilterSet(df.FilterSet):
    week = IsoWeekFilter(field_name="iso_week", max_length=8, help_text="ISO week, e.g. `2025-W41`.")
    cadre_id = IdFilter(field_name="cadre_id", help_text="Visits of this cadre (包村干部).")
    village_id = IdFilter(field_name="village_id", help_text="Visits to this village.")
    status = df.MultipleChoiceFilter(
        choices=VisitStatus.choices, help_text="One or more statuses (repeat the parameter: `status=a&status=b`)."
    )

    class Meta:
        model = Visit
        fields = []
