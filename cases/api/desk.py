"""The desk's API (issue 16): caller history, queues with keyset paging, bulk actions, correcting a case,
revealing a complainant's phone, and attachments.

Same rules as the rest of the API: scope from :mod:`grids.scope` (outside it: 404), who may act from
:mod:`cases.rules` (403), every change through a service (409 for a state that refuses it, 400 for bad
input). ``CaseDeskMixin`` adds its actions to :class:`cases.api.views.CaseViewSet`.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import rules
from cases.attachments import FILE_TYPES, IMAGE_TYPES
from cases.choices import AttachmentKind, CaseKind, Satisfaction, Source, Urgency
from cases.desk import editing, history, phone, queues
from cases.models import Attachment, Case, Category
from grids.api.base import IdField, ScopedMixin, error_responses
from grids.api.parsers import StrictJSONParser
from grids.models import Grid

from .errors import Forbidden
from .serializers import blank_or_choice

#: Every content type an attachment is stored and served as (cases.attachments), without parameters.
_STORED_MEDIA_TYPES = sorted({t for t, _ in IMAGE_TYPES.values()} | {t.split(";")[0] for t in FILE_TYPES.values()})

# --- Serializers -----------------------------------------------------------------------------------------


class CaseBriefSerializer(serializers.ModelSerializer):
    """A case in a list of the desk: what a dispatcher scans (phone masked unless seen whole)."""

    village_name = serializers.CharField(source="village.short_name", read_only=True)
    grid_name = serializers.SerializerMethodField()
    category_name = serializers.CharField(source="category.name", read_only=True, allow_null=True, default=None)
    handler_name = serializers.CharField(source="handler.name", read_only=True, allow_null=True, default=None)
    complainant_phone = serializers.SerializerMethodField()
    waiting_seconds = serializers.SerializerMethodField(help_text="Seconds since received (at the request's time).")
    satisfaction = blank_or_choice(Satisfaction.choices)

    class Meta:
        model = Case
        fields = ["id", "number", "title", "status", "source", "kind", "urgency", "category", "category_name",
                  "village", "village_name", "grid", "grid_name", "handler", "handler_name", "complainant_name",
                  "complainant_phone", "received_at", "dispatch_due_at", "respond_due_at", "resolve_due_at",
                  "resolved_at",
                  "satisfaction", "imported", "waiting_seconds"]
        read_only_fields = fields

    def get_grid_name(self, case) -> str | None:
        return case.grid.name if case.grid_id else None

    def get_complainant_phone(self, case) -> str:
        if rules.sees_full_phone(self.context["scope"]):
            return case.complainant_phone
        return rules.mask_phone(case.complainant_phone)

    def get_waiting_seconds(self, case) -> int:
        return int((self.context["now"] - case.received_at).total_seconds())

    def to_representation(self, case):
        data = super().to_representation(case)
        # Numbers and labelled names inside the title are masked like the phone (DESIGN §10), as on the case.
        data["title"] = rules.shown_text(self.context["scope"], data["title"])
        return data


class CallerHistorySerializer(serializers.Serializer):
    phone_matched = serializers.BooleanField(help_text="A whole phone number was given and looked up.")
    by_phone = CaseBriefSerializer(many=True, help_text="Earlier cases with this phone, newest first.")
    by_phone_total = serializers.IntegerField()
    by_name = CaseBriefSerializer(many=True, help_text="Earlier cases with this name and another phone.")
    by_name_total = serializers.IntegerField()
    open_total = serializers.IntegerField(help_text="Of those with this phone, how many are still open.")


class QueuePageSerializer(serializers.Serializer):
    results = CaseBriefSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page.")
    total = serializers.IntegerField()
    sort = serializers.CharField()


class BulkInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted(queues.BULK_ACTIONS))
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                min_length=1, max_length=queues.BULK_MAX)
    grid = IdField(queryset=Grid.objects.select_related("village", "leader__user"),
                                              required=False, allow_null=True, help_text="For `dispatch`.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BulkResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(allow_null=True)
    ok = serializers.BooleanField()
    status = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)
    detail = serializers.CharField(allow_null=True)


class BulkOutput(serializers.Serializer):
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkResultSerializer(many=True)


class EditInput(serializers.Serializer):
    """Fields to correct; leave out what stays. ``lng``/``lat`` WGS-84 degrees (null clears)."""

    category = IdField(queryset=Category.objects.all(), required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=CaseKind.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    title = serializers.CharField(max_length=200, required=False)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    lng = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-180, max_value=180, required=False,
                                   allow_null=True)
    lat = serializers.DecimalField(max_digits=9, decimal_places=6, min_value=-90, max_value=90, required=False,
                                   allow_null=True)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RevealedPhoneSerializer(serializers.Serializer):
    complainant_phone = serializers.CharField()


class AttachmentSerializer(serializers.ModelSerializer):
    file_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "case", "kind", "original_name", "content_type", "size", "width", "height", "uploaded_at",
                  "uploaded_by", "file_url", "thumbnail_url"]
        read_only_fields = fields

    def get_file_url(self, att) -> str:
        return f"/api/v1/attachments/{att.pk}/file/"

    def get_thumbnail_url(self, att) -> str | None:
        return f"/api/v1/attachments/{att.pk}/thumbnail/" if att.thumbnail else None


class AttachmentUploadInput(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=AttachmentKind.choices, default=AttachmentKind.FILE)
    use_location = serializers.BooleanField(
        default=False, help_text="Take the photo's GPS position as the case's place (only if the user agrees).")


def _filters_from(params, *, default_imported: str) -> queues.QueueFilters:
    def ints(name):
        raw = params.get(name)
        if raw in (None, ""):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise serializers.ValidationError({name: ["须为整数。"]}) from None
        if not 1 <= value <= 2**63 - 1:
            raise serializers.ValidationError({name: ["超出范围。"]})
        return value

    sources = tuple(params.getlist("source"))
    urgencies = tuple(params.getlist("urgency"))
    if set(sources) - set(Source.values):
        raise serializers.ValidationError({"source": ["来源取值无效。"]})
    if set(urgencies) - set(Urgency.values):
        raise serializers.ValidationError({"urgency": ["紧急程度取值无效。"]})
    waiting = params.get("waiting_hours")
    try:
        waiting = float(waiting) if waiting not in (None, "") else None
        if waiting is not None and not 0 <= waiting <= 24 * 3660:
            raise ValueError
    except ValueError:
        raise serializers.ValidationError({"waiting_hours": ["须为0到87840之间的小时数。"]}) from None
    imported = params.get("imported") or default_imported
    if imported not in ("live", "imported", "all"):
        raise serializers.ValidationError({"imported": ["取值为 live、imported 或 all。"]})
    q = (params.get("q") or "")[:100]
    if "\x00" in q:
        raise serializers.ValidationError({"q": ["不能包含空字符。"]})
    return queues.QueueFilters(sources=sources, urgencies=urgencies, village_id=ints("village_id"),
                               grid_id=ints("grid_id"), waiting_hours=waiting, imported=imported, q=q)


_QUEUE_PARAMS = [
    OpenApiParameter("source", OpenApiTypes.STR, many=True, enum=Source.values, description="Any of these sources."),
    OpenApiParameter("urgency", OpenApiTypes.STR, many=True, enum=Urgency.values),
    OpenApiParameter("village_id", OpenApiTypes.INT), OpenApiParameter("grid_id", OpenApiTypes.INT),
    OpenApiParameter("waiting_hours", OpenApiTypes.NUMBER, description="Received at least this many hours ago."),
    OpenApiParameter("imported", OpenApiTypes.STR, enum=["live", "imported", "all"],
                     description="Imported history vs live cases (callback queue default: live)."),
    OpenApiParameter("q", OpenApiTypes.STR, description="Number or title contains."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="`next_cursor` of the previous page."),
    OpenApiParameter("limit", OpenApiTypes.INT, description=f"Rows per page (≤ {queues.MAX_PAGE_SIZE})."),
]


class QueueView(ScopedMixin, APIView):
    """``GET /api/v1/queues/<intake|callback>/``: one page of a dispatcher's queue (keyset paging)."""

    kind = "intake"

    def get(self, request):
        if not self.scope.has(*rules.PERMISSIONS["dispatch"]):
            raise Forbidden(rules.denial_detail("dispatch"))
        params = request.query_params
        filters = _filters_from(params, default_imported="live" if self.kind == "callback" else "all")
        try:
            limit = int(params.get("limit") or queues.PAGE_SIZE)
        except ValueError:
            raise serializers.ValidationError({"limit": ["须为整数。"]}) from None
        try:
            result = queues.queue_page(self.kind, self.scope, filters=filters, sort=params.get("sort") or None,
                                       cursor=params.get("cursor") or None, limit=limit, now=self.now)
        except queues.BadQuery as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        context = {"scope": self.scope, "now": self.now}
        return Response({"results": CaseBriefSerializer(result.rows, many=True, context=context).data,
                         "next_cursor": result.next_cursor, "total": result.total, "sort": result.sort})


class IntakeQueueView(QueueView):
    kind = "intake"

    @extend_schema(tags=["desk"], summary="Cases to dispatch (received or returned)",
                   parameters=[*_QUEUE_PARAMS, OpenApiParameter("sort", OpenApiTypes.STR,
                                                                enum=sorted(queues.SORTS["intake"]))],
                   responses={200: QueuePageSerializer, **error_responses(400, 401, 403)})
    def get(self, request):
        return super().get(request)


class CallbackQueueView(QueueView):
    kind = "callback"

    @extend_schema(tags=["desk"], summary="Resolved cases waiting for their callback",
                   parameters=[*_QUEUE_PARAMS, OpenApiParameter("sort", OpenApiTypes.STR,
                                                                enum=sorted(queues.SORTS["callback"]))],
                   responses={200: QueuePageSerializer, **error_responses(400, 401, 403)})
    def get(self, request):
        return super().get(request)


class CaseDeskMixin:
    """Actions of the desk on ``/api/v1/cases/`` (mixed into CaseViewSet)."""

    @extend_schema(tags=["desk"], summary="A caller's earlier cases (phone matched whole, or name)",
                   parameters=[OpenApiParameter("phone", OpenApiTypes.STR), OpenApiParameter("name", OpenApiTypes.STR),
                               OpenApiParameter("exclude", OpenApiTypes.INT, description="A case to leave out."),
                               OpenApiParameter("limit", OpenApiTypes.INT)],
                   responses={200: CallerHistorySerializer, **error_responses(400, 401)})
    @action(detail=False, methods=["get"], url_path="caller-history", filter_backends=[], pagination_class=None)
    def caller_history(self, request):
        params = request.query_params
        phone_text, name = (params.get("phone") or "")[:30], (params.get("name") or "")[:50]
        if "\x00" in phone_text + name:
            raise serializers.ValidationError({"phone": ["不能包含空字符。"]})
        try:
            exclude = int(params["exclude"]) if params.get("exclude") else None
            limit = int(params.get("limit") or history.HISTORY_LIMIT)
            if exclude is not None and not 1 <= exclude <= 2**63 - 1:
                raise ValueError
        except ValueError:
            raise serializers.ValidationError({"exclude": ["须为整数。"]}) from None
        found = history.caller_history(self.scope, phone=phone_text, name=name, exclude_case_id=exclude,
                                       limit=limit, now=self.now)
        context = self.get_serializer_context()
        return Response({
            "phone_matched": bool(found.phone_key),
            "by_phone": CaseBriefSerializer(found.by_phone, many=True, context=context).data,
            "by_phone_total": found.by_phone_total,
            "by_name": CaseBriefSerializer(found.by_name, many=True, context=context).data,
            "by_name_total": found.by_name_total, "open_total": found.open_total,
        })

    @extend_schema(tags=["desk"], summary="One action on many cases, each through its own service",
                   request=BulkInput, responses={200: BulkOutput, **error_responses(400, 401, 403)})
    @action(detail=False, methods=["post"], url_path="bulk", filter_backends=[], pagination_class=None)
    def bulk(self, request):
        data = self._input(BulkInput)
        name = queues.BULK_ACTIONS[data["action"]]
        if not self.scope.has(*rules.PERMISSIONS[name]):
            raise Forbidden(rules.denial_detail(name))
        results = queues.bulk_apply(data["action"], data["ids"], actor=request.user, scope=self.scope,
                                    grid=data.get("grid"), note=data["note"], now=self.now)
        done = sum(1 for r in results if r.ok)
        return Response({"done": done, "failed": len(results) - done,
                         "results": [r.__dict__ for r in results]})

    @extend_schema(tags=["case transitions"], summary="Correct category, kind, urgency, title, address or place",
                   description="Dispatchers, supervisors and admins; open cases. One `edited` event with old and "
                               "new values; an urgency change is its own `urgency_changed` event (deadline rules "
                               "of issue 12). Answers the updated case.",
                   request=EditInput, responses={200: None, **error_responses(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"], url_path="edit", filter_backends=[], pagination_class=None)
    def edit(self, request, pk=None):
        with transaction.atomic():
            case = self._case_for("edit")
            data = self._input(EditInput)
            note = data.pop("note", "")
            if "lng" in data or "lat" in data:
                data.setdefault("lng", case.lng)
                data.setdefault("lat", case.lat)
            updated = editing.edit_case(case, actor=request.user, changes=data, note=note, now=self.now)
        return self._answer(updated)

    @extend_schema(tags=["cases"], summary="Reveal the complainant's phone to call (audited)", request=None,
                   description="The case's current handler and its grid's leader; each reveal is a "
                               "`phone_revealed` event. Others: 403.",
                   responses={200: RevealedPhoneSerializer, **error_responses(401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="reveal-phone", filter_backends=[], pagination_class=None)
    def reveal_phone(self, request, pk=None):
        case = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        try:
            number = phone.reveal_phone(case, actor=request.user, scope=self.scope, now=self.now)
        except DjangoPermissionDenied as exc:
            raise Forbidden(str(exc)) from None
        return Response({"complainant_phone": number})

    @extend_schema(tags=["attachments"], summary="A case's attachments, or upload one (multipart)",
                   request={"multipart/form-data": AttachmentUploadInput},
                   responses={200: AttachmentSerializer(many=True), 201: AttachmentSerializer,
                              **error_responses(400, 401, 403, 404)})
    @action(detail=True, methods=["get", "post"], url_path="attachments", filter_backends=[],
            pagination_class=None, parser_classes=[MultiPartParser, FormParser, StrictJSONParser])
    def attachments(self, request, pk=None):
        from cases import attachments as store

        if request.method == "GET":
            case = self.get_object()
            rows = case.attachments.order_by("uploaded_at", "id")
            return Response(AttachmentSerializer(rows, many=True).data)
        with transaction.atomic():
            case = self._case_for("attach")
            data = self._input(AttachmentUploadInput)
            att = store.attach_to_case(case, data["file"], kind=data["kind"], actor=request.user,
                                       use_location=data["use_location"], now=self.now)
        return Response(AttachmentSerializer(att).data, status=status.HTTP_201_CREATED)


class AttachmentViewSet(ScopedMixin, viewsets.GenericViewSet):
    """``/api/v1/attachments/{id}/`` and its ``file/`` and ``thumbnail/``: scoped like their case."""

    serializer_class = AttachmentSerializer
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        return Attachment.objects.filter(case__in=self.scope.cases(Case.objects.all()))

    @extend_schema(tags=["attachments"], summary="One attachment",
                   responses={200: AttachmentSerializer, **error_responses(401, 404)})
    def retrieve(self, request, pk=None):
        return Response(AttachmentSerializer(self.get_object()).data)

    def _serve(self, field):
        from cases import attachments as store

        att = self.get_object()
        return store.serve(att, field=field)

    @extend_schema(tags=["attachments"], summary="The file (photos without EXIF), as the type it was stored as",
                   responses={**{(200, media_type): OpenApiTypes.BINARY for media_type in _STORED_MEDIA_TYPES},
                              **error_responses(401, 404)})
    @action(detail=True, methods=["get"])
    def file(self, request, pk=None) -> FileResponse:
        return self._serve("file")

    @extend_schema(tags=["attachments"], summary="A small JPEG of a photo",
                   responses={(200, "image/jpeg"): OpenApiTypes.BINARY, **error_responses(401, 404)})
    @action(detail=True, methods=["get"])
    def thumbnail(self, request, pk=None) -> FileResponse:
        return self._serve("thumbnail")
