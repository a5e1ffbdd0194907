"""Cases, their numbering and their append-only audit trail (DESIGN §2, §4, §5)."""
import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Replace
from django.utils.translation import gettext_lazy as _

from ..boundary import met, open_past_q, passed_q
from ..choices import (
    HANDLING_STARTED,
    OPEN_STATES,
    Action,
    CallbackSource,
    CaseKind,
    DeadlineSource,
    Satisfaction,
    Source,
    Status,
    Urgency,
)
from ..marks import next_check_at
from .taxonomy import Category

#: The characters a stored phone may hold besides digits (the create serializer's and form's validators).
PHONE_SEPARATORS = ("-", " ", "(", ")", "+")


def phone_key_expression(field: str = "complainant_phone"):
    """A database expression of ``field`` with the separators of :data:`PHONE_SEPARATORS` removed: the digits
    by which caller history matches a phone whole. Plain nested REPLACE, so it runs (and is indexed) on
    PostgreSQL and SQLite alike."""
    expr = models.F(field)
    for sep in PHONE_SEPARATORS:
        expr = Replace(expr, models.Value(sep), models.Value(""))
    return expr


PHONE_KEY = phone_key_expression()

#: Urgency, most pressing first (the queues' ``urgency`` sort, cases.desk.queues).
URGENCY_ORDER = ("emergency", "utilities", "complex", "general")


def urgency_rank_expression():
    """0 for emergency, 1 utilities, 2 complex, 3 general (9 for anything else): the intake queue's urgency
    order, indexed (``case_waiting_urgency``) so that sorting 100,000 waiting cases needs no sort."""
    return models.Case(*[models.When(urgency=u, then=models.Value(rank)) for rank, u in enumerate(URGENCY_ORDER)],
                       default=models.Value(9), output_field=models.IntegerField())


#: The states of a case waiting to be dispatched, and of one waiting for its callback (the queues).
WAITING_STATES = ("received", "returned")


def phone_key(phone: str) -> str:
    """The Python twin of :func:`phone_key_expression`: ``"138-1234 5678"`` → ``"13812345678"``."""
    out = phone or ""
    for sep in PHONE_SEPARATORS:
        out = out.replace(sep, "")
    return out


class DailySequence(models.Model):
    """Last case number handed out per Asia/Shanghai calendar day (XJ20250407-0001, -0002, …)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.day}: {self.last}"


class CaseQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATES)

    def due_for_sweep(self, now: dt.datetime):
        """Cases with a warning or breach due at ``now`` (UTC-aware): their next check point has passed
        (``now > next_check_at``, :mod:`cases.boundary`); served by a partial index."""
        return self.filter(passed_q("next_check_at", now))

    def overdue(self, now: dt.datetime):
        """Open cases past a deadline they have not met: undispatched past dispatch due, unresponded past
        respond due, unresolved past resolve due (the current round's deadlines, at ``now``)."""
        return self.filter(
            open_past_q("dispatched_at", "dispatch_due_at", now) | open_past_q("responded_at", "respond_due_at", now)
            | open_past_q("resolved_at", "resolve_due_at", now),
            status__in=OPEN_STATES,
        )


class Case(models.Model):
    """One citizen demand (诉求 / 工单), whatever its channel.

    Every time is stored in UTC. Status changes only through ``cases.services``; each writes a CaseEvent.
    ``next_check_at`` is the earliest pending warning or breach, the only column the sweep reads.
    """

    number = models.CharField(_("编号"), max_length=20, unique=True)
    external_ref = models.CharField(_("外部编号"), max_length=64, blank=True, help_text=_("如12345工单号"))
    source_system = models.CharField(
        _("来源系统"), max_length=40, blank=True,
        help_text=_("外部编号所属的系统（如上级12345平台、nyc311）；空：本系统按来源编号。"),
    )
    kind = models.CharField(_("诉求类型"), max_length=16, choices=CaseKind.choices)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("分类")
    )
    urgency = models.CharField(_("紧急程度"), max_length=16, choices=Urgency.choices, default=Urgency.GENERAL)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("诉求内容"), blank=True)
    complainant_name = models.CharField(_("诉求人"), max_length=50, blank=True)
    complainant_phone = models.CharField(_("诉求人电话"), max_length=30, blank=True)
    complainant_ref = models.CharField(
        _("诉求人账号"), max_length=64, blank=True,
        help_text=_("诉求人在来源平台的账号（如网上留言的留言用户），用于识别同一诉求人。"),
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    village = models.ForeignKey(
        "grids.Village", on_delete=models.PROTECT, related_name="cases", verbose_name=_("村/社区")
    )
    grid = models.ForeignKey(
        "grids.Grid", on_delete=models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("微网格")
    )
    lng = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    lat = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    handler = models.ForeignKey(
        "grids.Cadre", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases", verbose_name=_("承办人")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("登记人"),
    )

    # Milestones (UTC).
    received_at = models.DateTimeField(_("受理时间"))
    # The first dispatch: a reassignment (改派) or a reopen (重办) keeps it; each is an event of its own.
    dispatched_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    responded_at = models.DateTimeField(_("联系时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)

    # Deadlines, set at receipt from the SlaPolicy of the urgency — or at creation by the case's source
    # (``deadline_source`` external: an upstream work order's own, an export's due time); warning and breach
    # marks per deadline.
    deadline_source = models.CharField(_("时限依据"), max_length=16, choices=DeadlineSource.choices,
                                       default=DeadlineSource.POLICY)
    # Dispatch deadline (派单时限, issue 12 §4): received_at + the policy's dispatch_within, set at receipt.
    dispatch_due_at = models.DateTimeField(_("派单时限"), null=True, blank=True)
    dispatch_warn_at = models.DateTimeField(_("派单预警点"), null=True, blank=True)
    dispatch_warned_at = models.DateTimeField(_("派单已预警"), null=True, blank=True)
    dispatch_breached_at = models.DateTimeField(_("派单超时于"), null=True, blank=True)
    respond_due_at = models.DateTimeField(_("响应时限"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    respond_warn_at = models.DateTimeField(_("响应预警点"), null=True, blank=True)
    resolve_warn_at = models.DateTimeField(_("办结预警点"), null=True, blank=True)
    respond_warned_at = models.DateTimeField(_("响应已预警"), null=True, blank=True)
    respond_breached_at = models.DateTimeField(_("响应超时于"), null=True, blank=True)
    resolve_warned_at = models.DateTimeField(_("办结已预警"), null=True, blank=True)
    resolve_breached_at = models.DateTimeField(_("办结超时于"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("下次检查"), null=True, blank=True, editable=False)

    # Rounds (办理轮次, issue 12 §1): the columns above hold the current round; each earlier round is a
    # CaseRound row, and its verdicts are folded here (cases.rounds.fold_into_case), never to be cleared.
    round_number = models.PositiveSmallIntegerField(_("当前轮次"), default=1, editable=False)
    earlier_respond_late = models.BooleanField(_("往轮响应超时"), default=False, editable=False)
    earlier_resolve_late = models.BooleanField(_("往轮办结超时"), default=False, editable=False)
    earlier_lateness = models.DurationField(_("往轮最大超时"), null=True, blank=True, editable=False)

    # Extension (延期): a pending request, then the approved move of resolve_due_at.
    extension_requested_until = models.DateTimeField(_("申请延期至"), null=True, blank=True)
    extension_reason = models.CharField(_("延期理由"), max_length=500, blank=True)
    escalated_at = models.DateTimeField(_("最近督办"), null=True, blank=True)

    # Outcome (办结) and callback (回访).
    solved = models.BooleanField(_("是否解决"), null=True, blank=True)
    result = models.TextField(_("办理结果"), blank=True)
    callback_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    callback_contacted = models.BooleanField(_("回访：是否联系"), null=True, blank=True)
    callback_solved = models.BooleanField(_("回访：是否解决"), null=True, blank=True)
    satisfaction = models.CharField(_("满意度"), max_length=24, choices=Satisfaction.choices, blank=True)
    callback_source = models.CharField(_("回访来源"), max_length=16, choices=CallbackSource.choices, blank=True)

    excluded = models.BooleanField(_("剔除"), default=False)
    exclusion_reason = models.CharField(_("剔除理由"), max_length=200, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates", verbose_name=_("重复于")
    )
    imported = models.BooleanField(
        _("历史导入"), default=False, editable=False,
        help_text=_("由导入命令写入的历史记录（不进入在办回访队列）。"))
    # Support and opposition counts an imported message carried (点赞数 / 反对数); None when it had none.
    votes_up = models.PositiveIntegerField(_("点赞数"), null=True, blank=True)
    votes_down = models.PositiveIntegerField(_("反对数"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")
        ordering = ["-received_at"]
        constraints = [
            # An external reference is unique within its source and source system (a 12345 order number, a
            # city's 311 id): a re-import finds the case it made, two systems' equal numbers do not collide.
            models.UniqueConstraint(
                fields=["source", "source_system", "external_ref"], condition=~Q(external_ref=""),
                name="case_external_ref_per_source_system",
            ),
            models.CheckConstraint(condition=~Q(duplicate_of=models.F("id")), name="case_not_duplicate_of_itself"),
        ]
        indexes = [
            # The sweep reads only cases with a pending check: cost follows the cases that are due.
            models.Index(fields=["next_check_at"], name="case_next_check", condition=Q(next_check_at__isnull=False)),
            models.Index(fields=["status", "received_at"], name="case_status_received"),
            models.Index(fields=["village", "status"], name="case_village_status"),
            models.Index(fields=["grid", "status"], name="case_grid_status"),
            models.Index(fields=["received_at"], name="case_received"),
            models.Index(fields=["resolve_due_at"], name="case_resolve_due"),
            # Statistics find the days whose cases changed since the last snapshot refresh.
            models.Index(fields=["updated_at"], name="case_updated"),
            # Caller history (cases.desk.history): the phone matched whole, separators dropped.
            models.Index(PHONE_KEY, name="case_phone_key", condition=~Q(complainant_phone="")),
            # The queues (cases.desk.queues), read by keyset: cases to dispatch by received time and by
            # urgency, resolved cases waiting for a callback by resolved time.
            models.Index(F("received_at"), F("id"), name="case_waiting_received",
                         condition=Q(status__in=WAITING_STATES)),
            models.Index(urgency_rank_expression(), F("received_at"), F("id"), name="case_waiting_urgency",
                         condition=Q(status__in=WAITING_STATES)),
            models.Index(F("resolved_at"), F("id"), name="case_awaiting_callback",
                         condition=Q(status="resolved", satisfaction__in=["", "unreachable"])),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def has_complainant(self) -> bool:
        """Whether someone raised the case: a complainant's name, phone or platform account is recorded. A
        case found on patrol (巡查发现) has none, so its respond step has nobody to contact."""
        return bool(self.complainant_name or self.complainant_phone or self.complainant_ref)

    def action_label(self, action: str):
        """The label of ``action`` (an :class:`Action` value) on this case's timeline: the Action's own, but
        :data:`cases.choices.HANDLING_STARTED` (开始处置) for the respond step of a case without a complainant."""
        if action == Action.RESPONDED and not self.has_complainant:
            return HANDLING_STARTED
        return Action(action).label

    def compute_next_check_at(self):
        """The earliest pending warning or breach of this case, or None (an aware UTC datetime): the rule of
        :func:`cases.marks.next_check_at`, shared with the sweep. Cancelled cases have none."""
        return next_check_at(self)

    @property
    def responded_on_time(self):
        """True/False once the respond deadline is met or missed; None while it can still be met or has none."""
        return _on_time(self.responded_at, self.respond_due_at)

    @property
    def resolved_on_time(self):
        return _on_time(self.resolved_at, self.resolve_due_at)


def _on_time(met_at, due):
    return met(met_at, due)


class CaseEvent(models.Model):
    """Append-only audit row: who did what to a case, when, from which state to which."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("诉求"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )
    action = models.CharField(_("动作"), max_length=24, choices=Action.choices)
    from_status = models.CharField(_("原状态"), max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, choices=Status.choices, blank=True)
    at = models.DateTimeField(_("时间"))
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    class Meta:
        verbose_name = _("诉求事件")
        verbose_name_plural = _("诉求事件")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="event_case_at"),
                   models.Index(fields=["action", "at"], name="event_action_at")]

    def __str__(self):
        return f"{self.case_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("CaseEvent rows are append-only")
        super().save(*args, **kwargs)
