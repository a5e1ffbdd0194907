"""Token login for API clients (issue 5 §1), with failed logins throttled per client address and username.

``POST /api/v1/auth/token/`` with ``{"username", "password"}`` answers ``{"token"}``; clients then send
``Authorization: Token <token>``. After ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_failures"]``
failed attempts (default 5 a minute) for one address and username, further attempts answer 429 until the
window has passed, whether or not the password is right. Successful logins are not counted.
"""
import hashlib

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, parsers, renderers, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from .base import error_responses


class FailedLoginThrottle(SimpleRateThrottle):
    """Counts failed logins per client address (``REMOTE_ADDR``, or ``X-Forwarded-For`` per
    ``NUM_PROXIES``) and username; :meth:`allow_request` only reads, :meth:`record_failure` counts."""

    scope = "login_failures"

    def __init__(self):
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES  # read now: tests may change the setting
        super().__init__()

    def get_cache_key(self, request, view):
        data = request.data if hasattr(request.data, "get") else {}
        username = str(data.get("username", "")).strip().lower()
        digest = hashlib.sha256(f"{self.get_ident(request)}\n{username}".encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}

    def throttle_success(self):
        return True  # a request that is let through is not a failure (yet)

    def record_failure(self, request, view) -> None:
        """Count one failed login of ``request``'s address and username, now."""
        if self.rate is None:
            return
        key = self.get_cache_key(request, view)
        now = self.timer()
        history = [t for t in self.cache.get(key, []) if t > now - self.duration]
        history.insert(0, now)
        self.cache.set(key, history, self.duration)


class ObtainTokenView(APIView):
    """Exchange a username and password for the user's API token."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = (parsers.JSONParser, parsers.FormParser, parsers.MultiPartParser)
    renderer_classes = (renderers.JSONRenderer,)
    serializer_class = AuthTokenSerializer

    @extend_schema(
        tags=["auth"], summary="Log in: get an API token", auth=[],
        request=AuthTokenSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
                   **error_responses(400, 429)},
    )
    def post(self, request, *args, **kwargs):
        throttle = FailedLoginThrottle()
        if not throttle.allow_request(request, self):
            raise exceptions.Throttled(wait=throttle.wait())
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if "non_field_errors" in serializer.errors:  # both given, but they do not match an active user
                throttle.record_failure(request, self)
            raise exceptions.ValidationError(serializer.errors)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
