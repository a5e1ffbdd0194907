"""``Case.visit`` gives way to the reps app's own link (``reps.VisitCase``), which ``reps.0002`` filled from
this column before it is dropped; ``run_before`` lets ``grids`` forget its Visit model only afterwards."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0010_desk_queue_indexes"),
    ]
    run_before = [
        ("grids", "0006_visit_moved_to_reps"),
    ]

    operations = [
        migrations.RemoveField(model_name="case", name="visit"),
    ]
