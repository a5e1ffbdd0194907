"""Logging filters used by ``settings.LOGGING``."""
import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """On ``django.request``: a 4xx answer (PermissionDenied → 403, Http404 → 404, …) is logged as its one
    line ("Forbidden (Permission denied): /intake/"), without the traceback Django attaches; a 5xx keeps it.

    The request's status is the record's ``status_code`` (set by ``django.utils.log.log_response``); a
    record without one is left as it is. Never drops a record (returns True).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


class MaskPersonalData(logging.Filter):
    """Masks phone numbers, ID-card numbers and labelled names in every record's message and string
    arguments with the importer's rule (``cases.importing.mask_personal_data``, DESIGN §10) — the last guard:
    code never logs complaint text or names on purpose. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from cases.importing import mask_personal_data

            message = record.getMessage()
        except Exception:  # noqa: BLE001 - apps not loaded yet, or a malformed record: left as it is
            return True
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
