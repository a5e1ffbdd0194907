from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .channels import services as channel_services
from .choices import NotificationKind
from .models import (
    Case,
    CaseEvent,
    Category,
    Delivery,
    DeliveryAttempt,
    ExternalSystem,
    FeedbackAttempt,
    FeedbackDelivery,
    Notification,
    NotificationChannel,
    SlaPolicy,
    SweepRun,
    UpstreamOrder,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "parent", "default_urgency"]
    search_fields = ["name", "parent__name"]
    list_filter = ["level", "default_urgency"]
    autocomplete_fields = ["parent"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["urgency", "dispatch_within", "respond_within", "resolve_within", "warning_share"]
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
class NotificationChannelForm(forms.ModelForm):
    """The channel URL is write-only: typed once, stored encrypted, never shown again (only its hint)."""

    url = forms.CharField(label=_("渠道地址"), required=False, widget=forms.PasswordInput(render_value=False),
                          help_text=_("Apprise 地址，如 dingtalk://TOKEN、wecombot://KEY、feishu://TOKEN；"
                                      "也可粘贴机器人的 Webhook 地址。修改时留空则保留原地址。"))
    kinds = forms.MultipleChoiceField(label=_("通知类型"), required=False, choices=NotificationKind.choices,
                                      widget=forms.CheckboxSelectMultiple, help_text=_("不选为全部类型"))

    class Meta:
        model = NotificationChannel
        fields = ["user", "village", "grid", "label", "kinds", "enabled"]

    def clean(self):
        data = super().clean()
        url = data.get("url")
        if url:
            try:
                channel_services.set_url(self.instance, url)
            except ValidationError as exc:
                self.add_error("url", exc.message_dict.get("url", exc.messages))
        elif not self.instance.pk:
            self.add_error("url", _("请填写渠道地址。"))
        return data


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ["__str__", "service", "user", "village", "grid", "enabled", "last_tested_at", "last_test_ok"]
    list_filter = ["service", "enabled", "last_test_ok"]
    search_fields = ["label", "user__username", "village__name", "grid__name"]
    readonly_fields = ["service", "url_hint", "last_tested_at", "last_test_ok"]
    autocomplete_fields = ["user"]
    actions = ["send_test"]

    @admin.action(description=_("发送测试消息"))
    def send_test(self, request, queryset):
        for channel in queryset:
            attempt = channel_services.send_test_message(channel)
            level = messages.SUCCESS if attempt.ok else messages.ERROR
            self.message_user(request, f"{channel}: {'OK' if attempt.ok else attempt.error}", level)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "at", "ok", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only: one message to one channel with its tries."""

    list_display = ["created_at", "kind", "title", "channel", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "kind", "channel__service"]
    search_fields = ["title", "channel__label", "channel__user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["channel__user", "channel__village", "channel__grid"]
    inlines = [DeliveryAttemptInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    """The delivery log: channel, attempt, result, time (read-only)."""

    list_display = ["at", "channel", "delivery", "number", "ok", "error", "duration_ms"]
    list_filter = ["ok", "channel__service"]
    date_hierarchy = "at"
    list_select_related = ["channel__user", "channel__village", "channel__grid", "delivery"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in DeliveryAttempt._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Connected systems (issue 13) -----------------------------------------------------------------------

@admin.register(ExternalSystem)
class ExternalSystemAdmin(admin.ModelAdmin):
    """External systems. The API key is shown once, when issued (action "发放新密钥"); the webhook secret is
    never shown whole after saving."""

    list_display = ["code", "name", "kind", "source", "webhook_url", "active", "key_prefix"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]
    readonly_fields = ["key_prefix", "created_at", "secret_hint"]
    exclude = ["key_hash"]
    actions = ["issue_new_key"]

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.webhook_secret:
            fields = [f for f in fields if f != "webhook_secret"]  # replace it through the shell or a new system
        return fields

    @admin.display(description=_("签名密钥"))
    def secret_hint(self, obj):
        return f"…{obj.webhook_secret[-4:]}" if obj and obj.webhook_secret else "—"

    def save_model(self, request, obj, form, change):
        if not obj.key_hash:
            from .interop.upstream import issue_key

            key = issue_key(obj)
            messages.warning(request, _("新 API 密钥（只显示这一次）：%s") % key)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("发放新密钥（旧密钥立即失效）"))
    def issue_new_key(self, request, queryset):
        from .interop.upstream import issue_key

        for system in queryset:
            key = issue_key(system)
            system.save(update_fields=["key_prefix", "key_hash"])
            messages.warning(request, _("%(code)s 的新 API 密钥（只显示这一次）：%(key)s") % {"code": system.code, "key": key})


@admin.register(UpstreamOrder)
class UpstreamOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "system", "case", "updates", "created_at", "updated_at"]
    list_filter = ["system"]
    search_fields = ["number", "case__number"]
    readonly_fields = ["system", "number", "case", "fields", "digest", "updates", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False


class FeedbackAttemptInline(admin.TabularInline):
    model = FeedbackAttempt
    fields = ["number", "at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FeedbackDelivery)
class FeedbackDeliveryAdmin(admin.ModelAdmin):
    list_display = ["order", "step", "status", "attempts", "created_at", "delivered_at", "gave_up_at", "last_error"]
    list_filter = ["status", "step", "order__system"]
    search_fields = ["order__number", "case__number", "idempotency_key"]
    readonly_fields = ["order", "case", "event", "step", "idempotency_key", "body", "status", "attempts",
                       "next_attempt_at", "last_status_code", "last_error", "created_at", "delivered_at", "gave_up_at"]
    inlines = [FeedbackAttemptInline]

    def has_add_permission(self, request):
        return False
