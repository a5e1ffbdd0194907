from django.contrib import admin

from .models import Deputy, LiaisonStation, PartnerPlatform, RaisedDemand, Reception


class PartnerPlatformInline(admin.TabularInline):
    model = PartnerPlatform
    fields = ["kind", "name"]
    extra = 0


class DeputyInline(admin.TabularInline):
    model = Deputy
    fields = ["code", "name", "level", "user", "is_active"]
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(LiaisonStation)
class LiaisonStationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "theme", "village", "reception_weekday", "reception_starts", "reception_ends",
                    "volunteers", "social_organisations", "is_active"]
    list_filter = ["theme", "reception_weekday", "is_active"]
    search_fields = ["code", "name", "village__name"]
    autocomplete_fields = ["village", "villages_served"]
    list_select_related = ["village"]
    inlines = [PartnerPlatformInline, DeputyInline]


@admin.register(Deputy)
class DeputyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "station", "user", "is_active"]
    list_filter = ["level", "station", "is_active"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["station", "user"]
    list_select_related = ["station", "user"]


@admin.register(Reception)
class ReceptionAdmin(admin.ModelAdmin):
    """Receptions are read here; planning, recording and cancelling go through ``reps.services`` (API)."""

    list_display = ["station", "date", "starts_at", "ends_at", "regular", "status", "residents_received"]
    list_filter = ["status", "regular", "station"]
    date_hierarchy = "date"
    list_select_related = ["station"]
    readonly_fields = ["station", "date", "starts_at", "ends_at", "regular", "status", "deputies",
                       "residents_received", "notes", "created_at", "recorded_at", "recorded_by", "cancelled_at"]

    def has_add_permission(self, request):
        return False


@admin.register(RaisedDemand)
class RaisedDemandAdmin(admin.ModelAdmin):
    """Created with their case by ``reps.services.raise_demand``; shown, never added or changed here."""

    list_display = ["case", "deputy", "station", "reception", "raised_at"]
    list_filter = ["station"]
    search_fields = ["case__number", "deputy__name"]
    list_select_related = ["case", "deputy", "station", "reception"]
    readonly_fields = ["case", "deputy", "station", "reception", "raised_at"]

    def has_add_permission(self, request):
        return False
