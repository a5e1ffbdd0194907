"""The grid registry: town, villages, micro-grids, cadres and their standing village assignments (DESIGN §2)."""
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .choices import CadreLevel, Role, VillageKind

statistical_code = RegexValidator(r"^\d{12}$", _("统计用区划代码为12位数字。"))


class Town(models.Model):
    """A township (镇). Xiji is one; the model allows several."""

    code = models.CharField(_("统计代码"), max_length=12, unique=True, validators=[statistical_code])
    name = models.CharField(_("名称"), max_length=50)
    district = models.CharField(_("区"), max_length=50, blank=True)
    lng = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    lat = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)

    class Meta:
        verbose_name = _("镇")
        verbose_name_plural = _("镇")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Village(models.Model):
    """A village-level unit (村 / 社区) with its 12-digit statistical code (NBS 2023 edition)."""

    town = models.ForeignKey(Town, on_delete=models.PROTECT, related_name="villages", verbose_name=_("镇"))
    code = models.CharField(_("统计代码"), max_length=12, unique=True, validators=[statistical_code])
    name = models.CharField(_("名称"), max_length=50)
    kind = models.CharField(_("类型"), max_length=16, choices=VillageKind.choices, default=VillageKind.VILLAGE)
    urban_rural_code = models.CharField(_("城乡分类代码"), max_length=3, blank=True)
    lng = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    lat = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    chief_grid_leader = models.ForeignKey(
        "Cadre",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_villages",
        verbose_name=_("村级总网格长"),
    )

    class Meta:
        verbose_name = _("村/社区")
        verbose_name_plural = _("村/社区")
        ordering = ["code"]

    def __str__(self):
        return self.short_name

    @property
    def short_name(self) -> str:
        """The everyday name: 大灰店村村委会 → 大灰店村, 西集村委会 → 西集村, 运潮馨苑社区居民委员会 → 运潮馨苑社区."""
        if self.name.endswith("居民委员会"):
            return self.name[: -len("居民委员会")]
        for suffix in ("村民委员会", "村委会"):
            if self.name.endswith(suffix):
                base = self.name[: -len(suffix)]
                return base if base.endswith("村") else base + "村"
        return self.name


class Grid(models.Model):
    """A micro-grid (微网格) inside one village; the unit cases are dispatched to."""

    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="grids", verbose_name=_("村/社区"))
    code = models.CharField(_("网格编码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    leader = models.ForeignKey(
        "Cadre", on_delete=models.SET_NULL, null=True, blank=True, related_name="led_grids", verbose_name=_("微网格组长")
    )
    members = models.ManyToManyField("Cadre", blank=True, related_name="member_grids", verbose_name=_("网格员"))
    households = models.PositiveIntegerField(_("户数"), default=0)

    class Meta:
        verbose_name = _("微网格")
        verbose_name_plural = _("微网格")
        ordering = ["code"]

    def __str__(self):
        return f"{self.village.short_name}·{self.name}"


def new_calendar_token() -> str:
    """A fresh secret for a cadre's calendar link: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


class Cadre(models.Model):
    """A person who works cases (town or village level), optionally linked to a login.

    ``calendar_token`` is the secret part of the cadre's iCalendar link of visits (``/calendar/<token>.ics``);
    ``reps.visits.rotate_calendar_token`` replaces it, which makes the old link stop working.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cadre",
        verbose_name=_("登录账号"),
    )
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    level = models.CharField(_("层级"), max_length=16, choices=CadreLevel.choices)
    position = models.CharField(_("职务"), max_length=50, blank=True)
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    village = models.ForeignKey(
        Village,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cadres",
        verbose_name=_("所在村"),
        help_text=_("村级干部所在的村/社区；镇级干部留空。"),
    )
    is_active = models.BooleanField(_("在岗"), default=True)
    calendar_token = models.CharField(
        _("日历订阅密钥"), max_length=64, unique=True, default=new_calendar_token, editable=False,
    )

    class Meta:
        verbose_name = _("干部")
        verbose_name_plural = _("干部")
        ordering = ["level", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.level == CadreLevel.VILLAGE and self.village_id is None:
            raise ValidationError({"village": _("村级干部必须属于一个村/社区。")})


class VillageAssignment(models.Model):
    """A town cadre's standing assignment to a village (包村), valid from ``start_date`` to ``end_date``
    inclusive (``end_date`` empty: open-ended)."""

    cadre = models.ForeignKey(Cadre, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("包村干部"))
    village = models.ForeignKey(Village, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("村/社区"))
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("截止日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("包村")
        verbose_name_plural = _("包村")
        ordering = ["village__code", "start_date"]
        constraints = [
            models.UniqueConstraint(fields=["cadre", "village", "start_date"], name="assignment_unique_start"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="assignment_end_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.cadre} → {self.village}"

    def clean(self):
        if self.cadre_id and self.cadre.level != CadreLevel.TOWN:
            raise ValidationError({"cadre": _("包村干部须为镇级干部。")})


class LoginAttemptWindow(models.Model):
    """The failed-login counter of one client address and username when no Redis cache is configured
    (``grids.throttle``, database store): ``count`` attempts in the window that ends at ``ends_at``.
    ``key`` is a digest of address and username (neither is stored here)."""

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    ends_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("登录计数窗口")
        verbose_name_plural = _("登录计数窗口")

    def __str__(self):
        return f"{self.key}: {self.count}"


class LoginFailure(models.Model):
    """Audit of one failed login (issue 16.1): who was tried, from where, when, through which way in,
    and whether the throttle refused it without checking the password. The password is never stored."""

    at = models.DateTimeField(_("时间"), db_index=True)
    username = models.CharField(_("用户名"), max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("用户"),
    )
    address = models.GenericIPAddressField(_("地址"), null=True, blank=True)
    way = models.CharField(_("入口"), max_length=8)  # web, admin, api
    locked = models.BooleanField(_("已锁定"), default=False)

    class Meta:
        verbose_name = _("登录失败记录")
        verbose_name_plural = _("登录失败记录")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.address}"
