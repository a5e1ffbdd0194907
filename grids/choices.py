"""Choice sets of the grid registry: values in English, labels in Chinese (DESIGN §1–2)."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The roles of DESIGN §1; each exists as a Django group of the same name."""

    ADMIN = "admin", _("管理员")
    DISPATCHER = "dispatcher", _("指挥中心派单员")
    SUPERVISOR = "supervisor", _("督办领导")
    VILLAGE_LEADER = "village_leader", _("村级总网格长")
    GRID_LEADER = "grid_leader", _("微网格组长")
    CADRE = "cadre", _("包村干部")
    DEPUTY = "deputy", _("人大代表")


class VillageKind(models.TextChoices):
    VILLAGE = "village", _("村")
    COMMUNITY = "community", _("社区")


class CadreLevel(models.TextChoices):
    TOWN = "town", _("镇级")
    VILLAGE = "village", _("村级")
