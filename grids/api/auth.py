"""Token login for API clients (issue 5 §1), behind the failed-login throttle every way in shares.

``POST /api/v1/auth/token/`` with ``{"username", "password"}`` answers ``{"token"}``; clients then send
``Authorization: Token <token>``. The password is checked by ``django.contrib.auth.authenticate``, whose
backend (``grids.auth.ThrottledModelBackend``) applies ``grids.throttle``: after ``LOGIN_FAILURES_RATE``
attempts (default 5 a minute) for one address and username, further attempts answer 429 with the lockout
message until the window has passed, whether or not the password is right. Successful logins do not count.
"""
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, parsers, renderers, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.response import Response
from rest_framework.views import APIView

from grids import throttle

from .base import error_responses
from .parsers import StrictJSONParser


class LoginLockedOut(exceptions.Throttled):
    """429 with the Chinese lockout message."""

    default_code = "throttled"

    def __init__(self, wait: int):
        super().__init__(detail=throttle.lockout_message(wait))  # the message names the wait itself
        self.wait = wait  # → Retry-After

    def __str__(self):
        return str(self.detail)


class ObtainTokenView(APIView):
    """Exchange a username and password for the user's API token."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = (StrictJSONParser, parsers.FormParser, parsers.MultiPartParser)
    renderer_classes = (renderers.JSONRenderer,)
    serializer_class = AuthTokenSerializer

    @extend_schema(
        tags=["auth"], summary="Log in: get an API token", auth=[],
        request=AuthTokenSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}),
                   **error_responses(400, 429)},
    )
    def post(self, request, *args, **kwargs):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            wait = getattr(request, "login_lockout", None)
            if wait is not None:
                raise LoginLockedOut(wait)
            raise exceptions.ValidationError(serializer.errors)
        token, _created = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

