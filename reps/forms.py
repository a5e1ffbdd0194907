"""Forms of the reps app's pages: recording a weekly visit. Forms only validate input and shape it for the
services (``reps.visits``); error messages are in the active language."""
from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms import local_datetime_field


class VisitRecordForm(forms.Form):
    """Record a reception-day visit (走访接待日) for ``reps.visits.record_visit``."""

    started_at = local_datetime_field(_("开始时间"))
    ended_at = local_datetime_field(_("结束时间"))
    households_visited = forms.IntegerField(label=_("走访户数"), min_value=0, max_value=100_000,
                                            widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    people_received = forms.IntegerField(label=_("接待人数"), min_value=0, max_value=100_000,
                                         widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    notes = forms.CharField(label=_("记录"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
