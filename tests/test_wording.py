"""Chinese wording the pages show (issue 16 §8): messages that name their field, weeks as dates, categories
in pinyin order."""
import datetime as dt

import pytest
from django import forms
from django.utils import translation

from cases.desk.dates import week_range
from cases.forms import LabelledErrors


class Sample(LabelledErrors, forms.Form):
    count = forms.IntegerField(label="走访户数", min_value=0, max_value=10)
    at = forms.DateTimeField(label="开始时间")
    kind = forms.ChoiceField(label="诉求类型", choices=[("help", "求助")])
    note = forms.CharField(label="说明", max_length=3)
    keep = forms.CharField(label="理由", error_messages={"required": "请写明理由。"})


@pytest.mark.parametrize(("data", "zh", "en"), [
    ({}, {"count": "请填写走访户数。", "at": "请填写开始时间。", "kind": "请选择诉求类型。", "note": "请填写说明。",
          "keep": "请写明理由。"},
     {"count": "走访户数: this field is required.", "kind": "诉求类型: please choose one."}),
    ({"count": "x", "at": "昨天", "kind": "other", "note": "四个字呀", "keep": "有"},
     {"count": "走访户数须为整数。", "at": "开始时间须按“年-月-日 时:分”填写。", "kind": "所选诉求类型不在可选范围内。",
      "note": "说明最多 3 个字（现有 4 个字）。"},
     {"count": "走访户数: enter a whole number.", "note": "说明: at most 3 characters (it has 4)."}),
    ({"count": "11", "at": "2025-04-07 09:00", "kind": "help", "note": "好", "keep": "有"},
     {"count": "走访户数不能大于 10。"}, {"count": "走访户数: must be at most 10."}),
])
def test_form_messages_name_their_field_and_never_say_variable(data, zh, en):
    with translation.override("zh-hans"):
        errors = {name: " ".join(msgs) for name, msgs in Sample(data).errors.items()}
    assert errors == zh and not any("变量" in m or "该字段" in m or "这个字段" in m for m in errors.values())
    with translation.override("en"):
        errors = {name: " ".join(msgs) for name, msgs in Sample(data).errors.items()}
    assert {name: errors[name] for name in en} == en


@pytest.mark.parametrize(("week", "today", "zh", "en"), [
    ("2026-W49", dt.date(2026, 12, 3), "11月30日–12月6日", "11/30–12/6"),
    ("2026-W01", dt.date(2026, 1, 2), "2025年12月29日–2026年1月4日", "2025/12/29–2026/1/4"),
    ("2025-W41", dt.date(2026, 12, 3), "2025年10月6日–2025年10月12日", "2025/10/6–2025/10/12"),
    ("本周", dt.date(2026, 12, 3), "本周", "本周"),
])
def test_an_iso_week_reads_as_its_dates(week, today, zh, en):
    with translation.override("zh-hans"):
        assert week_range(week, today=today) == zh
    with translation.override("en"):
        assert week_range(week, today=today) == en



@pytest.mark.django_db
def test_category_pickers_sort_by_pinyin_with_other_last(client):
    from django.contrib.auth.models import User

    from cases.forms import EditForm
    from cases.models import Category

    names = ["其他事项（测）", "城乡建设（测）", "安全生产（测）", "治安管理（测）"]  # code point: 其 < 城 < 安 < 治
    roots = {name: Category.objects.create(name=name, level=1) for name in names}
    Category.objects.create(name="其他（测）", level=2, parent=roots["城乡建设（测）"])
    Category.objects.create(name="道路（测）", level=2, parent=roots["城乡建设（测）"])
    Category.objects.create(name="绿化（测）", level=2, parent=roots["城乡建设（测）"])
    expected = ["安全生产（测）", "城乡建设（测）", "城乡建设（测） / 道路（测）", "城乡建设（测） / 绿化（测）",
                "城乡建设（测） / 其他（测）", "治安管理（测）", "其他事项（测）"]
    labels = [str(label) for _value, label in EditForm().fields["category"].choices]
    assert labels[0] == "（未分类）" and [x for x in labels if "（测）" in x] == expected

    client.force_login(User.objects.create_user("reader"))
    tree = client.get("/api/v1/categories/tree/").json()
    mine = [node for node in tree if "（测）" in node["name"]]
    assert [node["name"] for node in mine] == ["安全生产（测）", "城乡建设（测）", "治安管理（测）", "其他事项（测）"]
    assert [c["name"] for c in mine[1]["children"]] == ["道路（测）", "绿化（测）", "其他（测）"]


# --- "Changed by someone else" only when it was (the same user's other tab says so) --------------------------


@pytest.mark.django_db
def test_a_stale_form_names_who_changed_the_case(client):
    """Two tabs of one dispatcher, then a supervisor's change: the stale form is refused either way, and only
    the supervisor's change reads 已被他人更改."""
    from cases import services
    from cases.choices import Action, Status
    from cases.models import CaseEvent
    from grids.choices import Role
    from tests import factories
    from tests.test_desk_pages import T0, make

    town = factories.build_town()
    case = make(town, Status.RECEIVED)
    services.dispatch(case, actor=town.user(Role.SUPERVISOR), grid=town.a1, now=T0)
    client.force_login(town.user(Role.DISPATCHER))
    stale = client.post(f"/cases/{case.pk}/do/cancel/", {"cancel-seen": "received", "cancel-reason": "重复"},
                        follow=True).content.decode()
    assert f"诉求 {case.number} 已被他人更改（现为“已派单”）。" in stale and "其他窗口" not in stale
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED
    assert not CaseEvent.objects.filter(case=case, action=Action.CANCELLED).exists()
