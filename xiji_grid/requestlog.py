"""One JSON log line per request and per Celery task, with a request id carried into the tasks a request
sends (issue 18.4). No personal data: the request line names the path without its query string (a search
may hold a phone number), the user by id, and every record passes ``xiji_grid.logfilters.MaskPersonalData``.

- :class:`RequestLogMiddleware`: the request id is the client's ``X-Request-ID`` when it is 1–64 characters
  of ``[A-Za-z0-9._-]``, else a new one; it is answered in ``X-Request-ID`` and logged on every record of the
  request (``request_id``) by :class:`RequestIdFilter`. One line ``request`` on logger ``xiji.request``:
  method, path, status, duration_ms, user_id.
- Celery: ``before_task_publish`` puts the current request id into the message headers
  (``xiji_request_id``); the worker takes it up for the task's records and logs one line ``task`` on
  ``xiji.task``: task name, task id, state, duration_ms.
"""
import contextvars
import logging
import re
import time
import uuid

from celery import signals

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("xiji_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
request_logger = logging.getLogger("xiji.request")
task_logger = logging.getLogger("xiji.task")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (or None) to every record. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RequestLogMiddleware:
    """See the module docstring. Outermost middleware, so that its line also covers the others."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _VALID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        request.request_id = rid
        started = time.monotonic()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = rid
            return response
        finally:
            user = getattr(request, "user", None)
            request_logger.info("request", extra={
                "method": request.method, "path": request.path, "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            })
            request_id_var.reset(token)


@signals.before_task_publish.connect(dispatch_uid="xiji.requestlog.publish")
def _carry_request_id(headers=None, **kwargs):
    rid = request_id_var.get()
    if rid and headers is not None:
        headers["xiji_request_id"] = rid


_task_started: dict[str, tuple[float, contextvars.Token]] = {}


@signals.task_prerun.connect(dispatch_uid="xiji.requestlog.prerun")
def _task_prerun(task_id=None, task=None, **kwargs):
    rid = getattr(task.request, "xiji_request_id", None) or (task.request.headers or {}).get("xiji_request_id") \
        if task is not None and task.request is not None else None
    _task_started[task_id] = (time.monotonic(), request_id_var.set(rid or f"task-{task_id}"))


@signals.task_postrun.connect(dispatch_uid="xiji.requestlog.postrun")
def _task_postrun(task_id=None, task=None, state=None, **kwargs):
    started, token = _task_started.pop(task_id, (None, None))
    task_logger.info("task", extra={
        "task": getattr(task, "name", None), "task_id": task_id, "state": state,
        "duration_ms": round((time.monotonic() - started) * 1000, 1) if started else None,
    })
    if token is not None:
        request_id_var.reset(token)
