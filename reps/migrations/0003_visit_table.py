"""The weekly visits' move into ``reps``, second step (after ``cases.0011`` dropped ``Case.visit``): the
table is renamed ``grids_visit`` → ``reps_visit`` (rows, ids, its id sequence, indexes and the foreign keys
pointing at it stay), and the content type of ``grids.visit`` — with its permissions and admin log entries —
becomes ``reps.visit``. Backwards, the table gets its old name before ``Case.visit`` is added back."""
from django.db import migrations


def move_content_type(apps, schema_editor, *, old=("grids", "visit"), new=("reps", "visit")):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label=new[0], model=new[1]).exists():
        ContentType.objects.using(db).filter(app_label=old[0], model=old[1]).update(app_label=new[0], model=new[1])


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, old=("reps", "visit"), new=("grids", "visit"))


class Migration(migrations.Migration):

    dependencies = [
        ("reps", "0002_visit"),
        ("cases", "0011_remove_case_visit"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="visit", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
