"""The cadre's secret calendar feed of visits (no login: the token in the link is the credential)."""
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from grids.models import Cadre

from ..visits import calendar_feed


@require_GET
def visit_calendar(request, token: str):
    """``GET /calendar/<token>.ics``: the visits of the cadre whose ``calendar_token`` is ``token``, as
    ``text/calendar`` (see :func:`reps.visits.calendar_feed`). The token is the credential (calendar apps
    cannot log in); an unknown or rotated token, or an inactive cadre, gives 404. Not cached by proxies."""
    cadre = Cadre.objects.filter(calendar_token=token, is_active=True).first() if token else None
    if cadre is None:
        raise Http404("unknown calendar link")
    response = HttpResponse(calendar_feed(cadre), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="visits.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
