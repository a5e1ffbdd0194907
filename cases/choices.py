"""Choice sets of cases: values in English (API), labels in Chinese (UI). DESIGN §2, §4, §5."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseKind(models.TextChoices):
    ENQUIRY = "enquiry", _("咨询")
    HELP = "help", _("求助")
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")
    SUGGESTION = "suggestion", _("建议")


class Source(models.TextChoices):
    HOTLINE = "hotline", _("12345热线")
    ONLINE = "online", _("网上留言")
    PATROL = "patrol", _("网格巡查")
    VISIT = "visit", _("走访接待日")
    DEPUTY = "deputy", _("代表联络站")
    PROACTIVE = "proactive", _("未诉先办")
    ENTERPRISE = "enterprise", _("企业服务包")
    WALK_IN = "walk_in", _("来访")


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", _("紧急")
    UTILITIES = "utilities", _("水电气热")
    GENERAL = "general", _("一般")
    COMPLEX = "complex", _("疑难复杂")


class DeadlineSource(models.TextChoices):
    """What set a case's deadlines: the SlaPolicy of its urgency, or its source (an upstream work order's own
    deadlines, an export's own due time), which then govern instead (DESIGN §5)."""

    POLICY = "policy", _("时限标准")
    EXTERNAL = "external", _("来源规定")


class CallbackSource(models.TextChoices):
    """Who made the callback (回访) a case carries: the town's own command centre, or the upstream 12345
    platform's city-level callback (市级回访), which the three rates are assessed on."""

    LOCAL = "local", _("本级回访")
    UPSTREAM = "upstream", _("上级平台回访")


class Status(models.TextChoices):
    RECEIVED = "received", _("已受理")
    DISPATCHED = "dispatched", _("已派单")
    ACCEPTED = "accepted", _("已签收")
    RESPONDED = "responded", _("已联系")
    RESOLVED = "resolved", _("已办结")
    CLOSED = "closed", _("已结案")
    RETURNED = "returned", _("已退单")
    CANCELLED = "cancelled", _("已撤销")


#: States in which the case is still being handled (deadlines run, escalation possible).
OPEN_STATES = (Status.RECEIVED, Status.DISPATCHED, Status.ACCEPTED, Status.RESPONDED, Status.RETURNED)


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY_SATISFIED = "basically_satisfied", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")
    UNREACHABLE = "unreachable", _("联系不上")


class Action(models.TextChoices):
    """What a CaseEvent records: one per transition, plus the sweep's warnings and breaches."""

    CREATED = "created", _("登记")
    DISPATCHED = "dispatched", _("派单")
    ACCEPTED = "accepted", _("签收")
    RETURNED = "returned", _("退单")
    RESPONDED = "responded", _("联系诉求人")
    RESOLVED = "resolved", _("办结")
    CALLBACK = "callback", _("回访")
    REOPENED = "reopened", _("重办")
    CLOSED = "closed", _("结案")
    CANCELLED = "cancelled", _("撤销")
    EXTENSION_REQUESTED = "extension_requested", _("申请延期")
    EXTENSION_APPROVED = "extension_approved", _("批准延期")
    EXTENSION_DECLINED = "extension_declined", _("驳回延期")
    ESCALATED = "escalated", _("督办")
    COMMENTED = "commented", _("备注")
    URGENCY_CHANGED = "urgency_changed", _("调整紧急程度")
    EDITED = "edited", _("更正诉求信息")
    PHONE_REVEALED = "phone_revealed", _("查看诉求人电话")
    ATTACHMENT_ADDED = "attachment_added", _("上传附件")
    UPSTREAM_UPDATED = "upstream_updated", _("上级工单更新")
    RESPOND_WARNING = "respond_warning", _("响应预警")
    RESPOND_BREACH = "respond_breach", _("响应超时")
    RESOLVE_WARNING = "resolve_warning", _("办结预警")
    RESOLVE_BREACH = "resolve_breach", _("办结超时")
    DISPATCH_WARNING = "dispatch_warning", _("派单预警")
    DISPATCH_BREACH = "dispatch_breach", _("派单超时")


#: What the respond step (``Action.RESPONDED``) reads on a case without a complainant, one found on patrol
#: (巡查发现): nobody is to be contacted, so it marks that handling started. The transition, its deadline and
#: its statistics stay those of respond (``cases.models.Case.action_label``).
HANDLING_STARTED = _("开始处置")


class NotificationKind(models.TextChoices):
    DISPATCH_WARNING = "dispatch_warning", _("派单预警")
    DISPATCH_BREACH = "dispatch_breach", _("派单超时")
    RESPOND_WARNING = "respond_warning", _("响应预警")
    RESPOND_BREACH = "respond_breach", _("响应超时")
    RESOLVE_WARNING = "resolve_warning", _("办结预警")
    RESOLVE_BREACH = "resolve_breach", _("办结超时")
    ESCALATED = "escalated", _("督办")
    DISPATCHED = "dispatched", _("新派单")
    EXTENSION_REQUESTED = "extension_requested", _("延期申请")
    VISIT_MISSED = "visit_missed", _("走访未记录")
    VISIT_REMINDER = "visit_reminder", _("走访提醒")
    RECEPTION_REMINDER = "reception_reminder", _("接待提醒")
    DEPUTY_FEEDBACK = "deputy_feedback", _("代表诉求办结反馈")
    ENGINE_ALERT = "engine_alert", _("时限引擎告警")
    MORNING_DIGEST = "morning_digest", _("督办晨报")
    DELIVERY_FAILED = "delivery_failed", _("上级反馈投递失败")
    OTHER = "other", _("其他")


class AttachmentKind(models.TextChoices):
    """What an attachment shows (issue 16 build 4): the problem before handling, the result after, or a file."""

    BEFORE = "before", _("处理前照片")
    AFTER = "after", _("处理后照片")
    FILE = "file", _("文件")


class DeliveryStatus(models.TextChoices):
    """Where one message to one channel stands (``cases.channels``)."""

    PENDING = "pending", _("待发送")
    HELD = "held", _("待汇总")  # waiting for its digest (a window or the morning digest)
    SENDING = "sending", _("发送中")
    RETRYING = "retrying", _("待重试")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    FOLDED = "folded", _("已并入汇总")


class HotspotStatus(models.TextChoices):
    """Where a hotspot (高频难点) stands: found by the nightly run, watched, the month's topic, or cleared."""

    NEW = "new", _("新发现")
    WATCHING = "watching", _("关注中")
    MONTHLY_TOPIC = "monthly_topic", _("每月一题")
    CLEARED = "cleared", _("已化解")


class HotspotAction(models.TextChoices):
    """What a HotspotEvent records."""

    DETECTED = "detected", _("发现")
    WATCHED = "watched", _("列入关注")
    PROMOTED = "promoted", _("列为每月一题")
    PROACTIVE_RAISED = "proactive_raised", _("发起未诉先办")
    CLEARED = "cleared", _("化解销号")
