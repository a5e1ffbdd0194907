"""Choice sets of the liaison stations: values in English (API), labels in Chinese (UI). DESIGN §2, §8."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class StationTheme(models.TextChoices):
    """The featured theme (特色) of a liaison station."""

    RESPOND_AT_ONCE = "respond_at_once", _("接诉即办")
    DISPUTE_MEDIATION = "dispute_mediation", _("矛盾调处")
    RURAL_REVITALISATION = "rural_revitalisation", _("乡村振兴")
    BUSINESS_ENVIRONMENT = "business_environment", _("优化营商环境")
    ECOLOGY = "ecology", _("生态环境")
    ELDERLY_CARE = "elderly_care", _("为老服务")


class PartnerKind(models.TextChoices):
    """The "+N" partner platforms a station works with (代表联络站 + N)."""

    JUDGE_WORKSTATION = "judge_workstation", _("法官工作站")
    CPPCC_WORKSTATION = "cppcc_workstation", _("政协委员工作站")
    CONSULTATION_PLATFORM = "consultation_platform", _("村(居)民议事协商平台")
    PROCURATORATE_WORKSTATION = "procuratorate_workstation", _("检察官工作站")
    LEGAL_SERVICE = "legal_service", _("公共法律服务站")
    VOLUNTEER_TEAM = "volunteer_team", _("志愿服务队")
    OTHER = "other", _("其他")


class DeputyLevel(models.TextChoices):
    """The people's congress a deputy sits in."""

    DISTRICT = "district", _("区人大代表")
    TOWN = "town", _("镇人大代表")


class Weekday(models.IntegerChoices):
    """ISO 8601 weekday numbers (Monday = 1), as ``date.isoweekday()`` returns them."""

    MONDAY = 1, _("周一")
    TUESDAY = 2, _("周二")
    WEDNESDAY = 3, _("周三")
    THURSDAY = 4, _("周四")
    FRIDAY = 5, _("周五")
    SATURDAY = 6, _("周六")
    SUNDAY = 7, _("周日")


class ReceptionStatus(models.TextChoices):
    PLANNED = "planned", _("计划")
    HELD = "held", _("已接待")
    CANCELLED = "cancelled", _("取消")


class LoopStep(models.TextChoices):
    """The five-step closed loop of a deputy-raised demand (五单式闭环), in order. DESIGN §8."""

    COLLECT = "collect", _("收集")
    ASSIGN = "assign", _("交办")
    SUPERVISE = "supervise", _("督办")
    FEEDBACK = "feedback", _("反馈")
    EVALUATE = "evaluate", _("评价")


class VisitStatus(models.TextChoices):
    """The state of a weekly visit (走访接待日, DESIGN §7)."""

    PLANNED = "planned", _("计划")
    DONE = "done", _("已走访")
    MISSED = "missed", _("未走访")
    CANCELLED = "cancelled", _("取消")
    SKIPPED_HOLIDAY = "skipped_holiday", _("节假日顺延无工作日")
