"""The upstream contract (issue 13 §1): ``/api/v1/upstream/…`` for a 12345 platform, and the delivery log of a
case for the command centre.

An upstream system authenticates with its own API key (``Authorization: Api-Key <key>``, or the header
``X-Api-Key``); it reaches only its own orders (another system's order number is a 404). Errors follow the
API's usual bodies: 400 ``{field: [messages]}``, 401/403/404/409 ``{"code", "detail"}``.
"""
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from grids.api.base import ScopedMixin, error_responses
from grids.choices import Role
from grids.models import Grid, Village

from ..choices import CaseKind, Satisfaction, Urgency
from ..importing import CategoryIndex, _choice_map
from ..models import Case, ExternalSystem, FeedbackAttempt, FeedbackDelivery, UpstreamOrder
from . import upstream


class SystemPrincipal:
    """``request.user`` of a call made with an external system's API key (not a person)."""

    is_authenticated = True
    is_active = True
    is_staff = is_superuser = False
    pk = id = None

    def __init__(self, system: ExternalSystem):
        self.system = system
        self.username = f"system:{system.code}"

    def __str__(self):
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>`` or ``X-Api-Key: <key>`` → (SystemPrincipal, ExternalSystem)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if header and header[0] == self.keyword:
            if len(header) != 2:
                raise exceptions.AuthenticationFailed("Api-Key 后须有一个密钥。")
            key = header[1]
        else:
            key = request.headers.get("X-Api-Key", "")
            if not key:
                return None
        system = upstream.system_for_key(key)
        if system is None:
            raise exceptions.AuthenticationFailed("API 密钥无效或已停用。")
        return SystemPrincipal(system), system

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The schema's description of :class:`ApiKeyAuthentication`."""

    target_class = "cases.interop.api.ApiKeyAuthentication"
    name = "upstreamApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>` of an external system (or the header `X-Api-Key: <key>`)."}


class IsUpstreamSystem(permissions.BasePermission):
    message = "仅限上级派单平台的 API 密钥。"

    def has_permission(self, request, view):
        return isinstance(request.auth, ExternalSystem) and request.auth.kind == ExternalSystem.Kind.UPSTREAM


def find_village(text: str) -> Village | None:
    """The village ``text`` names: its 12-digit code, full name or short name (大灰店村委会 / 大灰店村)."""
    for village in Village.objects.all():
        if text in (village.code, village.name, village.short_name):
            return village
    return None


class ComplainantInput(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class UpstreamOrderInput(serializers.Serializer):
    """A work order (工单) sent down by the upstream platform."""

    order_number = serializers.CharField(max_length=64, help_text="The platform's order number (工单号): the key "
                                                                  "of idempotency within your system.")
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                            help_text="When the platform received it (ISO 8601 with offset); "
                                                      "default now.")
    respond_due_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                               help_text="The platform's respond deadline; it governs the case.")
    resolve_due_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                               help_text="The platform's resolve deadline; it governs the case.")
    kind = serializers.CharField(required=False, default=CaseKind.COMPLAINT,
                                 help_text="咨询 / 求助 / 投诉 / 举报 / 建议 or enquiry, help, complaint, report, suggestion.")
    category = serializers.CharField(required=False, allow_blank=True, default="",
                                     help_text="Category text: a top-level name, a unique name or 一级/二级/三级.")
    urgency = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="紧急 / 水电气热 / 一般 / 疑难复杂 or the English values; empty: the "
                                              "category's default.")
    complainant = ComplainantInput(required=False, default=dict)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    text = serializers.CharField(required=False, allow_blank=True, default="", help_text="The demand (诉求内容).")
    village = serializers.CharField(required=False, allow_blank=True, default="",
                                    help_text="Village: 12-digit code, full or short name (else the system's default).")
    grid = serializers.CharField(required=False, allow_blank=True, default="", help_text="Micro-grid code.")
    lat = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True, default=None,
                                   min_value=-90, max_value=90)
    lng = serializers.DecimalField(max_digits=9, decimal_places=6, required=False, allow_null=True, default=None,
                                   min_value=-180, max_value=180)

    def validate_kind(self, value):
        found = _choice_map(CaseKind).get(value)
        if found is None:
            raise serializers.ValidationError("未知的诉求类型。")
        return found

    def validate_urgency(self, value):
        if not value:
            return None
        found = _choice_map(Urgency).get(value)
        if found is None:
            raise serializers.ValidationError("未知的紧急程度。")
        return found

    def validate_category(self, value):
        if not value:
            return None
        try:
            return CategoryIndex().category(value)
        except ValueError as exc:
            raise serializers.ValidationError("分类有歧义。" if "ambiguous" in str(exc) else "未知的分类。") from None

    def validate_village(self, value):
        if not value:
            return None
        village = find_village(value)
        if village is None:
            raise serializers.ValidationError("未知的村/社区。")
        return village

    def validate_grid(self, value):
        if not value:
            return None
        grid = Grid.objects.select_related("village").filter(code=value).first()
        if grid is None:
            raise serializers.ValidationError("未知的微网格编码。")
        return grid

    def validate(self, attrs):
        if not (attrs.get("title") or attrs.get("text")):
            raise serializers.ValidationError({"text": ["标题和诉求内容不能都为空。"]})
        if attrs.get("grid") and attrs.get("village") and attrs["grid"].village_id != attrs["village"].pk:
            raise serializers.ValidationError({"grid": ["微网格不属于所给村/社区。"]})
        return attrs

    def to_order(self) -> upstream.OrderInput:
        d = self.validated_data
        return upstream.OrderInput(
            number=d["order_number"].strip(), received_at=d["received_at"], respond_due_at=d["respond_due_at"],
            resolve_due_at=d["resolve_due_at"], kind=d["kind"], category=d["category"], urgency=d["urgency"],
            complainant_name=d["complainant"].get("name", ""), complainant_phone=d["complainant"].get("phone", ""),
            address=d["address"], title=d["title"].strip(), text=d["text"].strip(), village=d["village"],
            grid=d["grid"], lat=d["lat"], lng=d["lng"],
        )


class UpstreamOrderAnswer(serializers.Serializer):
    """What the platform gets back for an order: the case it is, no personal data."""

    order_number = serializers.CharField()
    case_number = serializers.CharField()
    status = serializers.CharField()
    received_at = serializers.DateTimeField()
    respond_due_at = serializers.DateTimeField(allow_null=True)
    resolve_due_at = serializers.DateTimeField(allow_null=True)
    created = serializers.BooleanField(help_text="true: this request created the case (201).")
    updated = serializers.BooleanField(help_text="true: a changed repeat, recorded as an update event.")
    changed = serializers.ListField(child=serializers.CharField())
    updates = serializers.IntegerField(help_text="Changed repeats recorded so far.")


def _answer(order: UpstreamOrder, *, created=False, updated=False, changed=()) -> dict:
    case = Case.objects.get(pk=order.case_id)
    return {"order_number": order.number, "case_number": case.number, "status": case.status,
            "received_at": case.received_at, "respond_due_at": case.respond_due_at,
            "resolve_due_at": case.resolve_due_at, "created": created, "updated": updated,
            "changed": list(changed), "updates": order.updates}


class _UpstreamView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsUpstreamSystem]

    def order(self, number) -> UpstreamOrder:
        return get_object_or_404(UpstreamOrder.objects.select_related("case"), system=self.request.auth,
                                 number=number)


class OrdersView(_UpstreamView):
    @extend_schema(
        tags=["upstream"], summary="Send a work order down (派单)", request=UpstreamOrderInput,
        description=(
            "Idempotent on `order_number` within your system: the first call creates the case (201); a repeat "
            "with the same content answers the existing case (200); a repeat with changed content is recorded "
            "on the case as an `upstream_updated` event (200, `updated: true`), never a second case. Your "
            "`respond_due_at` / `resolve_due_at` govern the case instead of the town's policy. Authenticate with "
            "`Authorization: Api-Key <key>`."),
        responses={201: UpstreamOrderAnswer, 200: UpstreamOrderAnswer, **error_responses(400, 401, 403)},
    )
    def post(self, request):
        ser = UpstreamOrderInput(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            outcome = upstream.receive_order(request.auth, ser.to_order(), now=_now(request))
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        body = _answer(outcome.order, created=outcome.created, updated=outcome.updated, changed=outcome.changed)
        return Response(UpstreamOrderAnswer(body).data, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


class OrderView(_UpstreamView):
    @extend_schema(tags=["upstream"], summary="One of your work orders: the case's state and deadlines",
                   responses={200: UpstreamOrderAnswer, **error_responses(401, 403, 404)})
    def get(self, request, order):
        return Response(UpstreamOrderAnswer(_answer(self.order(order))).data)


class UpstreamCallbackInput(serializers.Serializer):
    """The platform's callback result (市级回访)."""

    contacted = serializers.BooleanField(required=False, allow_null=True, default=None)
    solved = serializers.BooleanField(required=False, allow_null=True, default=None)
    satisfaction = serializers.ChoiceField(choices=Satisfaction.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class OrderCallbackView(_UpstreamView):
    @extend_schema(
        tags=["upstream"], summary="Record your callback result (市级回访)", request=UpstreamCallbackInput,
        description=("Recorded as the case's callback with source `upstream`; counted in the three rates. "
                     "409 `transition_not_allowed` while the case is not resolved, `callback_recorded` once a "
                     "valid callback is recorded."),
        responses={200: UpstreamOrderAnswer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, order):
        found = self.order(order)
        ser = UpstreamCallbackInput(data=request.data)
        ser.is_valid(raise_exception=True)
        upstream.receive_callback(found, now=_now(request), **ser.validated_data)
        return Response(UpstreamOrderAnswer(_answer(found)).data)


def _now(request):
    from grids.scope import request_now

    return request_now(request)


class FeedbackAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = FeedbackAttempt
        fields = ["number", "at", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class FeedbackDeliverySerializer(serializers.ModelSerializer):
    """One feedback step to the upstream and its attempts (the delivery log)."""

    system = serializers.CharField(source="order.system.code")
    order_number = serializers.CharField(source="order.number")
    attempt_log = FeedbackAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = FeedbackDelivery
        fields = ["id", "system", "order_number", "step", "idempotency_key", "status", "attempts", "created_at",
                  "next_attempt_at", "delivered_at", "gave_up_at", "last_status_code", "last_error", "attempt_log"]
        read_only_fields = fields


class CaseDeliveriesView(ScopedMixin, APIView):
    """The delivery log of one case: every feedback step sent to its upstream platform, with each attempt."""

    @extend_schema(
        tags=["upstream"], summary="Feedback delivery log of a case (反馈投递记录)",
        description="For dispatchers, supervisors and admins. Oldest step first.",
        responses={200: FeedbackDeliverySerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request, pk):
        if not self.scope.has(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN):
            from ..api.errors import Forbidden

            raise Forbidden("仅指挥中心可查看上级反馈投递记录。")
        case = get_object_or_404(self.scope.cases(Case.objects.all()), pk=pk)
        deliveries = (FeedbackDelivery.objects.filter(case=case).select_related("order__system")
                      .prefetch_related("attempt_log").order_by("pk"))
        return Response(FeedbackDeliverySerializer(deliveries, many=True).data)

