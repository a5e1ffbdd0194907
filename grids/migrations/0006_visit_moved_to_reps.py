"""The weekly visits now belong to ``reps`` (``reps.Visit``, table ``reps_visit``, moved by ``reps.0002``
with every row and id): the registry forgets the model. State only; the table is not touched here."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("grids", "0005_login_throttle_and_audit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Visit")],
            database_operations=[],
        ),
    ]
