"""Create the Django group of every role of DESIGN §1."""
from django.db import migrations

ROLES = ["admin", "dispatcher", "supervisor", "village_leader", "grid_leader", "cadre", "deputy"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("grids", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
