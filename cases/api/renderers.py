"""CSV and XLSX renderers for exports (DESIGN §9), chosen with ``?format=csv`` / ``?format=xlsx`` (DRF's
``URL_FORMAT_OVERRIDE``) or the ``Accept`` header.

A view using them names its columns in ``export_columns`` (keys of each row) and gives its rows either as
the response data (a list) or under ``"results"``. ``None`` becomes an empty cell. Text that a spreadsheet
would take for a formula (starting with ``= + - @``, tab or carriage return) is prefixed with ``'``
(``cases.exports``, the one export path of pages, API and commands).
"""
from rest_framework import renderers

from cases.exports import csv_bytes, xlsx_bytes


def _table(data, renderer_context) -> tuple[list[str], list[list]]:
    view = (renderer_context or {}).get("view")
    rows = data.get("results", []) if isinstance(data, dict) else (data or [])
    columns = list(getattr(view, "export_columns", None) or (rows[0].keys() if rows else []))
    return columns, [[row.get(c) for c in columns] for row in rows]


class CSVRenderer(renderers.BaseRenderer):
    """UTF-8 CSV with a byte-order mark (so that Excel reads Chinese correctly) and a header row
    (``cases.exports.csv_bytes``: formulas neutralised)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns, rows = _table(data, renderer_context)
        return csv_bytes(columns, rows)


class XLSXRenderer(renderers.BaseRenderer):
    """One worksheet with a header row (``cases.exports.xlsx_bytes``: text cells are strings, never formulas)."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns, rows = _table(data, renderer_context)
        return xlsx_bytes(columns, rows)
