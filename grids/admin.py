from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import Cadre, Grid, LoginFailure, Town, Village, VillageAssignment, Visit
from .visits import rotate_calendar_token


@admin.register(Town)
class TownAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "district"]
    search_fields = ["code", "name"]
    list_filter = ["district"]


class GridInline(admin.TabularInline):
    model = Grid
    fields = ["code", "name", "leader", "households"]
    extra = 0
    autocomplete_fields = ["leader"]


@admin.register(Village)
class VillageAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "urban_rural_code", "chief_grid_leader"]
    search_fields = ["code", "name"]
    list_filter = ["kind", "urban_rural_code", "town"]
    autocomplete_fields = ["chief_grid_leader"]
    inlines = [GridInline]


@admin.register(Grid)
class GridAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "village", "leader", "households"]
    search_fields = ["code", "name", "village__name", "leader__name"]
    list_filter = ["village__kind", "village"]
    autocomplete_fields = ["village", "leader", "members"]
    list_select_related = ["village", "leader"]


@admin.register(Cadre)
class CadreAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "role", "position", "village", "user", "is_active"]
    search_fields = ["name", "phone", "position", "user__username"]
    list_filter = ["level", "role", "is_active"]
    autocomplete_fields = ["village", "user"]
    list_select_related = ["village", "user"]
    readonly_fields = ["calendar_link"]
    actions = ["rotate_calendar_links"]

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


@admin.register(VillageAssignment)
class VillageAssignmentAdmin(admin.ModelAdmin):
    list_display = ["cadre", "village", "start_date", "end_date"]
    search_fields = ["cadre__name", "village__name"]
    list_filter = ["start_date", "end_date", "village"]
    autocomplete_fields = ["cadre", "village"]
    list_select_related = ["cadre", "village"]


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """Visits are made by planning and changed only by ``grids.visits`` services, so the admin reads them:
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


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    """Failed logins (grids.auth): read-only audit; no password is ever stored."""

    list_display = ["at", "username", "user", "address", "way", "locked"]
    list_filter = ["way", "locked"]
    search_fields = ["username", "address"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
