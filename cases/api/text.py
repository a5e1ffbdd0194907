"""The text-intelligence API (issue 11): category suggestion and search, duplicate suggestion and merge,
hotspots with their monthly topics and proactive cases, and the cleared-hotspot figures.

Scope (DESIGN §1): a hotspot is visible to a user when at least one of its cases (members or proactive
cases) is — "scoped like cases" — and whole-town roles see all; its case lists show only the cases in the
caller's scope. Out-of-scope hotspots and cases answer 404.
"""
import datetime as dt

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import rules
from cases.models import Case, Category, Hotspot, HotspotMember, MonthlyTopic, ProactiveLink
from cases.text import classifier, duplicates, topics
from cases.text.search import search_categories
from cases.text.topics import hotspots_in_scope
from grids.api.base import IdField, ScopedMixin, error_responses, query_date
from grids.models import Cadre, Grid, Village

from .errors import Forbidden
from .serializers import CaseSerializer, NoteInput
from .stats import ExportMixin

# --- Category suggestion --------------------------------------------------------------------------------


class SuggestInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not (attrs["title"].strip() or attrs["description"].strip()):
            raise serializers.ValidationError({"title": ["请填写标题或诉求内容。"]})
        return attrs


class SuggestedCategory(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    probability = serializers.FloatField(help_text="Calibrated probability, 0–1.")


class SuggestedNode(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.IntegerField()
    path = serializers.CharField(help_text="一级/二级/三级")
    score = serializers.FloatField(help_text="How well the name matches the text, 0–1.")


class SuggestionSerializer(serializers.Serializer):
    model_version = serializers.CharField()
    categories = SuggestedCategory(many=True)
    nodes = SuggestedNode(many=True)


class CategorySuggestView(ScopedMixin, APIView):
    """Suggest categories for a demand's text; never sets one."""

    @extend_schema(
        tags=["text"], summary="Suggest categories for a title and description", request=SuggestInput,
        description=("The 3 most probable top-level categories with calibrated probabilities, and under the best "
                     "one the second/third-level nodes whose names best match the text. 503 "
                     "`classifier_not_trained` until `manage.py train_classifier` has run."),
        responses={200: SuggestionSerializer, **error_responses(400, 401, 503)})
    def post(self, request):
        ser = SuggestInput(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            answer = classifier.suggest(ser.validated_data["title"], ser.validated_data["description"])
        except classifier.ModelNotTrained:
            return Response({"code": "classifier_not_trained",
                             "detail": "分类模型尚未训练：请运行 python manage.py train_classifier。"},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(answer)


class CategorySearchView(ScopedMixin, APIView):
    """Search all taxonomy nodes by name, part of a name, pinyin or pinyin initials."""

    @extend_schema(tags=["text"], summary="Search categories (name, pinyin, pinyin initials)",
                   parameters=[OpenApiParameter("q", str, required=True),
                               OpenApiParameter("limit", int, required=False)],
                   responses={200: SuggestedNode(many=True), **error_responses(400, 401)})
    def get(self, request):
        q = (request.query_params.get("q") or "").strip()
        if not q:
            raise serializers.ValidationError({"q": ["请输入要搜索的分类名称或拼音首字母。"]})
        try:
            limit = max(1, min(50, int(request.query_params.get("limit", 20))))
        except ValueError:
            raise serializers.ValidationError({"limit": ["须为整数。"]}) from None
        return Response(search_categories(q, limit=limit))


# --- Duplicates -----------------------------------------------------------------------------------------


class DuplicateCaseSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    grid_name = serializers.CharField(source="grid.name", read_only=True, default=None)

    class Meta:
        model = Case
        fields = ["id", "number", "title", "status", "received_at", "village", "village_name", "grid", "grid_name",
                  "category"]


class DuplicateSerializer(serializers.Serializer):
    case = DuplicateCaseSerializer()
    similarity = serializers.FloatField(help_text="TF-IDF cosine of the two texts, 0–1.")
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=duplicates.REASONS))
    caller = serializers.ChoiceField(choices=["same", "different", "unknown"])
    same_caller = serializers.BooleanField()
    mergeable = serializers.BooleanField(help_text="May be the original of a merge (not cancelled, no duplicate).")


class DraftInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    complainant_phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    village = IdField(queryset=Village.objects.all(), required=False, allow_null=True)
    grid = IdField(queryset=Grid.objects.all(), required=False, allow_null=True)
    category = IdField(queryset=Category.objects.all(), required=False, allow_null=True)
    include_other_callers = serializers.BooleanField(required=False, default=False)


class MergeInput(serializers.Serializer):
    original = IdField(queryset=Case.objects.all(),
                                                  help_text="The case this one repeats.")
    confirm_other_caller = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def _include_other(request) -> bool:
    return (request.query_params.get("include_other_callers") or "").lower() in ("1", "true", "yes")


def _suggestions_answer(suggestions):
    return [{"case": s.case, "similarity": s.similarity, "reasons": s.reasons, "caller": s.caller,
             "same_caller": s.same_caller, "mergeable": s.mergeable} for s in suggestions]


class CaseDuplicatesView(ScopedMixin, APIView):
    """Likely duplicates of one case in the caller's scope."""

    @extend_schema(tags=["text"], summary="Likely duplicates of a case (重复诉求)",
                   parameters=[OpenApiParameter("include_other_callers", bool, required=False,
                                                description="Also propose other callers' cases.")],
                   responses={200: DuplicateSerializer(many=True), **error_responses(401, 404)})
    def get(self, request, pk):
        scoped = self.scope.cases(Case.objects.all())
        case = get_object_or_404(scoped.select_related("category__parent__parent"), pk=pk)
        found = duplicates.suggest_duplicates(duplicates.subject_of(case), cases=scoped,
                                              include_other_callers=_include_other(request))
        return Response(DuplicateSerializer(_suggestions_answer(found), many=True).data)


def _suggested_category(title: str, description: str):
    """The top-level Category the model ranks first for the text, or None (untrained model, no text, or
    a class the taxonomy lacks)."""
    if not (title or description).strip():
        return None
    try:
        best = classifier.suggest(title, description)["categories"][0]
    except (classifier.ModelNotTrained, IndexError, ValueError):
        return None
    return Category.objects.filter(pk=best["id"]).first() if best.get("id") else None


class DraftDuplicatesView(ScopedMixin, APIView):
    """Likely duplicates of a case being logged (not saved yet): the intake form asks as the user types."""

    @extend_schema(tags=["text"], summary="Likely duplicates of a draft case", request=DraftInput,
                   responses={200: DuplicateSerializer(many=True), **error_responses(400, 401)})
    def post(self, request):
        ser = DraftInput(data=request.data)
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        grid, village = d.get("grid"), d.get("village")
        if d.get("category") is None:  # not chosen yet: compare within the category the model suggests
            d["category"] = _suggested_category(d["title"], d["description"])
        subject = duplicates.Subject(
            pk=None, received_at=self.now, village_id=grid.village_id if grid else (village.pk if village else None),
            grid_id=grid.pk if grid else None, category_id=duplicates.top_category_id(d.get("category")),
            phone=d["complainant_phone"], ref="", title=d["title"], description=d["description"])
        found = duplicates.suggest_duplicates(subject, cases=self.scope.cases(Case.objects.all()),
                                              include_other_callers=d["include_other_callers"])
        return Response(DuplicateSerializer(_suggestions_answer(found), many=True).data)


class MergeDuplicateView(ScopedMixin, APIView):
    """A dispatcher's click: cancel the case as a duplicate of ``original`` (through the cancel service)."""

    @extend_schema(tags=["text"], summary="Merge: cancel as a duplicate of another case", request=MergeInput,
                   description=("Cancels this case as a duplicate of `original` (剔除) through the lifecycle's cancel "
                                "service; another caller's case needs `confirm_other_caller`. Roles: those that may "
                                "cancel (dispatcher, supervisor, admin)."),
                   responses={200: CaseSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk):
        scoped = self.scope.cases(Case.objects.all())
        case = get_object_or_404(scoped, pk=pk)
        if not rules.can(self.scope, "cancel", case):
            raise Forbidden(rules.denial_detail("cancel"))
        ser = MergeInput(data=request.data)
        ser.is_valid(raise_exception=True)
        original = ser.validated_data["original"]
        if not scoped.filter(pk=original.pk).exists():
            raise serializers.ValidationError({"original": ["原诉求不存在或不在您的管辖范围内。"]})
        merged = duplicates.merge_duplicate(case, original, actor=request.user, now=self.now,
                                            confirm_other_caller=ser.validated_data["confirm_other_caller"],
                                            note=ser.validated_data["note"])
        merged = Case.objects.select_related("village", "grid", "category", "handler").get(pk=merged.pk)
        return Response(CaseSerializer(merged, context={"request": request, "scope": self.scope,
                                                        "now": self.now}).data)


# --- Hotspots -------------------------------------------------------------------------------------------


class HotspotSerializer(serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name", read_only=True)
    village_name = serializers.CharField(source="village.name", read_only=True, default=None)
    village_ids = serializers.SerializerMethodField()
    sparkline = serializers.SerializerMethodField(help_text="Heat per run day, oldest first (last 30 runs).")

    class Meta:
        model = Hotspot
        fields = ["id", "title", "keywords", "category", "category_name", "village", "village_name", "village_ids",
                  "status", "active", "heat", "case_count", "caller_count", "previous_count", "growth",
                  "unsatisfied_share", "votes", "window_start", "window_end", "first_seen_at", "last_seen_at",
                  "cleared_at", "sparkline"]

    def get_village_ids(self, hotspot) -> list[int]:
        return sorted(v.pk for v in hotspot.villages.all())

    def get_sparkline(self, hotspot) -> list[dict]:
        return [{"day": s.day.isoformat(), "heat": s.heat, "cases": s.case_count} for s in hotspot.recent_snapshots()]


class HotspotEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor.username", default=None)
    note = serializers.CharField()
    data = serializers.JSONField()


class MonthlyTopicSerializer(serializers.ModelSerializer):
    hotspot_title = serializers.CharField(source="hotspot.title", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    proactive_cases = serializers.SerializerMethodField()

    class Meta:
        model = MonthlyTopic
        fields = ["id", "hotspot", "hotspot_title", "month", "owner", "owner_name", "target_date", "note",
                  "promoted_at", "proactive_cases"]

    def get_proactive_cases(self, topic) -> list[int]:
        return sorted(link.case_id for link in topic.proactive_links.all())


class PromoteInput(serializers.Serializer):
    owner = IdField(queryset=Cadre.objects.all())
    target_date = serializers.DateField()
    month = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="Any day of the topic's month; default this month.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ProactiveInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    village = serializers.PrimaryKeyRelatedField(queryset=Village.objects.all(), required=False, allow_null=True,
                                                 default=None)
    grid = serializers.PrimaryKeyRelatedField(queryset=Grid.objects.all(), required=False, allow_null=True,
                                              default=None)


HOTSPOT_EXPORT_COLUMNS = ["id", "title", "category_name", "village_name", "status", "active", "heat", "case_count",
                          "caller_count", "previous_count", "growth", "unsatisfied_share", "votes", "keywords",
                          "first_seen_at", "last_seen_at", "cleared_at"]


@extend_schema_view(
    list=extend_schema(tags=["hotspots"], summary="Hotspots (高频难点) in your scope, hottest first",
                       parameters=[OpenApiParameter("status", str, many=True), OpenApiParameter("active", bool),
                                   OpenApiParameter("category_id", int), OpenApiParameter("village_id", int),
                                   OpenApiParameter("format", str, enum=["json", "csv", "xlsx"])],
                       responses={200: HotspotSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["hotspots"], summary="One hotspot",
                           responses={200: HotspotSerializer, **error_responses(401, 404)}),
)
class HotspotViewSet(ScopedMixin, ExportMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """Hotspots with their figures and history; supervisors watch, promote and clear them."""

    serializer_class = HotspotSerializer
    export_name = "hotspots"
    export_columns = HOTSPOT_EXPORT_COLUMNS

    def get_queryset(self):
        qs = (Hotspot.objects.select_related("category", "village").prefetch_related("villages", "snapshots")
              .order_by("-heat", "id"))
        p = self.request.query_params
        if statuses := p.getlist("status"):
            qs = qs.filter(status__in=statuses)
        if (active := p.get("active")) in ("true", "false"):
            qs = qs.filter(active=active == "true")
        for field in ("category_id", "village_id"):
            if value := p.get(field):
                if not value.isdigit():
                    raise serializers.ValidationError({field: ["须为整数。"]})
                qs = qs.filter(**({"villages__id": int(value)} if field == "village_id" else {field: int(value)}))
        return hotspots_in_scope(self.scope, qs).distinct()

    def list(self, request, *args, **kwargs):
        if self.exporting:
            rows = HotspotSerializer(self.get_queryset()[:10_000], many=True).data
            for row in rows:
                row["keywords"] = " ".join(row["keywords"])
            return Response(rows)
        return super().list(request, *args, **kwargs)

    def _hotspot(self, roles):
        hotspot = self.get_object()
        if not self.scope.roles & roles:
            raise Forbidden("您的角色不能执行此操作。")
        return hotspot

    def _answer(self, hotspot, code=status.HTTP_200_OK):
        hotspot = Hotspot.objects.select_related("category", "village").prefetch_related(
            "villages", "snapshots").get(pk=hotspot.pk)
        return Response(HotspotSerializer(hotspot, context=self.get_serializer_context()).data, status=code)

    @extend_schema(tags=["hotspots"], summary="The hotspot's cases in your scope (window first, most similar first)",
                   responses={200: CaseSerializer(many=True), **error_responses(401, 404)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def cases(self, request, pk=None):
        hotspot = self.get_object()
        scoped = self.scope.cases(Case.objects.all())
        members = (HotspotMember.objects.filter(hotspot=hotspot, case__in=scoped)
                   .select_related("case__village", "case__grid", "case__category", "case__handler")
                   .order_by("-in_window", "-similarity", "case_id"))
        proactive = (ProactiveLink.objects.filter(hotspot=hotspot, case__in=scoped)
                     .select_related("case__village", "case__grid", "case__category", "case__handler"))
        ctx = self.get_serializer_context()
        return Response({
            "members": [{"in_window": m.in_window, "similarity": m.similarity,
                         "case": CaseSerializer(m.case, context=ctx).data} for m in members],
            "proactive": [CaseSerializer(link.case, context=ctx).data for link in proactive],
        })

    @extend_schema(tags=["hotspots"], summary="The hotspot's audited events, oldest first",
                   responses={200: HotspotEventSerializer(many=True), **error_responses(401, 404)})
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, pk=None):
        hotspot = self.get_object()
        return Response(HotspotEventSerializer(hotspot.events.select_related("actor").order_by("at", "id"),
                                               many=True).data)

    @extend_schema(tags=["hotspots"], summary="Watch a new hotspot (列入关注); supervisor, admin",
                   request=NoteInput, responses={200: HotspotSerializer, **error_responses(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def watch(self, request, pk=None):
        hotspot = self._hotspot(topics.MANAGE_ROLES)
        ser = NoteInput(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._answer(topics.watch(hotspot, actor=request.user, now=self.now, **ser.validated_data))

    @extend_schema(tags=["hotspots"], summary="Promote to the month's topic (每月一题); supervisor, admin",
                   request=PromoteInput, responses={201: MonthlyTopicSerializer, **error_responses(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        hotspot = self._hotspot(topics.MANAGE_ROLES)
        ser = PromoteInput(data=request.data)
        ser.is_valid(raise_exception=True)
        topic = topics.promote(hotspot, actor=request.user, now=self.now, **ser.validated_data)
        return Response(MonthlyTopicSerializer(topic).data, status=status.HTTP_201_CREATED)

    @extend_schema(tags=["hotspots"], summary="Raise a proactive case (未诉先办); supervisor, admin, dispatcher",
                   request=ProactiveInput, responses={201: CaseSerializer, **error_responses(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"], url_path="proactive-case", url_name="proactive-case")
    def proactive_case(self, request, pk=None):
        hotspot = self._hotspot(topics.RAISE_ROLES)
        ser = ProactiveInput(data=request.data)
        ser.is_valid(raise_exception=True)
        case = topics.raise_proactive_case(hotspot, actor=request.user, now=self.now, **ser.validated_data)
        case = Case.objects.select_related("village", "grid", "category", "handler").get(pk=case.pk)
        return Response(CaseSerializer(case, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(tags=["hotspots"], summary="Clear the hotspot (化解销号); supervisor, admin",
                   request=NoteInput, responses={200: HotspotSerializer, **error_responses(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        hotspot = self._hotspot(topics.MANAGE_ROLES)
        ser = NoteInput(data=request.data)
        ser.is_valid(raise_exception=True)
        return self._answer(topics.clear(hotspot, actor=request.user, now=self.now, **ser.validated_data))

    @extend_schema(tags=["hotspots"], summary="Hotspots cleared per month (Asia/Shanghai)",
                   parameters=[OpenApiParameter("start", dt.date), OpenApiParameter("end", dt.date)],
                   responses={200: {"type": "object"}, **error_responses(400, 401)})
    @action(detail=False, methods=["get"], url_path="cleared", pagination_class=None)
    def cleared(self, request):
        bounds = {name: day for name in ("start", "end")
                  if (day := query_date(request.query_params, name)) is not None}
        rows = topics.cleared_per_month(hotspots=hotspots_in_scope(self.scope), **bounds)
        return Response({"months": rows, "total": sum(r["cleared"] for r in rows)})


@extend_schema_view(
    list=extend_schema(tags=["hotspots"], summary="Monthly topics (每月一题) in your scope, newest month first",
                       parameters=[OpenApiParameter("month", str, pattern=r"^[0-9]{4}-[0-9]{2}$",
                                                    description="Only this month's topics (`YYYY-MM`).")],
                       responses={200: MonthlyTopicSerializer, **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["hotspots"], summary="One monthly topic",
                           responses={200: MonthlyTopicSerializer, **error_responses(401, 404)}),
)
class MonthlyTopicViewSet(ScopedMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = MonthlyTopicSerializer

    def get_queryset(self):
        qs = MonthlyTopic.objects.select_related("hotspot", "owner").prefetch_related("proactive_links")
        if (month := query_date(self.request.query_params, "month", month=True)) is not None:
            qs = qs.filter(month=topics.month_of(month))
        return qs.filter(hotspot__in=hotspots_in_scope(self.scope)).order_by("-month", "id")
