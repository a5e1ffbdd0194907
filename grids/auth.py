"""Password logins through one throttle and one audit, whatever the way in (issue 16.1).

- :class:`ThrottledModelBackend` (``AUTHENTICATION_BACKENDS``) wraps Django's ModelBackend: every
  ``authenticate()`` with a username — the web login form, the admin's login, the API token endpoint —
  first reserves an attempt (``grids.throttle.reserve``); a refused attempt is not checked at all
  (``PermissionDenied`` stops ``authenticate()``), and a successful one gives its slot back. The lockout is
  put on the request (``request.login_lockout`` = seconds to wait) for the caller to say so.
- :class:`LoginForm` / :class:`AdminLoginForm` show the Chinese lockout message instead of "wrong password".
- Every failed login (Django's ``user_login_failed``) is written as a :class:`~grids.models.LoginFailure`:
  username as typed, the user when it exists, client address, time, way in; never the password.
"""
import ipaddress
import logging

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.utils import timezone

from . import throttle

logger = logging.getLogger(__name__)


class LoginLocked(PermissionDenied):
    """Raised inside ``authenticate()`` for an attempt the throttle refused."""


class ThrottledModelBackend(ModelBackend):
    """ModelBackend behind the shared failed-login throttle (see the module docstring)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        attempt = throttle.reserve(request, str(username))
        if not attempt.allowed:
            request.login_lockout = attempt.wait_seconds
            raise LoginLocked(throttle.lockout_message(attempt.wait_seconds))
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            throttle.give_back(attempt)
        return user


def _raise_if_locked(form) -> None:
    wait = getattr(form.request, "login_lockout", None)
    if wait is not None:
        raise ValidationError(throttle.lockout_message(wait), code="locked")


class LoginForm(AuthenticationForm):
    """The web login form: as Django's, with the lockout message when the throttle refused the attempt."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            _raise_if_locked(self)
            raise


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, with the same lockout message."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            _raise_if_locked(self)
            raise


def _way_in(request) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return "web"


@receiver(user_login_failed, dispatch_uid="grids.auth.audit_failed_login")
def audit_failed_login(sender, credentials, request=None, **kwargs):
    """Write one LoginFailure for a failed login (``credentials`` arrive with the password masked by
    Django; only the username is read). Never raises: an audit failure is logged, the login answer stands."""
    from .models import LoginFailure

    username = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")[:150]
    if not username or request is None:
        return
    try:
        user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        address = throttle.client_address(request) or None
        try:
            ipaddress.ip_address(address or "")
        except ValueError:
            address = None
        LoginFailure.objects.create(at=timezone.now(), username=username, user=user, address=address,
                                    way=_way_in(request), locked=getattr(request, "login_lockout", None) is not None)
    except Exception:  # noqa: BLE001
        logger.warning("failed login not audited", exc_info=True)
