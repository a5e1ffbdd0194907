"""Forms of the cases app's pages (issue 6): logging a case, each lifecycle action, the period of a
statistics page.

Forms only validate input and shape it for ``cases.services``; they never change a
case. Choices are limited to the user's scope (:class:`grids.scope.Scope`); whether the user may act at
all is :func:`cases.rules.can`'s answer, whether the case's state allows it is the service's. Error
messages are in the active language (gettext), shown next to their field by the templates.
"""
import datetime as dt

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grids.choices import Role
from grids.models import Grid, Village

from . import rules
from .choices import AttachmentKind, CaseKind, Satisfaction, Source, Urgency
from .models import Case, Category

NOTE_MAX = 2000
REASON_MAX = 500
TITLE_FROM_DESCRIPTION = 30  # characters of the description used as title when none is given

#: Sources offered on the "log a case" form; ``visit`` comes from a visit's "log a case" link (an origin), ``deputy``
#: is offered (first) only to deputies (a demand they raise, DESIGN §8).
FORM_SOURCES = [Source.PATROL, Source.HOTLINE, Source.ONLINE, Source.PROACTIVE, Source.WALK_IN, Source.ENTERPRISE]

phone_validator = RegexValidator(r"^[0-9+\-() ]{5,30}$", _("电话号码只能包含数字、空格、+、-和括号。"))
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, Asia/Shanghai wall time


# --- Messages that name their field (issue 16 §8) ------------------------------------------------------------

_CHOSEN = (forms.ChoiceField, forms.ModelChoiceField, forms.BooleanField)


def _defaults(field) -> dict:
    """Django's own error messages of ``field``'s class (merged along its MRO, as ``Field.__init__`` does)."""
    messages = {}
    for klass in reversed(type(field).__mro__):
        messages.update(getattr(klass, "default_error_messages", {}))
    return messages


def labelled_messages(field) -> dict:
    """Error messages for ``field`` (a form field with a label) that name it — "请选择诉求类型。" instead of
    Django's "该字段是必填项。", "走访户数须为整数。" instead of "输入整数。", and length and range messages with
    the label in front — for each message the field's class would show as Django's default. Messages a
    form gave on purpose are kept. Built in the active language; ``{label}`` is filled in before Django fills
    ``%(limit_value)s`` and the like."""
    label = str(field.label).replace("%", "%%")
    if isinstance(field, forms.FileField):
        required = _("请选择要上传的{label}。")
    elif isinstance(field, _CHOSEN):
        required = _("请选择{label}。")
    else:
        required = _("请填写{label}。")
    wanted = {"required": required, "invalid_choice": _("所选{label}不在可选范围内。"),
              "max_length": _("{label}最多 %(limit_value)d 个字（现有 %(show_value)d 个字）。"),
              "min_length": _("{label}至少需要 %(limit_value)d 个字（现有 %(show_value)d 个字）。"),
              "min_value": _("{label}不能小于 %(limit_value)s。"), "max_value": _("{label}不能大于 %(limit_value)s。")}
    if isinstance(field, forms.DateTimeField):
        wanted["invalid"] = _("{label}须按“年-月-日 时:分”填写。")
    elif isinstance(field, forms.DateField):
        wanted["invalid"] = _("{label}须按“年-月-日”填写。")
    elif isinstance(field, forms.IntegerField) and not isinstance(field, (forms.DecimalField, forms.FloatField)):
        wanted["invalid"] = _("{label}须为整数。")
    elif isinstance(field, (forms.DecimalField, forms.FloatField)):
        wanted["invalid"] = _("{label}须为数字。")
    elif isinstance(field, forms.ModelMultipleChoiceField):
        wanted["invalid_choice"] = _("所选{label}不在可选范围内。")
    if isinstance(field, forms.FileField):  # its max_length is the file name's
        del wanted["max_length"], wanted["min_length"]
    defaults = _defaults(field)
    answer = {}
    for code, message in wanted.items():
        current = field.error_messages.get(code)
        if current is None or current is defaults.get(code):
            answer[code] = str(message).replace("{label}", label)
    return answer


class LabelledErrors:
    """Form mixin: every labelled field's default messages name the field (:func:`labelled_messages`), so
    a page never shows Django's "该字段是必填项。" or a "变量" without saying which field it means."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if field.label and not field.widget.is_hidden:
                field.error_messages = {**field.error_messages, **labelled_messages(field)}


class GridSelect(forms.Select):
    """A select of micro-grids whose options carry ``data-village`` (the village id), so the page's script
    can narrow them to the village chosen or typed."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None:
            option["attrs"]["data-village"] = str(instance.village_id)
            option["attrs"]["data-search"] = f"{instance.village.short_name} {instance.name} {instance.code}"
        return option


class GridChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, grid):
        return f"{grid.village.short_name}·{grid.name}"


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, village):
        return village.short_name


def local_datetime_field(label, **kwargs):
    return forms.DateTimeField(
        label=label, input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT), **kwargs)


def local_input(moment: dt.datetime) -> str:
    """An aware datetime as the value of a ``datetime-local`` input (Asia/Shanghai wall time)."""
    return timezone.localtime(moment).strftime(LOCAL_INPUT)


class CaseForm(LabelledErrors, forms.Form):
    """Log a case (登记). ``scope`` narrows villages and grids and offers source ``deputy`` to deputies;
    ``origin`` (optional, a :class:`cases.pages.CaseOrigin` such as a visit) fixes its source and village.
    The category comes from the page's
    three-level picker as one id."""

    village = VillageChoiceField(label=_("村/社区"), queryset=Village.objects.none())
    grid = GridChoiceField(label=_("微网格"), queryset=Grid.objects.none(), required=False, widget=GridSelect,
                           empty_label=_("不指定（进入受理队列，由指挥中心派单）"),
                           help_text=_("不知道属于哪个微网格时不要猜：留空即可。"))
    category = forms.ModelChoiceField(label=_("诉求分类"), queryset=Category.objects.all(), required=False,
                                      widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("诉求类型"), choices=CaseKind.choices, initial=CaseKind.HELP)
    urgency = forms.ChoiceField(label=_("紧急程度"), required=False,
                                choices=[("", _("按分类默认"))] + list(Urgency.choices))
    source = forms.ChoiceField(label=_("来源"), choices=[(s.value, s.label) for s in FORM_SOURCES])
    title = forms.CharField(label=_("标题"), max_length=200, required=False,
                            help_text=_("可留空：取诉求内容的前30个字。"))
    description = forms.CharField(label=_("诉求内容"), widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                  max_length=5000)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    complainant_name = forms.CharField(label=_("诉求人（可选）"), max_length=50, required=False)
    complainant_phone = forms.CharField(label=_("诉求人电话（可选）"), max_length=30, required=False,
                                        validators=[phone_validator],
                                        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    on_the_spot = forms.BooleanField(label=_("已就地解决"), required=False)
    result = forms.CharField(label=_("办理结果"), widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             max_length=NOTE_MAX)

    def __init__(self, *args, scope, origin=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope
        self.origin = origin
        self.fields["village"].queryset = scope.villages(Village.objects.order_by("code"))
        self.fields["grid"].queryset = scope.grids(Grid.objects.select_related("village").order_by("code"))
        if scope.roles == {Role.DEPUTY}:
            # A deputy logs what residents bring to the station, nothing else (issue 16 build 6).
            self.fields["source"].choices = [(Source.DEPUTY.value, Source.DEPUTY.label)]
        elif Role.DEPUTY in scope.roles:
            self.fields["source"].choices = [(Source.DEPUTY.value, Source.DEPUTY.label)] + self.fields["source"].choices
        if origin is not None and origin.villages is not None:  # a choice among the origin's villages
            self.fields["village"].queryset = origin.villages
            self.fields["village"].initial = origin.village.pk
            self.fields["grid"].queryset = self.fields["grid"].queryset.filter(village__in=origin.villages)
        elif origin is not None:
            village_id = origin.village.pk
            self.fields["village"].queryset = Village.objects.filter(pk=village_id)
            self.fields["village"].initial = village_id
            self.fields["village"].disabled = True
            self.fields["grid"].queryset = self.fields["grid"].queryset.filter(village_id=village_id)
        if not any(rules.can_create(scope, village_id=pk, grid_id=None)
                   for pk in self.fields["village"].queryset.values_list("pk", flat=True)):
            # Logging without a micro-grid (for the command centre to dispatch) is a place this user may not
            # log in (a grid leader logs in own grids only, cases.rules): not offered, so not refused after.
            grid = self.fields["grid"]
            grid.required, grid.empty_label, grid.help_text = True, None, ""
        if origin is not None:
            self.fields["source"].choices = [(origin.source, Source(origin.source).label)]
            self.fields["source"].initial = origin.source
            self.fields["source"].disabled = True

    def clean(self):
        data = super().clean()
        village, grid = data.get("village"), data.get("grid")
        if village is not None and grid is not None and grid.village_id != village.pk:
            self.add_error("grid", _("微网格不属于所选村/社区。"))
        title = (data.get("title") or "").strip()
        description = (data.get("description") or "").strip()
        if not title and not description and not self.has_error("title") and not self.has_error("description"):
            self.add_error("description", _("请填写标题或诉求内容。"))  # both empty, not merely refused
        data["title"] = title or description[:TITLE_FROM_DESCRIPTION]
        if data.get("on_the_spot"):
            if not (data.get("result") or "").strip():
                self.add_error("result", _("就地解决须填写办理结果。"))
            if grid is None:
                self.add_error("grid", _("就地解决的诉求须属于一个微网格。"))
        return data

    def case_fields(self) -> dict:
        """The cleaned fields as keyword arguments of ``cases.services.create_case`` (without the origin's
        fixed source, and its village unless it offers a choice, when logging from one)."""
        d = self.cleaned_data
        fields = {
            "kind": d["kind"], "title": d["title"], "description": d.get("description", ""),
            "category": d.get("category"), "grid": d.get("grid"), "address": d.get("address", ""),
            "complainant_name": d.get("complainant_name", ""), "complainant_phone": d.get("complainant_phone", ""),
        }
        if d.get("urgency"):
            fields["urgency"] = d["urgency"]
        if self.origin is None or self.origin.villages is not None:
            fields["village"] = d["village"]
        if self.origin is None:
            fields["source"] = d["source"]
        return fields


# --- Actions on a case --------------------------------------------------------------------------------


class ActionForm(LabelledErrors, forms.Form):
    """Base of every action form: ``seen`` is the case status the page showed, so that an action on a
    case changed meanwhile is refused (DESIGN §4: applies only if still in the state the caller saw).
    ``next`` is where to go afterwards (a local path)."""

    seen = forms.CharField(widget=forms.HiddenInput)
    next = forms.CharField(widget=forms.HiddenInput, required=False)


def _note(required=False, label=None):
    return forms.CharField(label=label or _("说明"), required=required, max_length=NOTE_MAX,
                           widget=forms.Textarea(attrs={"rows": 2}))


class NoteForm(ActionForm):
    note = _note()


class RequiredNoteForm(ActionForm):
    note = _note(required=True)


class EscalateForm(ActionForm):
    note = _note(required=True, label=_("督办意见"))


class ReasonForm(ActionForm):
    reason = forms.CharField(label=_("理由"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class DispatchForm(ActionForm):
    """Dispatch (派单): pick the grid; the village select and the search box only narrow the grid list."""

    village = VillageChoiceField(label=_("按村/社区筛选"), queryset=Village.objects.order_by("code"), required=False)
    grid = GridChoiceField(label=_("派往微网格"), widget=GridSelect,
                           queryset=Grid.objects.select_related("village", "leader__user").order_by("code"))
    note = _note()


class ResolveForm(ActionForm):
    solved = forms.TypedChoiceField(label=_("是否解决"), choices=[("yes", _("已解决")), ("no", _("未解决"))],
                                    coerce=lambda v: v == "yes", widget=forms.RadioSelect, initial="yes")
    result = forms.CharField(label=_("办理结果"), max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3}))


YES_NO = [("yes", _("是")), ("no", _("否"))]


class CallbackForm(ActionForm):
    """Callback (回访): three answers (DESIGN §4); "联系不上" needs neither of the two yes/no answers."""

    satisfaction = forms.ChoiceField(label=_("满意度"), choices=Satisfaction.choices, widget=forms.RadioSelect)
    contacted = forms.ChoiceField(label=_("承办人是否联系了诉求人"), choices=YES_NO, required=False,
                                  widget=forms.RadioSelect)
    solved = forms.ChoiceField(label=_("诉求是否解决"), choices=YES_NO, required=False, widget=forms.RadioSelect)
    note = _note()

    #: The messages of the two answers a reachable complainant's callback needs.
    MISSING = {"contacted": _("请选择是否联系。"), "solved": _("请选择是否解决。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.MISSING:  # required unless 联系不上: marked so, checked in clean()
            self.fields[name].shown_required = True
            self.fields[name].help_text = _("联系不上时可不选。")

    def clean(self):
        data = super().clean()
        reachable = data.get("satisfaction") not in (None, Satisfaction.UNREACHABLE)
        for name in ("contacted", "solved"):
            value = data.get(name)
            if reachable and not value:
                self.add_error(name, self.MISSING[name])
            data[name] = None if not value else value == "yes"
        return data


class CancelForm(ActionForm):
    reason = forms.CharField(label=_("撤销理由"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    duplicate_of = forms.CharField(label=_("重复于（原诉求编号，可选）"), max_length=20, required=False)
    exclude = forms.BooleanField(label=_("同时剔除（不计入考核口径）"), required=False, initial=True)
    confirm_other_caller = forms.BooleanField(label=_("确认不同诉求人"), required=False, initial=False)

    def __init__(self, *args, scope=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.scope = scope

    def clean_duplicate_of(self):
        number = (self.cleaned_data.get("duplicate_of") or "").strip()
        if not number:
            return None
        qs = Case.objects.filter(number=number)
        if self.scope is not None:
            qs = self.scope.cases(qs)
        original = qs.first()
        if original is None:
            raise forms.ValidationError(_("找不到编号为 %(number)s 的诉求。"), params={"number": number})
        return original


class ExtendForm(ActionForm):
    until = local_datetime_field(_("延期至"))
    reason = forms.CharField(label=_("延期理由"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))


class UrgencyForm(ActionForm):
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)
    note = _note()


# --- Statistics pages --------------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    """The dashboard's period (cases received from ``start`` to ``end``, Asia/Shanghai dates, inclusive)
    and scope (assessed: without excluded cases; all: 全口径)."""

    start = forms.DateField(label=_("起"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("止"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.ChoiceField(label=_("口径"), required=False,
                              choices=[("assessed", _("考核口径")), ("all", _("全口径"))])

    #: The dates a period may name (pages): wider makes no sense for a township's cases, and the month series
    #: and local-midnight arithmetic of far years (0001-01-01, 9999-12-31) overflow or take minutes.
    FIRST_DAY, LAST_DAY = dt.date(1990, 1, 1), dt.date(2099, 12, 31)

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            if data.get(name) and not self.FIRST_DAY <= data[name] <= self.LAST_DAY:
                self.add_error(name, _("日期须在 %(first)s 至 %(last)s 之间。") % {
                    "first": self.FIRST_DAY.isoformat(), "last": self.LAST_DAY.isoformat()})
                data[name] = None
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        data["scope"] = data.get("scope") or "assessed"
        return data


# --- Desk (issue 16) ------------------------------------------------------------------------------------


def _path(category) -> list[str]:
    names, node = [], category
    while node is not None:
        names.insert(0, node.name)
        node = node.parent
    return names


class _PinyinPathIterator(forms.models.ModelChoiceIterator):
    """The choices of :class:`CategoryPathField` in the order people read (issue 16 §8): level by level in
    pinyin order with "其他…" last (:func:`cases.desk.ordering.category_sort_key`), not by code point."""

    def __iter__(self):
        from .desk.ordering import category_sort_key

        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in sorted(self.queryset, key=lambda c: [category_sort_key(name) for name in _path(c)]):
            yield self.choice(obj)


class CategoryPathField(forms.ModelChoiceField):
    """A category as its path (一级 / 二级 / 三级), for the edit form's select, in pinyin order."""

    iterator = _PinyinPathIterator

    def label_from_instance(self, category):
        return " / ".join(_path(category))


class EditForm(ActionForm):
    """Correct a case at intake (``cases.desk.editing.edit_case``): what is left as it was is not changed."""

    category = CategoryPathField(label=_("诉求分类"), required=False, empty_label=_("（未分类）"),
                                 queryset=Category.objects.select_related("parent__parent"))
    kind = forms.ChoiceField(label=_("诉求类型"), choices=CaseKind.choices)
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)
    title = forms.CharField(label=_("标题"), max_length=200)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    lng = forms.DecimalField(label=_("经度"), max_digits=9, decimal_places=6, min_value=-180, max_value=180,
                             required=False)
    lat = forms.DecimalField(label=_("纬度"), max_digits=9, decimal_places=6, min_value=-90, max_value=90,
                             required=False)
    note = _note(label=_("更正说明"))

    def changes(self) -> dict:
        d = self.cleaned_data
        return {name: d.get(name) for name in ("category", "kind", "urgency", "title", "address", "lng", "lat")}


class AttachmentForm(LabelledErrors, forms.Form):
    """Upload a photo or file to a case (``cases.attachments.attach_to_case``)."""

    file = forms.FileField(label=_("照片或文件"), widget=forms.ClearableFileInput(
        attrs={"accept": "image/jpeg,image/png,image/webp,application/pdf,.docx,.xlsx,.pptx,.txt,.csv"}))
    kind = forms.ChoiceField(label=_("类别"), choices=AttachmentKind.choices, initial=AttachmentKind.BEFORE)
    use_location = forms.BooleanField(label=_("用照片的拍摄位置作为诉求地点"), required=False)
