"""The weekly visits move from ``grids`` into ``reps`` without losing a row (issue 15), first step.

1. ``reps.Visit`` takes over the state of ``grids.Visit`` on the same table ``grids_visit`` (state only).
2. ``reps.VisitCase`` is created and every ``cases_case.visit_id`` is carried into it (one set-based INSERT),
   so that ``cases.0011`` can drop the column; backwards, the links go back into the column.

Runs before ``cases.0011_remove_case_visit`` and ``grids.0006_visit_moved_to_reps`` (``run_before``), so that
those apps' migrations never name this one. ``reps.0003`` then renames the table and moves the content type.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_links(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    VisitCase = apps.get_model("reps", "VisitCase")
    qn = schema_editor.quote_name
    schema_editor.execute(
        f"INSERT INTO {qn(VisitCase._meta.db_table)} ({qn('case_id')}, {qn('visit_id')}) "
        f"SELECT {qn('id')}, {qn('visit_id')} FROM {qn(Case._meta.db_table)} WHERE {qn('visit_id')} IS NOT NULL"
    )


def copy_links_back(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    VisitCase = apps.get_model("reps", "VisitCase")
    for case_id, visit_id in VisitCase.objects.values_list("case_id", "visit_id").iterator():
        Case.objects.filter(pk=case_id).update(visit_id=visit_id)


class Migration(migrations.Migration):

    dependencies = [
        ("reps", "0001_initial"),
        ("grids", "0004_cadre_calendar_token"),
        ("cases", "0010_desk_queue_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    run_before = [
        ("cases", "0011_remove_case_visit"),
        ("grids", "0006_visit_moved_to_reps"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Visit",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("iso_week", models.CharField(max_length=8, verbose_name="周次")),
                        ("planned_date", models.DateField(blank=True, null=True, verbose_name="计划日期")),
                        ("status", models.CharField(choices=[("planned", "计划"), ("done", "已走访"), ("missed", "未走访"), ("cancelled", "取消"), ("skipped_holiday", "节假日顺延无工作日")], default="planned", max_length=16, verbose_name="状态")),
                        ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="开始时间")),
                        ("ended_at", models.DateTimeField(blank=True, null=True, verbose_name="结束时间")),
                        ("households_visited", models.PositiveIntegerField(default=0, verbose_name="走访户数")),
                        ("people_received", models.PositiveIntegerField(default=0, verbose_name="接待人数")),
                        ("notes", models.TextField(blank=True, verbose_name="记录")),
                        ("reminded_at", models.DateTimeField(blank=True, null=True, verbose_name="已提醒")),
                        ("assignment", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="visits", to="grids.villageassignment", verbose_name="包村")),
                        ("cadre", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="visits", to="grids.cadre", verbose_name="包村干部")),
                        ("recorded_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="记录人")),
                        ("village", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="visits", to="grids.village", verbose_name="村/社区")),
                    ],
                    options={
                        "verbose_name": "走访接待日",
                        "verbose_name_plural": "走访接待日",
                        "ordering": ["planned_date", "village__code"],
                        "db_table": "grids_visit",
                        "indexes": [models.Index(fields=["status", "planned_date"], name="visit_status_date"), models.Index(fields=["iso_week"], name="visit_week")],
                        "constraints": [models.UniqueConstraint(fields=("cadre", "village", "iso_week"), name="visit_once_per_week")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="VisitCase",
            fields=[
                ("case", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="visit_link", serialize=False, to="cases.case", verbose_name="诉求")),
                ("visit", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="case_links", to="reps.visit", verbose_name="走访接待日")),
            ],
            options={
                "verbose_name": "走访诉求",
                "verbose_name_plural": "走访诉求",
            },
        ),
        migrations.RunPython(copy_links, copy_links_back),
    ]
