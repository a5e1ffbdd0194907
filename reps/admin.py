from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from grids.admin import CadreAdmin
from grids.models import Cadre

from .models import Deputy, LiaisonStation, PartnerPlatform, RaisedDemand, Reception, Visit, VisitCase
from .visits import rotate_calendar_token


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


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """Visits are made by planning and changed only by ``reps.visits`` services, so the admin reads them:
    no add, change or delete (nor the "delete selected" action)."""

    list_display = ["iso_week", "planned_date", "cadre", "village", "status", "households_visited",
                    "people_received", "reminded_at"]
    list_filter = ["status", "iso_week", "village__kind", ("cadre", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["iso_week", "cadre__name", "village__name", "village__code", "notes"]
    date_hierarchy = "planned_date"
    list_select_related = ["cadre", "village"]
    ordering = ["-planned_date", "village__code"]
    readonly_fields = [f.name for f in Visit._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(VisitCase)
class VisitCaseAdmin(admin.ModelAdmin):
    """Links are written with their case (``reps.visits.raise_case_at_visit``): read-only here."""

    list_display = ["case", "visit"]
    search_fields = ["case__number", "visit__village__name", "visit__iso_week"]
    list_select_related = ["case", "visit__village"]
    readonly_fields = ["case", "visit"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(Cadre)


@admin.register(Cadre)
class CadreWithCalendarAdmin(CadreAdmin):
    """The registry's cadre admin plus the cadre's secret calendar link of visits and the action that
    replaces it (the old link then answers 404)."""

    readonly_fields = [*CadreAdmin.readonly_fields, "calendar_link"]
    actions = [*CadreAdmin.actions, "rotate_calendar_links"]

    @admin.display(description=_("走访日历订阅链接"))
    def calendar_link(self, obj):
        if obj.pk is None:
            return "—"
        path = reverse("grids:visit-calendar", args=[obj.calendar_token])
        return format_html('<a href="{0}">{0}</a>', path)

    @admin.action(description=_("更换日历订阅链接（旧链接失效）"))
    def rotate_calendar_links(self, request, queryset):
        for cadre in queryset:
            rotate_calendar_token(cadre)
        self.message_user(request, _("已更换 %d 个日历订阅链接。") % queryset.count(), messages.SUCCESS)
