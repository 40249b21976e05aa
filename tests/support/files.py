"""Small files of each kind an attachment may be, and disguised ones that may not."""

from __future__ import annotations

import io
import zipfile

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504


def ooxml(part: str) -> bytes:
    """A minimal Office Open XML package holding ``part`` (word/document.xml, xl/workbook.xml)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr(part, "<x/>")
    return out.getvalue()


DOCX = ooxml("word/document.xml")
XLSX = ooxml("xl/workbook.xml")
# An HTML page named as a PDF, and a plain zip named as a Word file.
FAKE_PDF = b"<html><script>alert(1)</script></html>"
ZIP_AS_DOCX = ooxml("notes.txt")
