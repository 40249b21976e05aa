"""The follow-up table as a file (lifecycle.md §6.5): CSV as Swedish Excel reads it, and Excel
(.xlsx, written by XlsxWriter). Pure: a header and rows in, bytes out.

Text from people (indicator and unit names) could start a formula in a spreadsheet (CSV or
formula injection). In CSV such a cell gets a leading apostrophe; in Excel every text is
written as a string with ``quote_prefix``, and XlsxWriter is told never to turn text into a
formula or a link. Numbers stay numbers: in CSV with a decimal comma, in Excel as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import xlsxwriter

# A text cell starting with one of these would run as a formula in a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SHEET_NAME = 31  # Excel's limit


def text_cell(value: Any) -> str:
    """A CSV cell: numbers with a decimal comma, text that cannot start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, int | float):
        return _number(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads å, ä and ö), semicolons, CRLF."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([text_cell(h) for h in header])
    for row in rows:
        writer.writerow([text_cell(value) for value in row])
    return out.getvalue().encode("utf-8")


def xlsx_bytes(sheet: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """One worksheet: a bold, frozen header with a filter, text as text, numbers as numbers."""
    buffer = io.BytesIO()
    options = {
        "constant_memory": True,  # rows are written in order; memory stays flat
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(buffer, options) as book:
        ws = book.add_worksheet(_sheet_name(sheet))
        bold = book.add_format({"bold": True})
        text = book.add_format({"quote_prefix": True})
        decimal = book.add_format({"num_format": "0.0##"})
        ws.freeze_panes(1, 0)
        widths = [max(len(h), 8) for h in header]
        for col, name in enumerate(header):
            ws.write_string(0, col, str(name), bold)
        last = 0
        for last, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, int | float) and not isinstance(value, bool):
                    ws.write_number(last, col, value, decimal)
                else:
                    shown = str(value)
                    ws.write_string(last, col, shown, text)
                    if col < len(widths):
                        widths[col] = max(widths[col], min(len(shown), 60))
        for col, width in enumerate(widths):
            ws.set_column(col, col, width + 2)
        if header:
            ws.autofilter(0, 0, last, len(header) - 1)
    return buffer.getvalue()


def _sheet_name(name: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in name).strip("' ")
    return (cleaned or "Blad1")[:MAX_SHEET_NAME]
