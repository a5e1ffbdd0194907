"""``/`` and the start page of a login without a role (issue 6 §2)."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from grids.scope import request_scope

from ..pages import page, start_url_name


def home(request):
    """``/``: the start page of the user's roles (:func:`cases.pages.start_url_name`); the login page when
    not logged in."""
    if not request.user.is_authenticated:
        return redirect("web:login")
    return redirect(start_url_name(request_scope(request)))


@login_required
def no_role(request):
    """The start page of a login without any role: says so."""
    return page(request, "cases/no_role.html")


def not_found(request, exception=None):
    """The 404 page (``handler404``) with the menu and the unread badge for a logged-in user (issue 16 §8);
    plain for anyone else. Objects outside a user's scope answer 404 too, so it says neither which nor why."""
    from django.shortcuts import render

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        try:
            return page(request, "404.html", status=404)
        except Exception:  # noqa: BLE001 - an error page must never fail: fall back to the plain one
            pass
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    """The 403 page (``handler403``, a PermissionDenied) with the menu and the unread badge for a logged-in
    user, so a refused user can go on from there; plain for anyone else. The menu is the user's own
    (:func:`cases.pages.nav_for` of their scope), and ``exception`` is the refusal our own code wrote (which
    roles may act), so the page shows nothing beyond what the user may see anyway."""
    from django.views.defaults import permission_denied as plain_permission_denied

    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        try:
            return page(request, "403.html", {"exception": str(exception or "")}, status=403)
        except Exception:  # noqa: BLE001 - an error page must never fail: fall back to the plain one
            pass
    return plain_permission_denied(request, exception)
