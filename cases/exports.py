"""The one way the product writes a table for a spreadsheet (issue 18.1): the API's ``?format=csv|xlsx``
renderers, the dashboard's downloads and the ``stats`` command all go through :func:`csv_bytes` /
:func:`xlsx_bytes`, so every export neutralises formulas the same way.

Formula injection (OWASP "CSV Injection"): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is written with a leading apostrophe (``'=HYPERLINK(…)``), so Excel, WPS and LibreOffice show
it as text instead of evaluating it. In XLSX every text cell is also stored with the string type
(``t="s"``/inline string), never as a formula; numbers stay numbers (a negative number is a number, not
text). ``None`` is an empty cell, booleans are ``true``/``false``.
"""
import csv
import datetime as dt
import io
from decimal import Decimal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """The value written for ``value``: numbers unchanged, text neutralised (see module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        value = value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def csv_bytes(headers, rows) -> bytes:
    """UTF-8 CSV with a byte-order mark (Excel reads Chinese then), a header row, then ``rows`` (iterables
    of values), every cell through :func:`cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(h) for h in headers])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(headers, rows, *, sheet_name: str = "data", number_formats: dict[int, str] | None = None) -> bytes:
    """One worksheet named ``sheet_name`` (openpyxl, write-only): a header row, then ``rows``; text cells
    neutralised and typed as strings, numbers numeric. ``number_formats`` maps a 0-based column index to an
    Excel number format for its numeric cells (``"0.0%"``)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31] or "data")
    number_formats = number_formats or {}

    def typed(value, column):
        value = cell(value)
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            written.data_type = "s"  # a string, whatever it looks like: never a formula
        elif column in number_formats:
            written.number_format = number_formats[column]
        return written

    sheet.append([typed(h, None) for h in headers])
    for row in rows:
        sheet.append([typed(v, i) for i, v in enumerate(row)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
