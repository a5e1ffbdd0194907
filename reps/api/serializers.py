"""Representations of stations, deputies, receptions and deputy-raised cases, and the input of each action.

Serializers never change state: views pass validated input to ``reps.services``. They find the caller's
scope (``context["scope"]``) and the request's clock (``context["now"]``) in their context.
"""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.api.serializers import CaseSerializer, phone_chars
from cases.choices import CaseKind, Satisfaction, Urgency
from cases.models import Category
from grids.api.base import IdField
from grids.models import Grid, Village
from reps import selectors
from reps.choices import LoopStep
from reps.models import Deputy, LiaisonStation, PartnerPlatform, RaisedDemand, Reception

NOTE_MAX = 2000


class PartnerPlatformSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = PartnerPlatform
        fields = ["kind", "kind_label", "name"]
        read_only_fields = fields


class StationSerializer(serializers.ModelSerializer):
    """A liaison station with its "+N" partner platforms and regular reception time (Asia/Shanghai)."""

    theme_label = serializers.CharField(source="get_theme_display", read_only=True)
    village_name = serializers.CharField(source="village.short_name", read_only=True)
    villages_served = serializers.SerializerMethodField(help_text="Ids of the village-level units it serves.")
    partners = PartnerPlatformSerializer(many=True, read_only=True)
    partner_count = serializers.SerializerMethodField(help_text='The "+N" of 代表联络站 + N.')
    deputy_count = serializers.SerializerMethodField()

    class Meta:
        model = LiaisonStation
        fields = ["id", "code", "name", "address", "village", "village_name", "villages_served", "theme",
                  "theme_label", "partners", "partner_count", "volunteers", "social_organisations",
                  "reception_weekday", "reception_starts", "reception_ends", "deputy_count", "is_active"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_villages_served(self, station) -> list[int]:
        return sorted(v.pk for v in station.villages_served.all())

    @extend_schema_field(serializers.IntegerField())
    def get_partner_count(self, station) -> int:
        return len(station.partners.all())

    @extend_schema_field(serializers.IntegerField())
    def get_deputy_count(self, station) -> int:
        return sum(1 for d in station.deputies.all() if d.is_active)


class DeputySerializer(serializers.ModelSerializer):
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    station_name = serializers.CharField(source="station.name", read_only=True)
    has_login = serializers.SerializerMethodField()

    class Meta:
        model = Deputy
        fields = ["id", "code", "name", "level", "level_label", "station", "station_name", "is_active", "has_login"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_has_login(self, deputy) -> bool:
        return deputy.user_id is not None


class ReceptionSerializer(serializers.ModelSerializer):
    """A reception session; ``deputies`` are those on duty while planned and those present once held."""

    station_name = serializers.CharField(source="station.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    deputies = serializers.SerializerMethodField(help_text="Ids of the deputies on duty / present.")
    deputy_names = serializers.SerializerMethodField()
    demand_count = serializers.IntegerField(read_only=True, help_text="Demands raised at this reception.")

    class Meta:
        model = Reception
        fields = ["id", "station", "station_name", "date", "starts_at", "ends_at", "regular", "status",
                  "status_label", "deputies", "deputy_names", "residents_received", "notes", "demand_count",
                  "created_at", "recorded_at", "cancelled_at"]
        read_only_fields = fields

    def _deputies(self, reception):
        return sorted(reception.deputies.all(), key=lambda d: d.code)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_deputies(self, reception) -> list[int]:
        return [d.pk for d in self._deputies(reception)]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_deputy_names(self, reception) -> list[str]:
        return [d.name for d in self._deputies(reception)]


class LoopStepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=LoopStep.choices)
    label = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True, help_text="When the step happened (null while not done).")
    done = serializers.BooleanField()


class LoopSerializer(serializers.Serializer):
    """The five-step closed loop (五单式闭环) of one deputy-raised case, read from its events."""

    current_step = serializers.CharField(allow_null=True,
                                         help_text="The furthest step done: one of the `step` values.")
    steps = LoopStepSerializer(many=True, help_text="collect, assign, supervise, feedback, evaluate — in order.")


def loop_of(case, *, deputy_user_id) -> dict:
    """``{"current_step", "steps"}`` of ``case`` (its events prefetched or queried once)."""
    steps = selectors.loop_steps(case, events=case.events.all(), deputy_user_id=deputy_user_id)
    return {"current_step": selectors.current_step(case, steps=steps), "steps": steps}


class DemandSerializer(serializers.ModelSerializer):
    """A deputy-raised case in short, with its deputy, station, reception and five-step loop.

    Addressed by the case's id (``/demands/{case_id}/``), like ``/cases/{id}/``.
    """

    id = serializers.IntegerField(source="case_id", read_only=True, help_text="The case's id.")
    number = serializers.CharField(source="case.number", read_only=True)
    title = serializers.CharField(source="case.title", read_only=True)
    status = serializers.CharField(source="case.status", read_only=True)
    village_name = serializers.CharField(source="case.village.short_name", read_only=True)
    deputy_name = serializers.CharField(source="deputy.name", read_only=True)
    station_name = serializers.CharField(source="station.name", read_only=True)
    loop = serializers.SerializerMethodField()

    class Meta:
        model = RaisedDemand
        fields = ["id", "number", "title", "status", "village_name", "deputy", "deputy_name", "station",
                  "station_name", "reception", "raised_at", "loop"]
        read_only_fields = fields

    @extend_schema_field(LoopSerializer)
    def get_loop(self, demand) -> dict:
        return LoopSerializer(loop_of(demand.case, deputy_user_id=demand.deputy.user_id)).data


class RaisedDemandLinkSerializer(serializers.ModelSerializer):
    deputy_name = serializers.CharField(source="deputy.name", read_only=True)
    station_name = serializers.CharField(source="station.name", read_only=True)

    class Meta:
        model = RaisedDemand
        fields = ["deputy", "deputy_name", "station", "station_name", "reception", "raised_at"]
        read_only_fields = fields


class DeputyCaseSerializer(CaseSerializer):
    """A case (as ``/cases/{id}/`` shows it) with its raising deputy, station, reception and loop."""

    raised_demand = RaisedDemandLinkSerializer(read_only=True)
    loop = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "raised_demand", "loop"]
        read_only_fields = fields

    @extend_schema_field(LoopSerializer)
    def get_loop(self, case) -> dict:
        return LoopSerializer(loop_of(case, deputy_user_id=case.raised_demand.deputy.user_id)).data


# --- Inputs -----------------------------------------------------------------------------------------------


class ReceptionCreateInput(serializers.Serializer):
    station = IdField(queryset=LiaisonStation.objects.filter(is_active=True))
    starts_at = serializers.DateTimeField(help_text="ISO 8601; without an offset, Asia/Shanghai time.")
    ends_at = serializers.DateTimeField()
    deputies = IdField(queryset=Deputy.objects.filter(is_active=True), many=True,
                                                  required=False, help_text="Deputies on duty (ids).")
    notes = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class RecordInput(serializers.Serializer):
    deputies = IdField(queryset=Deputy.objects.filter(is_active=True), many=True,
                                                  allow_empty=False, help_text="Deputies present (ids).")
    residents_received = serializers.IntegerField(min_value=0, max_value=100000)
    notes = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField(required=False, help_text="Actual start, if not as planned.")
    ends_at = serializers.DateTimeField(required=False, help_text="Actual end, if not as planned.")


class DemandInput(serializers.Serializer):
    """A demand raised at a reception (``POST /receptions/{id}/demands/``): the case fields of
    ``POST /cases/`` (``grid`` or ``village`` required) and, for the command centre, the raising ``deputy``.
    A deputy raises demands as themself and may leave ``deputy`` out."""

    deputy = IdField(queryset=Deputy.objects.select_related("station"),
                                                required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=CaseKind.choices)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=NOTE_MAX * 5, required=False, allow_blank=True, default="")
    category = IdField(queryset=Category.objects.all(), required=False, allow_null=True)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, allow_null=True)
    grid = IdField(queryset=Grid.objects.select_related("village"), required=False,
                                              allow_null=True)
    village = IdField(queryset=Village.objects.all(), required=False, allow_null=True)
    complainant_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    complainant_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="",
                                              validators=[phone_chars])
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FollowUpInput(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX, help_text="The deputy's follow-up note (跟踪督办).")


class EvaluateInput(serializers.Serializer):
    contacted = serializers.BooleanField(help_text="Did the handler contact the resident (是否联系)?")
    solved = serializers.BooleanField(help_text="Was the demand solved (是否解决)?")
    satisfaction = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in Satisfaction if s != Satisfaction.UNREACHABLE],
        help_text="The deputy's rating (the deputy is the caller, so never `unreachable`).")
    note = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")


class StatsQuery(serializers.Serializer):
    start = serializers.DateTimeField(required=False, help_text="Cases received at or after (ISO 8601).")
    end = serializers.DateTimeField(required=False, help_text="Cases received before (ISO 8601).")
    full_scope = serializers.BooleanField(required=False, default=False,
                                          help_text="true: include excluded cases (全口径).")


class _FiguresSerializer(serializers.Serializer):
    """The figures of ``reps.selectors.station_stats`` (rates null when their denominator is 0)."""

    collected = serializers.IntegerField(help_text="Demands raised (cases received in the period).")
    dispatched = serializers.IntegerField()
    resolved = serializers.IntegerField()
    resolved_on_time = serializers.IntegerField()
    valid_evaluations = serializers.IntegerField(help_text="The raising deputies' valid ratings.")
    contacted = serializers.IntegerField()
    solved = serializers.IntegerField()
    satisfied = serializers.IntegerField()
    basically_satisfied = serializers.IntegerField()
    closure_rate = serializers.FloatField(allow_null=True, help_text="resolved / dispatched")
    on_time_rate = serializers.FloatField(allow_null=True, help_text="resolved_on_time / resolved")
    response_rate = serializers.FloatField(allow_null=True, help_text="contacted / valid_evaluations")
    resolution_rate = serializers.FloatField(allow_null=True, help_text="solved / valid_evaluations")
    satisfaction_rate = serializers.FloatField(
        allow_null=True, help_text="(satisfied + 0.9 × basically_satisfied) / valid_evaluations")


class StationStatsSerializer(_FiguresSerializer):
    station_id = serializers.IntegerField()
    station_code = serializers.CharField()
    station = serializers.CharField()
    theme = serializers.CharField()


class DeputyStatsSerializer(_FiguresSerializer):
    deputy_id = serializers.IntegerField()
    deputy = serializers.CharField()
    station_id = serializers.IntegerField()
