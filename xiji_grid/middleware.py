"""Language choice: Chinese unless the user picked another language with the switch (DESIGN §9)."""
from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChosenLanguageMiddleware(LocaleMiddleware):
    """Like Django's LocaleMiddleware, but the browser's Accept-Language header is ignored.

    The page language is the one stored by the language switch (``set_language`` sets the
    ``settings.LANGUAGE_COOKIE_NAME`` cookie) when it is one of ``settings.LANGUAGES``, else
    ``settings.LANGUAGE_CODE`` (zh-hans): a command centre's screens read the same on every browser.
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class EngineWatchMiddleware:
    """After a request, look at the deadline engine's heartbeat — at most once per
    ``ENGINE_WATCH_INTERVAL_SECONDS`` across every process sharing the cache — and alert dispatchers and
    admins when no sweep has run or due cases wait (``cases.heartbeat.check_engine``).

    This is the watcher that is not beat: when beat or every worker stops, the next page or API request
    raises the alarm. A failure of the check is logged and never reaches the response.
    """

    cache_key = "engine-watch"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith(("/healthz", "/static/")):
            self.maybe_check()
        return response

    def maybe_check(self) -> None:
        """Run ``check_engine()`` when this process wins the interval's cache slot (an interval of 0
        turns the watch off: the test settings do, so that query counts of other tests stay fixed)."""
        import logging

        from django.core.cache import cache

        if settings.ENGINE_WATCH_INTERVAL_SECONDS <= 0:
            return
        try:
            if not cache.add(self.cache_key, 1, settings.ENGINE_WATCH_INTERVAL_SECONDS):
                return
            from cases.heartbeat import check_engine

            check_engine()
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).warning("deadline engine check failed", exc_info=True)


class ReplicaReadsMiddleware:
    """Serve the statistics pages and endpoints from the read replica (``grids.replica``): GET and HEAD
    requests whose URL name is in ``settings.REPLICA_READ_URL_NAMES`` run inside
    :func:`grids.replica.statistics_reads`. Without a replica configured this does nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.urls import Resolver404, resolve

        from grids.replica import replica_configured, statistics_reads

        if request.method in ("GET", "HEAD") and replica_configured():
            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            if name in settings.REPLICA_READ_URL_NAMES:
                with statistics_reads():
                    return self.get_response(request)
        return self.get_response(request)


class RejectNulMiddleware:
    """Answer 400 when the path, a query parameter or a form field holds a NUL character (``%00``), before
    any view runs: PostgreSQL cannot store or compare text with NUL, and ``?q=a%00`` answered 500 (issue 18.2).

    API paths (``/api/``) get ``{"code": "nul_character", "detail": …}``; pages a short Chinese text.
    JSON bodies are checked by the API's parser (``grids.api.parsers.StrictJSONParser``).
    """

    message = "请求中含有不允许的空字符（%00），请删除后重试。"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._has_nul(request):
            from django.http import HttpResponseBadRequest, JsonResponse

            if request.path.startswith("/api/"):
                return JsonResponse({"code": "nul_character", "detail": self.message}, status=400)
            return HttpResponseBadRequest(self.message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any("\x00" in k or any("\x00" in v for v in vs) for k, vs in request.GET.lists()):
            return True
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            return any("\x00" in k or any("\x00" in v for v in vs) for k, vs in request.POST.lists())
        return False
