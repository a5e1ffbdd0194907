"""Liaison stations, deputies, receptions and the link of a deputy-raised case (DESIGN §2, §8); town
cadres' weekly village visits and the link of a case raised at one (DESIGN §7).

Every time is stored in UTC; ``Reception.date`` and a station's regular reception time are Asia/Shanghai
calendar values. A deputy-raised case is an ordinary ``cases.Case`` with source ``deputy``; the deputy,
the station and the reception it came from are held by :class:`RaisedDemand`, so the cases app knows
nothing of stations.
"""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models import Case
from grids.choices import Role

from .choices import DeputyLevel, PartnerKind, ReceptionStatus, StationTheme, VisitStatus, Weekday


class LiaisonStation(models.Model):
    """A people's-congress deputies' liaison station (代表联络站).

    ``village`` is where it stands, ``villages_served`` the village-level units whose residents it
    receives. Its regular reception (``reception_weekday``, ISO 1 = Monday, from ``reception_starts`` to
    ``reception_ends``, Asia/Shanghai wall-clock time) yields planned receptions; a station without a
    weekday has none. ``partners`` (PartnerPlatform rows) are its "+N".
    """

    code = models.CharField(_("编号"), max_length=16, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    village = models.ForeignKey(
        "grids.Village", on_delete=models.PROTECT, related_name="liaison_stations", verbose_name=_("所在村/社区")
    )
    villages_served = models.ManyToManyField(
        "grids.Village", blank=True, related_name="served_by_stations", verbose_name=_("服务村/社区")
    )
    theme = models.CharField(_("特色主题"), max_length=32, choices=StationTheme.choices)
    volunteers = models.PositiveIntegerField(_("志愿者人数"), default=0)
    social_organisations = models.PositiveIntegerField(_("社会组织数"), default=0)
    reception_weekday = models.PositiveSmallIntegerField(
        _("固定接待日"), choices=Weekday.choices, null=True, blank=True
    )
    reception_starts = models.TimeField(_("接待开始"), null=True, blank=True)
    reception_ends = models.TimeField(_("接待结束"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("代表联络站")
        verbose_name_plural = _("代表联络站")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(reception_weekday__isnull=True, reception_starts__isnull=True, reception_ends__isnull=True)
                    | Q(reception_weekday__isnull=False, reception_starts__isnull=False, reception_ends__isnull=False,
                        reception_ends__gt=models.F("reception_starts"))
                ),
                name="station_regular_reception_complete",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        schedule = (self.reception_weekday, self.reception_starts, self.reception_ends)
        if any(v is not None for v in schedule) and any(v is None for v in schedule):
            raise ValidationError({"reception_weekday": _("固定接待日、开始和结束时间须同时填写或同时留空。")})
        if self.reception_starts and self.reception_ends and self.reception_ends <= self.reception_starts:
            raise ValidationError({"reception_ends": _("接待结束时间须晚于开始时间。")})


class PartnerPlatform(models.Model):
    """One of a station's "+N" partner platforms (法官工作站, 政协委员工作站, 议事协商平台 …)."""

    station = models.ForeignKey(
        LiaisonStation, on_delete=models.CASCADE, related_name="partners", verbose_name=_("代表联络站")
    )
    kind = models.CharField(_("类型"), max_length=32, choices=PartnerKind.choices)
    name = models.CharField(_("名称"), max_length=100, blank=True, help_text=_("留空时显示类型名称。"))

    class Meta:
        verbose_name = _("协作平台")
        verbose_name_plural = _("协作平台")
        ordering = ["station", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["station", "kind", "name"], name="partner_unique_per_station"),
        ]

    def __str__(self):
        return self.name or self.get_kind_display()


class Deputy(models.Model):
    """A people's-congress deputy (人大代表) attached to one liaison station.

    ``user`` (optional) is the deputy's login; it must be in the ``deputy`` group (DESIGN §1), which
    :meth:`clean` checks and ``reps.services.link_login`` ensures.
    """

    code = models.CharField(_("编号"), max_length=16, unique=True)
    name = models.CharField(_("姓名"), max_length=50)
    level = models.CharField(_("层级"), max_length=16, choices=DeputyLevel.choices)
    station = models.ForeignKey(
        LiaisonStation, on_delete=models.PROTECT, related_name="deputies", verbose_name=_("代表联络站")
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="deputy",
        verbose_name=_("登录账号"),
    )
    is_active = models.BooleanField(_("在任"), default=True)

    class Meta:
        verbose_name = _("人大代表")
        verbose_name_plural = _("人大代表")
        ordering = ["station__code", "code"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.user_id and not self.user.groups.filter(name=Role.DEPUTY).exists():
            raise ValidationError({"user": _("登录账号须属于“人大代表”角色组。")})


class Reception(models.Model):
    """One reception session (接待) of a station.

    ``date`` is the Asia/Shanghai calendar date of ``starts_at`` (aware, UTC in storage). ``regular``
    marks a reception planned from the station's regular reception day; there is at most one regular
    reception per station and date, which makes planning idempotent. ``deputies`` are those on duty
    while planned and those present once held. Status changes only through ``reps.services``.
    """

    station = models.ForeignKey(
        LiaisonStation, on_delete=models.PROTECT, related_name="receptions", verbose_name=_("代表联络站")
    )
    date = models.DateField(_("日期"))
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    regular = models.BooleanField(_("固定接待日"), default=False)
    status = models.CharField(_("状态"), max_length=16, choices=ReceptionStatus.choices,
                              default=ReceptionStatus.PLANNED)
    deputies = models.ManyToManyField(Deputy, blank=True, related_name="receptions", verbose_name=_("接待代表"))
    residents_received = models.PositiveIntegerField(_("接待群众人数"), default=0)
    notes = models.TextField(_("记录"), blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    recorded_at = models.DateTimeField(_("记录时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("记录人"),
    )
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("接待")
        verbose_name_plural = _("接待")
        ordering = ["starts_at", "station__code"]
        constraints = [
            models.UniqueConstraint(fields=["station", "date"], condition=Q(regular=True),
                                    name="reception_one_regular_per_station_day"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="reception_ends_after_start"),
        ]
        indexes = [models.Index(fields=["status", "date"], name="reception_status_date")]

    def __str__(self):
        return f"{self.station} {self.date:%Y-%m-%d}"


class RaisedDemand(models.Model):
    """The link of a deputy-raised case (source ``deputy``) to its deputy, station and reception.

    Created together with the case by ``reps.services.raise_demand``; ``station`` is kept as it was when
    the demand was raised (a deputy may move later). ``reception`` is empty for a demand raised outside a
    reception session.
    """

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, related_name="raised_demand", verbose_name=_("诉求")
    )
    deputy = models.ForeignKey(Deputy, on_delete=models.PROTECT, related_name="raised_demands",
                               verbose_name=_("提出代表"))
    station = models.ForeignKey(LiaisonStation, on_delete=models.PROTECT, related_name="raised_demands",
                                verbose_name=_("代表联络站"))
    reception = models.ForeignKey(Reception, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="demands", verbose_name=_("接待"))
    raised_at = models.DateTimeField(_("提出时间"))

    class Meta:
        verbose_name = _("代表诉求")
        verbose_name_plural = _("代表诉求")
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["station", "raised_at"], name="demand_station_raised"),
                   models.Index(fields=["deputy", "raised_at"], name="demand_deputy_raised")]

    def __str__(self):
        return f"{self.deputy} → {self.case_id}"


class Visit(models.Model):
    """One town cadre's weekly reception-day visit (走访接待日) to one assigned village (DESIGN §7).

    ``iso_week`` is ``YYYY-Www`` (ISO 8601); ``planned_date`` is that week's Monday, or the next working day
    of the same week when Monday is not one. Cases raised there are linked by :class:`VisitCase`. The table
    was ``grids_visit`` until the visits moved into this app (migrations ``reps.0002``–``0003``; rows and ids kept).
    """

    cadre = models.ForeignKey("grids.Cadre", on_delete=models.CASCADE, related_name="visits", verbose_name=_("包村干部"))
    village = models.ForeignKey("grids.Village", on_delete=models.CASCADE, related_name="visits", verbose_name=_("村/社区"))
    assignment = models.ForeignKey(
        "grids.VillageAssignment", on_delete=models.SET_NULL, null=True, blank=True, related_name="visits",
        verbose_name=_("包村"),
    )
    iso_week = models.CharField(_("周次"), max_length=8)
    planned_date = models.DateField(_("计划日期"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.PLANNED)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    households_visited = models.PositiveIntegerField(_("走访户数"), default=0)
    people_received = models.PositiveIntegerField(_("接待人数"), default=0)
    notes = models.TextField(_("记录"), blank=True)
    reminded_at = models.DateTimeField(_("已提醒"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("记录人"),
    )

    class Meta:
        verbose_name = _("走访接待日")
        verbose_name_plural = _("走访接待日")
        ordering = ["planned_date", "village__code"]
        constraints = [
            models.UniqueConstraint(fields=["cadre", "village", "iso_week"], name="visit_once_per_week"),
        ]
        indexes = [
            models.Index(fields=["status", "planned_date"], name="visit_status_date"),
            models.Index(fields=["iso_week"], name="visit_week"),
        ]

    def __str__(self):
        return f"{self.cadre} → {self.village} {self.iso_week}"

    @property
    def cases(self):
        """The cases raised at this visit (linked by :class:`VisitCase`), as a Case queryset."""
        return Case.objects.filter(visit_link__visit=self)


class VisitCase(models.Model):
    """The link of a case raised by a resident at a weekly visit (source ``visit``) to that visit.

    Created together with the case by :func:`reps.visits.raise_case_at_visit`; one row per case (the case
    is the key). Until the visits moved into this app the link was the column ``Case.visit``; migration
    ``reps.0002`` carried every link over. Deleting the visit deletes the link, never the case.
    """

    case = models.OneToOneField(
        "cases.Case", on_delete=models.CASCADE, primary_key=True, related_name="visit_link", verbose_name=_("诉求")
    )
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="case_links",
                              verbose_name=_("走访接待日"))

    class Meta:
        verbose_name = _("走访诉求")
        verbose_name_plural = _("走访诉求")

    def __str__(self):
        return f"{self.visit_id} → {self.case_id}"
