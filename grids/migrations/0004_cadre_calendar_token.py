"""A secret calendar link per cadre: add the column, give every existing cadre its own token, then make it
unique and required (a callable default on AddField would give all existing rows the same value)."""
from django.db import migrations, models

import grids.models


def fill_tokens(apps, schema_editor):
    Cadre = apps.get_model("grids", "Cadre")
    for cadre in Cadre.objects.filter(calendar_token__isnull=True).only("pk"):
        cadre.calendar_token = grids.models.new_calendar_token()
        cadre.save(update_fields=["calendar_token"])


class Migration(migrations.Migration):

    dependencies = [
        ("grids", "0003_visit"),
    ]

    operations = [
        migrations.AddField(
            model_name="cadre",
            name="calendar_token",
            field=models.CharField(editable=False, max_length=64, null=True, verbose_name="日历订阅密钥"),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="cadre",
            name="calendar_token",
            field=models.CharField(
                default=grids.models.new_calendar_token, editable=False, max_length=64, unique=True,
                verbose_name="日历订阅密钥",
            ),
        ),
    ]
