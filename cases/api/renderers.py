"""CSV and XLSX renderers for exports (DESIGN §9), chosen with ``?format=csv`` / ``?format=xlsx`` (DRF's
``URL_FORMAT_OVERRIDE``) or the ``Accept`` header.

A view using them names its columns in ``export_columns`` (keys of each row) and gives its rows either as
the response data (a list) or under ``"results"``. ``None`` becomes an empty cell. Text that a spreadsheet
would take for a formula (starting with ``= + - @``, tab or carriage return) is prefixed with ``'``.
"""
import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from rest_framework import renderers

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _table(data, renderer_context) -> tuple[list[str], list[list]]:
    view = (renderer_context or {}).get("view")
    rows = data.get("results", []) if isinstance(data, dict) else (data or [])
    columns = list(getattr(view, "export_columns", None) or (rows[0].keys() if rows else []))
    return columns, [[_cell(row.get(c)) for c in columns] for row in rows]


class CSVRenderer(renderers.BaseRenderer):
    """UTF-8 CSV with a byte-order mark (so that Excel reads Chinese correctly) and a header row."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns, rows = _table(data, renderer_context)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
        return ("\ufeff" + out.getvalue()).encode("utf-8")


class XLSXRenderer(renderers.BaseRenderer):
    """One worksheet with a header row (openpyxl)."""

    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        columns, rows = _table(data, renderer_context)
        book = Workbook(write_only=True)
        sheet = book.create_sheet("data")
        sheet.append(columns)
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
