"""Idempotency keys for POSTs (issue 16 §7): a repeated request answers what the first one got.

A client names a POST with a key: the ``Idempotency-Key`` header (the API; any string of 1–100 visible
ASCII characters, e.g. a UUID) or the hidden form field :data:`FORM_FIELD` that the pages put in every
form (``{% idempotency_field %}``). :class:`IdempotencyMiddleware` keeps, per user and key, the first
request's fingerprint (method, path, body) and — once it succeeded (status < 400) — its answer (status,
body, content type, redirect target). Then:

- the same key with the same request answers the stored answer again (header ``Idempotent-Replayed: true``)
  without running the view: resending "log a case" makes no second case;
- the same key with a different request answers 422 ``idempotency_key_reused``;
- while the first request is still being served, a repeat answers 409 ``idempotency_in_progress``;
- an answer of 400 or more is not kept (the key is released), so a corrected request may use it again.

Keys are scoped per user and expire after ``IDEMPOTENCY_KEY_TTL_HOURS`` (24); the daily task
``cases.purge_idempotency_keys`` deletes expired rows. A POST without a key behaves as before.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.translation import gettext as _

HEADER = "Idempotency-Key"
#: The hidden form field of the pages' forms.
FORM_FIELD = "idempotency_key"
#: A claimed key whose request has not finished after this long is taken to have died with its process.
STALE_AFTER = dt.timedelta(minutes=5)
#: Answers larger than this are not kept (the key is released).
MAX_STORED_BYTES = 1024 * 1024
_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")
_IGNORED_FORM_FIELDS = {"csrfmiddlewaretoken", FORM_FIELD}


def ttl() -> dt.timedelta:
    """How long a key and its answer are kept: ``IDEMPOTENCY_KEY_TTL_HOURS`` (default 24) hours."""
    return dt.timedelta(hours=int(getattr(settings, "IDEMPOTENCY_KEY_TTL_HOURS", 24)))


def fingerprint(request) -> str:
    """SHA-256 (hex) of the request's method, path, query and content: the raw body, or — for form and
    multipart posts — the form fields (without the CSRF token and the key) and each file's name and size."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n".encode())
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        fields = sorted((k, v) for k in request.POST if k not in _IGNORED_FORM_FIELDS for v in request.POST.getlist(k))
        files = sorted((k, f.name, f.size) for k in request.FILES for f in request.FILES.getlist(k))
        digest.update(json.dumps([fields, files], ensure_ascii=False).encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _key_of(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None and request.META.get("CONTENT_TYPE", "").startswith(
            ("multipart/form-data", "application/x-www-form-urlencoded")):
        key = request.POST.get(FORM_FIELD) or None
    return key


def _user_of(request):
    """The user the request acts for: the session's, else the API token's (None when neither)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    if not request.headers.get("Authorization"):
        return None
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.exceptions import AuthenticationFailed

    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def _refusal(request, status: int, code: str, detail: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": code, "detail": detail}, status=status)
    return HttpResponse(f"<!doctype html><meta charset=utf-8><title>{status}</title><p>{detail}</p>"
                        f'<p><a href="javascript:history.back()">{_("返回")}</a></p>', status=status)


def _replay(row) -> HttpResponse:
    response = HttpResponse(bytes(row.body), status=row.status_code, content_type=row.content_type or None)
    if row.location:
        response["Location"] = row.location
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    """Serve repeats of keyed POSTs from the stored first answer (see the module docstring). Install after
    the authentication and CSRF middleware; a session-authenticated repeat passes the CSRF check first."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._csrf = CsrfViewMiddleware(get_response)

    def __call__(self, request):
        if request.method != "POST":
            return self.get_response(request)
        key = _key_of(request)
        if key is None:
            return self.get_response(request)
        if not _KEY.match(key):
            return _refusal(request, 400, "idempotency_key_invalid", _("幂等键须为1–100个可见ASCII字符。"))
        user = _user_of(request)
        if user is None:
            return self.get_response(request)
        return self._serve(request, user, key)

    def _serve(self, request, user, key):
        from .models import IdempotencyKey

        now = timezone.now()
        print_ = fingerprint(request)
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(user=user, key=key, fingerprint=print_,
                                                        path=request.path[:300], created_at=now,
                                                        expires_at=now + ttl())
                break
            except IntegrityError:
                existing = IdempotencyKey.objects.filter(user=user, key=key).first()
                if existing is None:
                    continue  # released meanwhile: claim it again
                stale = existing.status_code is None and existing.created_at < now - STALE_AFTER
                if existing.expires_at <= now or stale:
                    IdempotencyKey.objects.filter(pk=existing.pk).delete()
                    continue
                if existing.fingerprint != print_:
                    return _refusal(request, 422, "idempotency_key_reused",
                                    _("该幂等键已用于另一个请求，请换一个新的。"))
                if existing.status_code is None:
                    return _refusal(request, 409, "idempotency_in_progress", _("相同的请求正在处理，请稍候。"))
                if not request.headers.get("Authorization"):
                    refused = self._csrf.process_view(request, None, (), {})
                    if refused is not None:
                        return refused
                return _replay(existing)
        else:
            return _refusal(request, 409, "idempotency_in_progress", _("相同的请求正在处理，请稍候。"))
        response = self.get_response(request)
        body = b"" if response.streaming else response.content
        if response.status_code >= 400 or response.streaming or len(body) > MAX_STORED_BYTES:
            IdempotencyKey.objects.filter(pk=row.pk).delete()
            return response
        IdempotencyKey.objects.filter(pk=row.pk).update(
            status_code=response.status_code, content_type=response.get("Content-Type", "")[:100],
            location=response.get("Location", "")[:500], body=body)
        return response


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete keys whose ``expires_at`` has passed at ``now`` (aware; default the current time). Returns
    how many were deleted."""
    from .models import IdempotencyKey

    return IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()[0]
