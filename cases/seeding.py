"""Reference data of cases: the category taxonomy and the SLA policies (DESIGN §5)."""
import csv
import datetime as dt
from pathlib import Path

from django.conf import settings
from django.db import transaction

from .choices import Urgency
from .models import Category, SlaPolicy

TAXONOMY_FILE = Path(settings.BASE_DIR) / "seeds" / "taxonomy_517.csv"

#: Default urgency by category name (any level): 水电气热 → utilities; safety risks → emergency.
DEFAULT_URGENCY = {
    "冬季采暖": Urgency.UTILITIES,
    "燃气供应": Urgency.UTILITIES,
    "电力供应": Urgency.UTILITIES,
    "自来水供应": Urgency.UTILITIES,
    "事故处理": Urgency.EMERGENCY,
    "安全隐患": Urgency.EMERGENCY,
    "消防安全": Urgency.EMERGENCY,
}

#: Windows of DESIGN §5 (Beijing 12345 service standard draft, DB11/T 2021—2022): respond, resolve.
#: Dispatch time limits per urgency (DB11/T 2021—2022; issue 12 §4).
DISPATCH_WINDOWS = {
    Urgency.EMERGENCY: dt.timedelta(hours=1),
    Urgency.UTILITIES: dt.timedelta(hours=2),
    Urgency.GENERAL: dt.timedelta(hours=24),
    Urgency.COMPLEX: dt.timedelta(hours=24),
}
SLA_WINDOWS = {
    Urgency.EMERGENCY: (dt.timedelta(hours=2), dt.timedelta(hours=24)),
    Urgency.UTILITIES: (dt.timedelta(hours=2), dt.timedelta(hours=24)),
    Urgency.GENERAL: (dt.timedelta(hours=24), dt.timedelta(days=7)),
    Urgency.COMPLEX: (dt.timedelta(hours=24), dt.timedelta(days=15)),
}


def seed_sla_policies() -> int:
    """Create the four SlaPolicy rows with the windows above and a 75 % warning share, where missing.

    Existing rows are left as an administrator edited them. Returns how many were created.
    """
    created = 0
    for urgency, (respond, resolve) in SLA_WINDOWS.items():
        _, made = SlaPolicy.objects.get_or_create(
            urgency=urgency, defaults={"respond_within": respond, "resolve_within": resolve, "warning_share": 0.75,
                                       "dispatch_within": DISPATCH_WINDOWS[urgency]}
        )
        created += made
    return created


@transaction.atomic
def seed_categories(path: Path = TAXONOMY_FILE) -> int:
    """Load the three-level taxonomy (columns 一级分类, 二级分类, 三级分类) idempotently.

    Returns the number of categories in the table afterwards. Raises KeyError on a missing column.
    """
    cache: dict[tuple, Category] = {}

    def node(parent, name, level):
        key = (parent.pk if parent else None, name)
        if key not in cache:
            cache[key], _ = Category.objects.get_or_create(
                parent=parent, name=name,
                defaults={"level": level, "default_urgency": DEFAULT_URGENCY.get(name, "")},
            )
        return cache[key]

    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            names = [row["一级分类"].strip(), row["二级分类"].strip(), row["三级分类"].strip()]
            parent = None
            for level, name in enumerate(names, start=1):
                if not name:
                    break
                parent = node(parent, name, level)
    return Category.objects.count()
