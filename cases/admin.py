from django.contrib import admin

from .models import Case, CaseEvent, Category, Notification, SlaPolicy, SweepRun


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "parent", "default_urgency"]
    search_fields = ["name", "parent__name"]
    list_filter = ["level", "default_urgency"]
    autocomplete_fields = ["parent"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["urgency", "respond_within", "resolve_within", "warning_share"]
    list_filter = ["urgency"]
    search_fields = ["urgency"]


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    fields = ["at", "action", "from_status", "to_status", "actor", "note", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Cases are read here; every change of state goes through the lifecycle services (API and pages)."""

    list_display = ["number", "title", "status", "source", "urgency", "village", "grid", "received_at",
                    "resolve_due_at"]
    list_filter = ["status", "source", "kind", "urgency", "excluded", "village"]
    search_fields = ["number", "external_ref", "title"]
    date_hierarchy = "received_at"
    list_select_related = ["village", "grid"]
    inlines = [CaseEventInline]
    readonly_fields = [f.name for f in Case._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # deleting a case would take its append-only events with it


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    """Append-only: shown, never added, changed or deleted."""

    list_display = ["case", "action", "from_status", "to_status", "at", "actor"]
    list_filter = ["action", "to_status"]
    search_fields = ["case__number", "note"]
    date_hierarchy = "at"
    list_select_related = ["case", "actor"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in CaseEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "recipient", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "read_at"]
    search_fields = ["title", "recipient__username"]
    list_select_related = ["recipient"]


@admin.register(SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    """The deadline engine's heartbeat (cases.heartbeat): read-only."""

    list_display = ("started_at", "finished_at", "trigger", "cases", "marks", "notifications", "error")
    list_filter = ("trigger",)
    date_hierarchy = "started_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
