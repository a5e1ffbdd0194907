"""Representations of cases and what surrounds them, and the input of each lifecycle transition.

Serializers never change a case: views pass validated input to ``cases.services``. They find the caller's
scope (``context["scope"]``) and the request's clock (``context["now"]``, aware UTC) in their context.
"""
import datetime as dt
from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases import rules, services
from cases.boundary import has_passed
from cases.boundary import met as deadline_met
from cases.choices import Satisfaction, Status, Urgency
from cases.models import Case, CaseEvent, CaseRound, Category, Notification, SlaPolicy
from grids.api.base import IdField
from grids.models import Cadre, Grid, VillageAssignment
from grids.scope import active_on

NOTE_MAX = 2000
REASON_MAX = 500

# --- Reading a case -------------------------------------------------------------------------------------


def blank_or_choice(choices, **kwargs) -> serializers.ChoiceField:
    """A read-only choice field whose value may also be ``""`` (a blank model field: no callback yet, no
    previous state, no default urgency). Declared explicitly because the field ModelSerializer builds for a
    read-only blank choice field loses ``allow_blank``, and the schema's enum then refused the answers' ``""``
    (issue 19.5); this one is documented as ``oneOf: [<Enum>, BlankEnum]``."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True, **kwargs)


class DeadlineSerializer(serializers.Serializer):
    """The state of one deadline of a case at the request's time (see :func:`deadline_state`)."""

    due_at = serializers.DateTimeField(allow_null=True, help_text="The deadline, set from received_at at receipt "
                                                                  "(null: no such deadline).")
    warn_at = serializers.DateTimeField(allow_null=True, help_text="When the warning point passes.")
    met_at = serializers.DateTimeField(allow_null=True, help_text="When it was met (responded / resolved).")
    open = serializers.BooleanField(help_text="Set, not met, and the case not cancelled: the clock is running.")
    remaining_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds from now to the deadline while open (negative once past); else null.")
    warned = serializers.BooleanField(help_text="The warning point passed before the deadline was met.")
    breached = serializers.BooleanField(help_text="The deadline passed unmet, or was met late.")
    on_time = serializers.BooleanField(allow_null=True, help_text="Met by the deadline (null while not met).")


def deadline_state(*, due_at, warn_at, met_at, now: dt.datetime, stopped_at=None) -> dict:
    """The state of one deadline for display (7×24 wall clock, DESIGN §5), derived from timestamps only.

    ``due_at``/``warn_at``/``met_at``: aware datetimes or None; ``now``: the request's time (aware);
    ``stopped_at``: when the case stopped running unmet (cancelled), else None. Returns the fields of
    :class:`DeadlineSerializer`; ``remaining_seconds`` is an int (seconds, floor) or None.
    """
    if due_at is None:
        return {"due_at": None, "warn_at": warn_at, "met_at": met_at, "open": False, "remaining_seconds": None,
                "warned": False, "breached": False, "on_time": None}
    is_open = met_at is None and stopped_at is None
    reference = met_at or stopped_at or now
    return {
        "due_at": due_at,
        "warn_at": warn_at,
        "met_at": met_at,
        "open": is_open,
        "remaining_seconds": int((due_at - now).total_seconds() // 1) if is_open else None,
        "warned": has_passed(warn_at, reference),  # one rule for the instant (cases.boundary)
        "breached": has_passed(due_at, reference),
        "on_time": deadline_met(met_at, due_at),
    }


#: Formats datetimes as every DateTimeField of the API does (ISO 8601 in Asia/Shanghai).
_DATETIME = serializers.DateTimeField()


class CaseDeadlinesSerializer(serializers.Serializer):
    dispatch = DeadlineSerializer(help_text="Dispatch (派单) by this deadline, from received_at (issue 12 §4).")
    respond = DeadlineSerializer(help_text="Contact the complainant (联系) by this deadline.")
    resolve = DeadlineSerializer(help_text="Resolve (办结) by this deadline.")


class CaseRoundSerializer(serializers.ModelSerializer):
    """A finished round of handling (办理轮次, :class:`cases.models.CaseRound`): kept whole at the reopen that
    ended it; ``respond_late``/``resolve_late`` are its verdicts (null: no such deadline)."""

    satisfaction = blank_or_choice(Satisfaction.choices)

    class Meta:
        model = CaseRound
        fields = ["number", "started_at", "ended_at", "respond_due_at", "responded_at", "respond_breached_at",
                  "respond_late", "resolve_due_at", "resolved_at", "resolve_breached_at", "resolve_late", "solved",
                  "callback_at", "callback_contacted", "callback_solved", "satisfaction"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    """A case as shown to the caller: complainant phone masked unless the caller's role sees it whole."""

    category_name = serializers.CharField(source="category.name", read_only=True, allow_null=True, default=None)
    village_name = serializers.CharField(source="village.short_name", read_only=True)
    grid_name = serializers.SerializerMethodField()
    handler_name = serializers.CharField(source="handler.name", read_only=True, allow_null=True, default=None)
    complainant_phone = serializers.SerializerMethodField(
        help_text="Masked (138****5678) except for dispatchers, supervisors and admins.")
    deadlines = serializers.SerializerMethodField()
    duplicate_of = serializers.SerializerMethodField(
        help_text="The original case this one repeats; null when none or when it lies outside your scope.")
    extension_latest_until = serializers.SerializerMethodField(
        help_text="The latest resolve deadline an extension may ask for now (EXTENSION_MAX_DAYS and the complex "
                  "window); null when no extension can be asked for.")

    satisfaction = blank_or_choice(Satisfaction.choices)
    rounds = CaseRoundSerializer(many=True, read_only=True, help_text=(
        "The case's finished rounds of handling (issue 12 §1), oldest first; the case's own deadline and callback "
        "fields are its current round (round_number). earlier_respond_late / earlier_resolve_late: a finished "
        "round was late — the case counts as late (per case, the default of the statistics)."))

    class Meta:
        model = Case
        fields = [
            "id", "number", "external_ref", "source_system", "kind", "source", "category", "category_name",
            "urgency", "title", "description", "complainant_name", "complainant_phone", "address", "village", "village_name", "grid",
            "grid_name", "lng", "lat", "status", "handler", "handler_name", "created_by",
            "received_at", "dispatched_at", "accepted_at", "responded_at", "resolved_at", "closed_at",
            "cancelled_at", "respond_due_at", "resolve_due_at", "deadline_source", "deadlines",
            "extension_requested_until", "extension_reason", "extension_latest_until", "escalated_at",
            "solved", "result", "callback_at", "callback_contacted", "callback_solved", "satisfaction",
            "excluded", "exclusion_reason", "duplicate_of", "round_number", "earlier_respond_late",
            "earlier_resolve_late", "rounds", "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_extension_latest_until(self, case) -> str | None:
        # Only while an extension can be asked for (or is pending): the latest deadline it may ask for.
        if case.status not in services.ALLOWED_FROM["extend"] or case.resolve_due_at is None:
            return None
        if "complex_window" not in self.context:  # one query per request, not per row
            self.context["complex_window"] = services.complex_resolve_window()
        latest = services.latest_extension_until(case, complex_window=self.context["complex_window"])
        return _DATETIME.to_representation(latest)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_grid_name(self, case) -> str | None:
        return case.grid.name if case.grid_id else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_duplicate_of(self, case) -> int | None:
        # The original may lie outside the caller's scope; its existence is not shown then (DESIGN §1).
        return visible_case_id(self.context["scope"], case.duplicate_of_id)

    def get_complainant_phone(self, case) -> str:
        if rules.sees_full_phone(self.context["scope"]):
            return case.complainant_phone
        return rules.mask_phone(case.complainant_phone)

    def to_representation(self, case):
        data = super().to_representation(case)
        # Numbers and labelled names inside the free text are masked like the complainant's (DESIGN §10).
        for name in ("title", "description"):
            data[name] = rules.shown_text(self.context["scope"], data[name])
        return data

    @extend_schema_field(CaseDeadlinesSerializer)
    def get_deadlines(self, case) -> dict:
        # Plain dicts rather than a nested serializer per row: a page of 200 cases stays cheap.
        now = self.context["now"]
        stopped = case.cancelled_at if case.status == Status.CANCELLED else None
        out = {}
        for name, due, warn, met in (("dispatch", case.dispatch_due_at, case.dispatch_warn_at, case.dispatched_at),
                                     ("respond", case.respond_due_at, case.respond_warn_at, case.responded_at),
                                     ("resolve", case.resolve_due_at, case.resolve_warn_at, case.resolved_at)):
            state = deadline_state(due_at=due, warn_at=warn, met_at=met, now=now, stopped_at=stopped)
            for key in ("due_at", "warn_at", "met_at"):
                state[key] = None if state[key] is None else _DATETIME.to_representation(state[key])
            out[name] = state
        return out


def visible_case_id(scope, case_id: int | None) -> int | None:
    """``case_id`` when that case lies in ``scope`` (one query for local roles), else None."""
    if case_id is None or scope.town_wide:
        return case_id
    return case_id if scope.cases(Case.objects.filter(pk=case_id)).exists() else None


class CaseEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.username", read_only=True, allow_null=True, default=None)
    action_label = serializers.SerializerMethodField(
        help_text="The action's label; the respond step of a case without a complainant reads 开始处置.")
    from_status = blank_or_choice(Status.choices)

    class Meta:
        model = CaseEvent
        fields = ["id", "action", "action_label", "from_status", "to_status", "at", "actor", "actor_name", "note",
                  "data"]
        read_only_fields = fields

    def get_action_label(self, event) -> str:
        """The label of the event's action on its case (:meth:`cases.models.Case.action_label`)."""
        return str(event.case.action_label(event.action))

    def to_representation(self, event):
        out = super().to_representation(event)
        number = (out.get("data") or {}).get("duplicate_of")
        scope = self.context.get("scope")
        if number and scope is not None and not scope.town_wide:
            if not scope.cases(Case.objects.filter(number=number)).exists():
                out["data"] = {**out["data"], "duplicate_of": None}  # an original outside the caller's scope
        return out


# --- Logging a case -------------------------------------------------------------------------------------

phone_chars = RegexValidator(r"^[0-9+\-() ]*$", "电话号码只能包含数字、空格和 + - ( )。")


class OnTheSpotSerializer(serializers.Serializer):
    solved = serializers.BooleanField(default=True)
    result = serializers.CharField(max_length=NOTE_MAX, help_text="What was done on the spot.")


class CaseCreateSerializer(serializers.ModelSerializer):
    """Input of ``POST /cases/``: a ``grid`` or a ``village`` is required (a grid implies its village).

    ``on_the_spot`` logs and resolves the case at once (就地解决, DESIGN §4; needs a ``grid``). The server's
    clock sets ``received_at``.
    """

    serializer_related_field = IdField  # grid, village, category: integer ids only

    complainant_phone = serializers.CharField(max_length=30, required=False, allow_blank=True,
                                              validators=[phone_chars])
    lng = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False,
                                   allow_null=True)
    lat = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False,
                                   allow_null=True)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False,
                                      help_text="Default: the category's default urgency, else `general`.")
    on_the_spot = OnTheSpotSerializer(required=False, help_text="Resolve at once (就地解决); needs a grid.")

    class Meta:
        model = Case
        fields = ["kind", "source", "category", "urgency", "title", "description", "grid", "village",
                  "complainant_name", "complainant_phone", "address", "lng", "lat", "external_ref", "on_the_spot"]
        extra_kwargs = {
            "grid": {"required": False, "allow_null": True},
            "village": {"required": False, "allow_null": True},
            "category": {"required": False, "allow_null": True},
        }
        validators = []  # the service checks external_ref per source and the grid/village agreement


# --- Transition inputs ----------------------------------------------------------------------------------


def _note(required=False, help_text="A note for the case's timeline."):
    if required:
        return serializers.CharField(max_length=NOTE_MAX, help_text=help_text)
    return serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="",
                                 help_text=help_text)


class NoteInput(serializers.Serializer):
    note = _note()


class RequiredNoteInput(serializers.Serializer):
    note = _note(required=True)


class DispatchInput(serializers.Serializer):
    grid = IdField(queryset=Grid.objects.select_related("village", "leader__user"),
                                              help_text="The micro-grid to dispatch to.")
    handler = IdField(
        queryset=Cadre.objects.filter(is_active=True).select_related("user"), required=False, allow_null=True,
        help_text="An active cadre of that grid or village; default: the grid's leader.")
    note = _note()

    def validate(self, attrs):
        grid, handler = attrs["grid"], attrs.get("handler")
        if handler is not None:
            belongs = (
                grid.leader_id == handler.pk
                or grid.members.filter(pk=handler.pk).exists()
                or grid.village.chief_grid_leader_id == handler.pk
                or VillageAssignment.objects.filter(active_on(self.context["today"]), cadre=handler,
                                                    village_id=grid.village_id).exists()
            )
            if not belongs:
                raise serializers.ValidationError({"handler": ["承办人须为该微网格或所在村/社区的干部。"]})
        return attrs


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)


class ResolveInput(serializers.Serializer):
    solved = serializers.BooleanField(help_text="Was the demand solved?")
    result = serializers.CharField(max_length=NOTE_MAX, help_text="What was done (办理结果).")


class CallbackInput(serializers.Serializer):
    contacted = serializers.BooleanField(required=False, allow_null=True, default=None,
                                         help_text="Contacted by the handler (是否联系)? Required unless unreachable.")
    solved = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text="Solved (是否解决)? Required unless unreachable.")
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    note = _note()


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)
    duplicate_of = IdField(
        queryset=Case.objects.none(), required=False, allow_null=True,
        help_text="The original case (in your scope) when this one repeats it.")
    exclude = serializers.BooleanField(default=True, help_text="Also take it out of the assessed scope (剔除).")
    confirm_other_caller = serializers.BooleanField(
        default=False, help_text="Needed (true) when duplicate_of names a different caller (phone or platform "
                                 "account); recorded on the event. Without it such a cancel answers 400.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scope = self.context.get("scope")
        if scope is not None:
            self.fields["duplicate_of"].queryset = scope.cases(Case.objects.all())


class ExtendInput(serializers.Serializer):
    until = serializers.DateTimeField(help_text="New resolve deadline asked for (ISO 8601 with offset).")
    reason = serializers.CharField(max_length=REASON_MAX)


class ChangeUrgencyInput(serializers.Serializer):
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    note = _note()


# --- Reference data and notifications --------------------------------------------------------------------


class CategorySerializer(serializers.ModelSerializer):
    default_urgency = blank_or_choice(Urgency.choices)

    class Meta:
        model = Category
        fields = ["id", "parent", "name", "level", "default_urgency"]
        read_only_fields = fields


class CategoryTreeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    default_urgency = blank_or_choice(Urgency.choices)
    children = serializers.ListField(child=serializers.DictField(), help_text="Nodes of the next level, same shape.")


class SlaPolicySerializer(serializers.ModelSerializer):
    """Windows in whole seconds of wall-clock time (7×24); ``warning_share`` in (0, 1)."""

    dispatch_within_seconds = serializers.IntegerField(
        min_value=60, max_value=366 * 86400, required=False, allow_null=True,
        help_text="Dispatch time limit from received_at (DB11/T 2021—2022: 1 h / 2 h / 24 h); null: none.")
    respond_within_seconds = serializers.IntegerField(min_value=60, max_value=366 * 86400)
    resolve_within_seconds = serializers.IntegerField(min_value=60, max_value=366 * 86400)
    warning_share = serializers.DecimalField(max_digits=4, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal("0.999"))

    class Meta:
        model = SlaPolicy
        fields = ["id", "urgency", "dispatch_within_seconds", "respond_within_seconds", "resolve_within_seconds",
                  "warning_share"]

    def to_representation(self, policy):
        return {
            "id": policy.pk,
            "urgency": policy.urgency,
            "dispatch_within_seconds": (None if policy.dispatch_within is None
                                        else int(policy.dispatch_within.total_seconds())),
            "respond_within_seconds": int(policy.respond_within.total_seconds()),
            "resolve_within_seconds": int(policy.resolve_within.total_seconds()),
            "warning_share": f"{policy.warning_share:.3f}",
        }

    def validate(self, attrs):
        respond = attrs.get("respond_within_seconds", getattr(self.instance, "respond_within", None))
        resolve = attrs.get("resolve_within_seconds", getattr(self.instance, "resolve_within", None))
        respond = respond.total_seconds() if isinstance(respond, dt.timedelta) else respond
        resolve = resolve.total_seconds() if isinstance(resolve, dt.timedelta) else resolve
        if respond is not None and resolve is not None and respond > resolve:
            raise serializers.ValidationError({"resolve_within_seconds": ["办结时限不能短于响应时限。"]})
        for name in ("respond_within", "resolve_within"):
            if f"{name}_seconds" in attrs:
                attrs[name] = dt.timedelta(seconds=attrs.pop(f"{name}_seconds"))
        if "dispatch_within_seconds" in attrs:
            seconds = attrs.pop("dispatch_within_seconds")
            attrs["dispatch_within"] = None if seconds is None else dt.timedelta(seconds=seconds)
        return attrs


class NotificationSerializer(serializers.ModelSerializer):
    case_number = serializers.CharField(source="case.number", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "case", "case_number", "created_at", "read_at"]
        read_only_fields = fields


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were marked read now.")
