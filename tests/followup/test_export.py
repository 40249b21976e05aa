"""The follow-up exports (kflow.followup.export): CSV as Swedish Excel reads it, and a real
.xlsx (read back from its XML), both safe from formula injection."""

from __future__ import annotations

import io
import re
import zipfile

from kflow.followup.export import csv_bytes, text_cell, xlsx_bytes

HEADER = ["Indikator", "Enhet", "Värde"]
ROWS = [
    ['=HYPERLINK("http://x")', "Region Skåne", 73.13],
    ["+1", "@SUM(A1)", -2.5],
    ["-3", "Östra", None],
    ["Andel", "http://example.org", 7],
]


def test_csv_has_a_bom_semicolons_crlf_and_decimal_commas():
    data = csv_bytes(HEADER, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Indikator;Enhet;Värde"
    assert lines[2] == "'+1;'@SUM(A1);-2,5"  # a number may be negative; text may not start so
    assert lines[3] == "'-3;Östra;"
    assert lines[1].startswith("\"'=HYPERLINK(") and lines[1].endswith(";Region Skåne;73,13")


def test_text_cells_never_start_a_formula():
    for text in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert text_cell(text).startswith("'")
    assert text_cell(3) == "3" and text_cell(0.5) == "0,5" and text_cell(None) == ""


def _sheet(data: bytes) -> tuple[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        names = book.namelist()
        assert "xl/workbook.xml" in names
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        workbook = book.read("xl/workbook.xml").decode()
        styles = book.read("xl/styles.xml").decode()
    return sheet, workbook + styles


def test_xlsx_writes_text_as_text_and_numbers_as_numbers():
    sheet, rest = _sheet(xlsx_bytes("Uppföljning: 2026/T2", HEADER, ROWS))
    assert "<f>" not in sheet  # no formula anywhere
    assert "=HYPERLINK" in sheet and "@SUM(A1)" in sheet  # kept as inline text
    assert "<hyperlink" not in sheet  # no link made from the URL
    assert re.search(r'<c r="C2"[^>]*><v>73\.13</v></c>', sheet)
    assert re.search(r'<c r="C3"[^>]*><v>-2\.5</v></c>', sheet)
    assert 'r="C4"' not in sheet  # None: an empty cell
    assert "Region Skåne" in sheet and "Östra" in sheet
    assert 'quotePrefix="1"' in rest  # text stays text after editing in Excel
    assert 'name="Uppföljning  2026 T2"' in rest  # a valid sheet name
    assert "<autoFilter" in sheet and "<pane" in sheet  # a filter and a frozen header


def test_an_empty_table_is_still_a_workbook():
    sheet, _ = _sheet(xlsx_bytes("", HEADER, []))
    assert "Indikator" in sheet
