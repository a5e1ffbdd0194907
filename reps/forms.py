"""Forms of the reps app's pages: recording a weekly visit, planning and recording a station's reception.
Forms only validate input and shape it for the services (``reps.visits``, ``reps.services``); error messages
are in the active language and name their field."""
from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms import LabelledErrors, local_datetime_field


class VisitRecordForm(LabelledErrors, forms.Form):
    """Record a reception-day visit (走访接待日) for ``reps.visits.record_visit``."""

    started_at = local_datetime_field(_("开始时间"))
    ended_at = local_datetime_field(_("结束时间"))
    households_visited = forms.IntegerField(label=_("走访户数"), min_value=0, max_value=100_000,
                                            widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    people_received = forms.IntegerField(label=_("接待人数"), min_value=0, max_value=100_000,
                                         widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    notes = forms.CharField(label=_("记录"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class DeputyChoices(forms.ModelMultipleChoiceField):
    """Deputies as ticks, each named with their station when the list spans several stations."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *args, with_station: bool = False, **kwargs):
        self.with_station = with_station
        super().__init__(*args, **kwargs)

    def label_from_instance(self, deputy):
        return f"{deputy.name}（{deputy.station.name}）" if self.with_station else deputy.name


class ReceptionPlanForm(LabelledErrors, forms.Form):
    """Plan an extra reception (安排接待) for ``reps.services.create_reception``: ``stations`` (a queryset)
    are those the user may run, ``deputies`` (a queryset) those who may be put on duty."""

    station = forms.ModelChoiceField(label=_("代表联络站"), queryset=None, empty_label=None,
                                     error_messages={"required": _("请选择代表联络站。"),
                                                     "invalid_choice": _("请选择您可以安排接待的代表联络站。")})
    starts_at = local_datetime_field(_("开始时间"), error_messages={"required": _("请填写开始时间。"),
                                                                "invalid": _("请按“年-月-日 时:分”填写开始时间。")})
    ends_at = local_datetime_field(_("结束时间"), error_messages={"required": _("请填写结束时间。"),
                                                              "invalid": _("请按“年-月-日 时:分”填写结束时间。")})
    deputies = DeputyChoices(label=_("接待代表"), queryset=None, required=False,
                             error_messages={"invalid_choice": _("所选代表不在可选名单中。")})
    notes = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, stations, deputies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["station"].queryset = stations
        self.fields["deputies"].queryset = deputies
        self.fields["deputies"].with_station = len({d.station_id for d in deputies}) > 1


class ReceptionRecordForm(LabelledErrors, forms.Form):
    """Record a reception as held (接待记录) for ``reps.services.record_reception``; ``deputies`` (a
    queryset) are those who may be ticked as present."""

    starts_at = local_datetime_field(_("开始时间"), error_messages={"required": _("请填写开始时间。"),
                                                                "invalid": _("请按“年-月-日 时:分”填写开始时间。")})
    ends_at = local_datetime_field(_("结束时间"), error_messages={"required": _("请填写结束时间。"),
                                                              "invalid": _("请按“年-月-日 时:分”填写结束时间。")})
    deputies = DeputyChoices(label=_("到场代表"), queryset=None,
                             error_messages={"required": _("请至少选择一位到场代表。"),
                                             "invalid_choice": _("所选代表不在可选名单中。")})
    residents_received = forms.IntegerField(label=_("接待群众人数"), min_value=0, max_value=100_000,
                                            widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                                            error_messages={"required": _("请填写接待群众人数。"),
                                                            "invalid": _("接待群众人数须为整数。"),
                                                            "min_value": _("接待群众人数不能为负。"),
                                                            "max_value": _("接待群众人数不能超过 100000。")})
    notes = forms.CharField(label=_("接待记录"), required=False, max_length=5000,
                            widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, deputies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deputies"].queryset = deputies
        self.fields["deputies"].with_station = len({d.station_id for d in deputies}) > 1
