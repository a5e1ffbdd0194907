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
