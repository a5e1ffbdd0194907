"""Seed the four SLA policies of DESIGN §5 (editable afterwards in the admin)."""
import datetime as dt

from django.db import migrations

WINDOWS = {
    "emergency": (dt.timedelta(hours=2), dt.timedelta(hours=24)),
    "utilities": (dt.timedelta(hours=2), dt.timedelta(hours=24)),
    "general": (dt.timedelta(hours=24), dt.timedelta(days=7)),
    "complex": (dt.timedelta(hours=24), dt.timedelta(days=15)),
}


def create(apps, schema_editor):
    SlaPolicy = apps.get_model("cases", "SlaPolicy")
    for urgency, (respond, resolve) in WINDOWS.items():
        SlaPolicy.objects.get_or_create(
            urgency=urgency, defaults={"respond_within": respond, "resolve_within": resolve, "warning_share": 0.75}
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
