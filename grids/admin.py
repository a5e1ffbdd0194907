from django.contrib import admin

from .models import Cadre, Grid, LoginFailure, Town, Village, VillageAssignment


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


@admin.register(VillageAssignment)
class VillageAssignmentAdmin(admin.ModelAdmin):
    list_display = ["cadre", "village", "start_date", "end_date"]
    search_fields = ["cadre__name", "village__name"]
    list_filter = ["start_date", "end_date", "village"]
    autocomplete_fields = ["cadre", "village"]
    list_select_related = ["cadre", "village"]


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
