"""The Celery app: settings from Django's ``CELERY_*`` names, JSON only, tasks found in every app.

Beat uses django-celery-beat's database scheduler, so schedules are editable in the admin; the entries
of ``CELERY_BEAT_SCHEDULE`` are written into it when beat starts.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.dev")

app = Celery("xiji_grid")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_configure.connect
def _make_broker_folders(sender, **kwargs):
    """Create the filesystem broker's and result backend's folders (the embedded default) before use."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        os.makedirs(backend[len("file://"):], exist_ok=True)

app.autodiscover_tasks()
