"""Read-only representations of the grid registry (villages, grids, cadres, assignments)."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grids.models import Cadre, Grid, Village, VillageAssignment


class VillageSerializer(serializers.ModelSerializer):
    short_name = serializers.CharField(read_only=True, help_text="Everyday name, e.g. 大灰店村.")
    chief_grid_leader_name = serializers.CharField(source="chief_grid_leader.name", read_only=True,
                                                   allow_null=True, default=None)

    class Meta:
        model = Village
        fields = ["id", "code", "name", "short_name", "kind", "urban_rural_code", "lng", "lat",
                  "chief_grid_leader", "chief_grid_leader_name"]
        read_only_fields = fields


class GridSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.short_name", read_only=True)
    leader_name = serializers.CharField(source="leader.name", read_only=True, allow_null=True, default=None)
    member_ids = serializers.PrimaryKeyRelatedField(source="members", many=True, read_only=True,
                                                    help_text="Cadres of this grid (网格员).")

    class Meta:
        model = Grid
        fields = ["id", "code", "name", "village", "village_name", "leader", "leader_name", "member_ids",
                  "households"]
        read_only_fields = fields


class CadreSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.short_name", read_only=True, allow_null=True,
                                         default=None)

    class Meta:
        model = Cadre
        fields = ["id", "name", "phone", "level", "position", "role", "village", "village_name", "is_active"]
        read_only_fields = fields


class AssignmentSerializer(serializers.ModelSerializer):
    cadre_name = serializers.CharField(source="cadre.name", read_only=True)
    village_name = serializers.CharField(source="village.short_name", read_only=True)
    active = serializers.SerializerMethodField(
        help_text="Active on today's Asia/Shanghai date (start_date <= today <= end_date, open end allowed).")

    class Meta:
        model = VillageAssignment
        fields = ["id", "cadre", "cadre_name", "village", "village_name", "start_date", "end_date", "active"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_active(self, obj) -> bool:
        today = self.context["today"]
        return obj.start_date <= today and (obj.end_date is None or obj.end_date >= today)
