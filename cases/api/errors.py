"""The API's error bodies (DESIGN §9), installed as REST_FRAMEWORK["EXCEPTION_HANDLER"].

- ``cases.services.TransitionNotAllowed`` and ``cases.text.topics.HotspotStateError`` → 409 ``{"code", "detail"}``;
- ``django.core.exceptions.ValidationError`` from a service → 400 ``{field: [messages]}``;
- every other error whose body is a lone ``detail`` (401, 403, 404, 405, 429 …) → ``{"code", "detail"}``
  with DRF's error code (``not_authenticated``, ``permission_denied``, ``not_found``, ``throttled`` …).
"""
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from cases.services import TransitionNotAllowed
from cases.text.topics import HotspotStateError


class Forbidden(exceptions.PermissionDenied):
    """403 with a specific ``code`` (default ``permission_denied``)."""


def exception_handler(exc, context):
    """Map ``exc`` to a Response as described in the module docstring; None (→ 500) for the unknown."""
    if isinstance(exc, TransitionNotAllowed | HotspotStateError):
        return Response({"code": exc.code, "detail": str(exc.detail)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and set(response.data) == {"detail"}:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        if not isinstance(code, str):
            code = {404: "not_found", 403: "permission_denied"}.get(response.status_code, "error")
        response.data = {"code": code, "detail": str(response.data["detail"])}
    return response
