"""The Celery app: settings from Django's ``CELERY_*`` names, JSON only, tasks found in every app.

Beat uses django-celery-beat's database scheduler, so schedules are editable in the admin; the entries
of ``CELERY_BEAT_SCHEDULE`` are written into it when beat starts.
"""
import os

from celery import Celery

from xiji_grid import kombu_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.dev")

kombu_guard.install()

app = Celery("xiji_grid")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_after_configure.connect
def _make_broker_folders(sender, source, **kwargs):
    """Create the filesystem broker's and result backend's folders (the embedded default) before use.

    Runs once the configuration has loaded and reads it from ``source`` (the loaded settings): reading
    ``sender.conf`` from ``on_configure`` — while the configuration is still loading — recursed until
    RecursionError in every process that sent a task without being a worker.
    """
    options = source.get("broker_transport_options") or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
    backend = source.get("result_backend") or ""
    if backend.startswith("file://"):
        os.makedirs(backend[len("file://"):], exist_ok=True)


app.autodiscover_tasks()

from xiji_grid import requestlog  # noqa: E402,F401 - request id into task headers, one log line per task
