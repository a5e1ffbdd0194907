"""The cases API (issue 5 §2–§3): cases and one POST per lifecycle transition, their events, categories,
SLA policies and the caller's notifications.

Views declare queryset, serializer, filterset and permissions; scoping comes from :mod:`grids.scope` (an
object outside scope is a 404), who may do what from :mod:`cases.rules` (403), and every state change
from :mod:`cases.services` (409 when the state does not allow it, 400 for bad input). The request's clock
(``self.now``) is passed to the services: clients never set a time.
"""
import functools

from django.db import IntegrityError, transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from cases import rules, services
from cases.filtersets import CaseFilterSet, CategoryFilterSet, NotificationFilterSet
from cases.models import Case, Category, Notification, SlaPolicy
from grids.api.base import ScopedMixin, error_responses
from grids.choices import Role
from grids.models import Cadre

from .desk import CaseDeskMixin
from .errors import Forbidden
from .serializers import (
    CallbackInput,
    CancelInput,
    CaseCreateSerializer,
    CaseEventSerializer,
    CaseSerializer,
    CategorySerializer,
    CategoryTreeSerializer,
    ChangeUrgencyInput,
    DispatchInput,
    ExtendInput,
    MarkedReadSerializer,
    NoteInput,
    NotificationSerializer,
    ReasonInput,
    RequiredNoteInput,
    ResolveInput,
    SlaPolicySerializer,
)

_TRANSITION_ERRORS = error_responses(400, 401, 403, 404, 409)


def transition(name: str, *, url_path: str, summary: str, request=None):
    """Decorate a CaseViewSet method as ``POST /cases/{id}/<url_path>/`` performing ``name`` of
    :data:`cases.rules.PERMISSIONS`, documented with its input and every error answer."""
    roles = ", ".join(r for r in Role.values if r in rules.PERMISSIONS[name])

    def wrap(func):
        # One transaction from the scope check to the change: the case row is locked by _case_for, so a
        # concurrent reassignment cannot move it out of the caller's scope between the check and the act.
        func = functools.wraps(func)(transaction.atomic(func))
        func = action(detail=True, methods=["post"], url_path=url_path, url_name=url_path,
                      filter_backends=[], pagination_class=None)(func)
        return extend_schema(
            tags=["case transitions"], summary=summary, request=request,
            description=f"{summary}. Roles (on a case in their scope): {roles}. Answers the updated case.",
            responses={200: CaseSerializer, **_TRANSITION_ERRORS},
        )(func)

    return wrap


@extend_schema_view(
    list=extend_schema(tags=["cases"], summary="List cases in your scope",
                       responses={200: CaseSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["cases"], summary="One case in your scope",
                           responses={200: CaseSerializer, **error_responses(401, 404)}),
    create=extend_schema(
        tags=["cases"], summary="Log a case", request=CaseCreateSerializer,
        description=(
            "Logs a case in state `received` at the server's time. A grid leader logging a case in an own grid "
            "has it dispatched to that grid at once (DESIGN §5); with `on_the_spot` it is resolved at once "
            "(就地解决). Grid leaders, village leaders and cadres log cases only in their scope."),
        responses={201: CaseSerializer, **error_responses(400, 401, 403)},
    ),
)
class CaseViewSet(CaseDeskMixin, ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  viewsets.GenericViewSet):
    """Citizen demands (诉求 / 工单) in the caller's scope."""

    filterset_class = CaseFilterSet

    def get_queryset(self):
        qs = Case.objects.select_related("village", "grid", "category", "handler").prefetch_related("rounds")
        return self.scope.cases(qs)

    def get_serializer_class(self):
        return CaseCreateSerializer if self.action == "create" else CaseSerializer

    def _answer(self, case, status_code=status.HTTP_200_OK):
        case = (Case.objects.select_related("village", "grid", "category", "handler").prefetch_related("rounds")
                .get(pk=case.pk))
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data, status=status_code)

    def _input(self, serializer_class):
        if serializer_class is None:
            return {}
        ser = serializer_class(data=self.request.data, context=self.get_serializer_context())
        ser.is_valid(raise_exception=True)
        return dict(ser.validated_data)

    def _case_for(self, name: str) -> Case:
        """The case of the URL in scope (404 otherwise) that the caller's role may act on (403 otherwise).

        The row is locked (``SELECT … FOR UPDATE``) inside the transaction that :func:`transition` opens,
        so the scope and role are checked on the case as the service will change it.
        """
        queryset = self.get_queryset().select_for_update(of=("self",))
        case = get_object_or_404(queryset, pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, case)
        if not rules.can(self.scope, name, case):
            raise Forbidden(rules.denial_detail(name))
        return case

    # --- create ---------------------------------------------------------------------------------------

    def create(self, request, *args, **kwargs):
        scope = self.scope
        if not scope.roles & rules.PERMISSIONS["create"]:
            raise Forbidden(rules.denial_detail("create"))
        data = self._input(CaseCreateSerializer)
        on_the_spot = data.pop("on_the_spot", None)
        grid, village = data.get("grid"), data.get("village")
        name = "resolve_on_the_spot" if on_the_spot else "create"
        if on_the_spot and not scope.roles & rules.PERMISSIONS[name]:
            raise Forbidden(rules.denial_detail(name))
        place_village = grid.village_id if grid is not None else (village.pk if village is not None else None)
        if place_village is not None and not rules.can_create(
                scope, village_id=place_village, grid_id=grid.pk if grid else None, action=name):
            field = "grid" if grid is not None else "village"
            raise serializers.ValidationError({field: ["不在您的管辖范围内。"]})
        data = {k: v for k, v in data.items() if v is not None}
        actor, now = request.user, self.now
        try:
            with transaction.atomic():
                if on_the_spot:
                    case = services.resolve_on_the_spot(actor=actor, now=now, result=on_the_spot["result"],
                                                        solved=on_the_spot["solved"], **data)
                else:
                    case = services.create_case(actor=actor, now=now, **data)
                    if rules.dispatches_on_logging(scope, grid_id=grid.pk if grid else None):
                        handler = Cadre.objects.select_related("user").get(pk=scope.cadre_id)
                        case = services.dispatch(case, actor=actor, grid=grid, handler=handler, now=now)
        except IntegrityError:
            # Two requests raced with the same external reference; the database kept the first.
            if data.get("external_ref"):
                raise serializers.ValidationError({"external_ref": ["该来源的外部编号已存在。"]}) from None
            raise
        return self._answer(case, status.HTTP_201_CREATED)

    # --- transitions ----------------------------------------------------------------------------------

    @transition("dispatch", url_path="dispatch", summary="Dispatch or reassign to a micro-grid (派单)",
                request=DispatchInput)
    def dispatch_case(self, request, pk=None):
        case = self._case_for("dispatch")
        data = self._input(DispatchInput)
        return self._answer(services.dispatch(case, actor=request.user, now=self.now, **data))

    @transition("accept", url_path="accept", summary="Sign for the case (签收)")
    def accept(self, request, pk=None):
        case = self._case_for("accept")
        return self._answer(services.accept(case, actor=request.user, now=self.now))

    @transition("return", url_path="return", summary="Send back as not the grid's remit (退单)", request=ReasonInput)
    def return_case(self, request, pk=None):
        case = self._case_for("return")
        data = self._input(ReasonInput)
        return self._answer(services.return_case(case, actor=request.user, now=self.now, **data))

    @transition("respond", url_path="respond", summary="The complainant was contacted (联系)", request=NoteInput)
    def respond(self, request, pk=None):
        case = self._case_for("respond")
        data = self._input(NoteInput)
        return self._answer(services.respond(case, actor=request.user, now=self.now, **data))

    @transition("resolve", url_path="resolve", summary="Handling finished with an outcome (办结)",
                request=ResolveInput)
    def resolve(self, request, pk=None):
        case = self._case_for("resolve")
        data = self._input(ResolveInput)
        return self._answer(services.resolve(case, actor=request.user, now=self.now, **data))

    @transition("callback", url_path="callback", summary="Record the call-back (回访)", request=CallbackInput)
    def callback(self, request, pk=None):
        case = self._case_for("callback")
        data = self._input(CallbackInput)
        return self._answer(services.callback(case, actor=request.user, now=self.now, **data))

    @transition("reopen", url_path="reopen", summary="Handle again after an unsatisfied call-back (重办)",
                request=NoteInput)
    def reopen(self, request, pk=None):
        case = self._case_for("reopen")
        data = self._input(NoteInput)
        return self._answer(services.reopen(case, actor=request.user, now=self.now, **data))

    @transition("close", url_path="close", summary="Close a resolved case (结案)", request=NoteInput)
    def close(self, request, pk=None):
        case = self._case_for("close")
        data = self._input(NoteInput)
        return self._answer(services.close(case, actor=request.user, now=self.now, **data))

    @transition("cancel", url_path="cancel", summary="Cancel an invalid, withdrawn or duplicate case (撤销)",
                request=CancelInput)
    def cancel(self, request, pk=None):
        case = self._case_for("cancel")
        data = self._input(CancelInput)
        return self._answer(services.cancel(case, actor=request.user, now=self.now, **data))

    @transition("extend", url_path="extend", summary="Request an extension of the resolve deadline (申请延期)",
                request=ExtendInput)
    def extend(self, request, pk=None):
        case = self._case_for("extend")
        data = self._input(ExtendInput)
        return self._answer(services.request_extension(case, actor=request.user, now=self.now, **data))

    @transition("approve_extension", url_path="approve-extension", summary="Approve the pending extension (批准延期)",
                request=NoteInput)
    def approve_extension(self, request, pk=None):
        case = self._case_for("approve_extension")
        data = self._input(NoteInput)
        return self._answer(services.approve_extension(case, actor=request.user, now=self.now, **data))

    @transition("decline_extension", url_path="decline-extension", summary="Decline the pending extension (驳回延期)",
                request=NoteInput)
    def decline_extension(self, request, pk=None):
        case = self._case_for("decline_extension")
        data = self._input(NoteInput)
        return self._answer(services.decline_extension(case, actor=request.user, now=self.now, **data))

    @transition("escalate", url_path="escalate", summary="Supervisor's order on a late or hard case (督办)",
                request=RequiredNoteInput)
    def escalate(self, request, pk=None):
        case = self._case_for("escalate")
        data = self._input(RequiredNoteInput)
        return self._answer(services.escalate(case, actor=request.user, now=self.now, **data))

    @transition("change_urgency", url_path="change-urgency",
                summary="Change the urgency; deadlines are recomputed from received_at", request=ChangeUrgencyInput)
    def change_urgency(self, request, pk=None):
        case = self._case_for("change_urgency")
        data = self._input(ChangeUrgencyInput)
        return self._answer(services.change_urgency(case, actor=request.user, now=self.now, **data))

    @transition("comment", url_path="comment", summary="Add a note to the timeline (备注)", request=RequiredNoteInput)
    def comment(self, request, pk=None):
        case = self._case_for("comment")
        data = self._input(RequiredNoteInput)
        return self._answer(services.comment(case, actor=request.user, now=self.now, **data))

    # --- timeline -------------------------------------------------------------------------------------

    @extend_schema(tags=["cases"], summary="The case's events, oldest first",
                   responses={200: CaseEventSerializer(many=True), **error_responses(401, 404)})
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=CaseEventSerializer)
    def events(self, request, pk=None):
        case = self.get_object()
        events = case.events.select_related("actor").order_by("at", "id")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(
            CaseEventSerializer(page, many=True, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(tags=["reference data"], summary="List categories (flat)",
                       responses={200: CategorySerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["reference data"], summary="One category",
                           responses={200: CategorySerializer, **error_responses(401, 404)}),
)
class CategoryViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The three-level category taxonomy (诉求分类): reference data every role reads."""

    serializer_class = CategorySerializer
    filterset_class = CategoryFilterSet
    queryset = Category.objects.order_by("level", "name", "pk")

    @extend_schema(tags=["reference data"], summary="The whole taxonomy as a tree, each level in pinyin order (其他 last)",
                   responses={200: CategoryTreeSerializer(many=True), **error_responses(401)})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def tree(self, request):
        from cases.desk.ordering import category_sort_key

        nodes = {}
        roots = []
        rows = sorted(Category.objects.values_list("pk", "parent_id", "name", "level", "default_urgency"),
                      key=lambda r: (r[3], category_sort_key(r[2]), r[0]))  # each level in pinyin, 其他 last
        for pk, parent_id, name, level, urgency in rows:
            node = {"id": pk, "name": name, "level": level, "default_urgency": urgency, "children": []}
            nodes[pk] = node
            (nodes[parent_id]["children"] if parent_id in nodes else roots).append(node)
        return Response(roots)


@extend_schema_view(
    list=extend_schema(tags=["reference data"], summary="List SLA policies",
                       responses={200: SlaPolicySerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["reference data"], summary="One SLA policy",
                           responses={200: SlaPolicySerializer, **error_responses(401, 404)}),
    create=extend_schema(tags=["reference data"], summary="Add an SLA policy (admin)",
                         responses={201: SlaPolicySerializer, **error_responses(400, 401, 403)}),
    update=extend_schema(tags=["reference data"], summary="Replace an SLA policy (admin)",
                         responses={200: SlaPolicySerializer, **error_responses(400, 401, 403, 404)}),
    partial_update=extend_schema(tags=["reference data"], summary="Change an SLA policy (admin)",
                                 responses={200: SlaPolicySerializer, **error_responses(400, 401, 403, 404)}),
)
class SlaPolicyViewSet(ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Respond and resolve windows per urgency (DESIGN §5). Everyone reads; only admins write. A change
    applies to cases dispatched afterwards (deadlines are fixed at dispatch)."""

    serializer_class = SlaPolicySerializer
    queryset = SlaPolicy.objects.order_by("respond_within", "resolve_within", "pk")
    pagination_class = None

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not self.scope.has(Role.ADMIN):
            raise Forbidden("只有管理员可以修改时限标准。")


@extend_schema_view(
    list=extend_schema(tags=["notifications"], summary="My notifications, newest first",
                       responses={200: NotificationSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["notifications"], summary="One of my notifications",
                           responses={200: NotificationSerializer, **error_responses(401, 404)}),
)
class NotificationViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    """The caller's own in-app notifications; others' answer 404."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet

    def get_queryset(self):
        return (Notification.objects.filter(recipient_id=self.request.user.pk).select_related("case")
                .order_by("-created_at", "-id"))

    @extend_schema(tags=["notifications"], summary="Mark one notification read", request=None,
                   responses={200: NotificationSerializer, **error_responses(401, 404)})
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, pk=None):
        note = self.get_object()
        if note.read_at is None:
            Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=self.now)
            note.refresh_from_db(fields=["read_at"])
        return Response(NotificationSerializer(note).data)

    @extend_schema(tags=["notifications"], summary="Mark all my notifications read", request=None,
                   responses={200: MarkedReadSerializer, **error_responses(401)})
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[], pagination_class=None)
    def read_all(self, request):
        marked = self.get_queryset().filter(Q(read_at__isnull=True)).update(read_at=self.now)
        return Response({"marked": marked})

