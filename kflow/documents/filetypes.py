"""Which files may be attached: PDF, Word and Excel, known by their extension AND their first
bytes (a renamed file is refused), and served with the content type that goes with them."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile

from kflow.errors import ValidationError

PDF = "application/pdf"
DOC = "application/msword"
XLS = "application/vnd.ms-excel"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {".pdf": PDF, ".doc": DOC, ".xls": XLS, ".docx": DOCX, ".xlsx": XLSX}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of Word 97 and Excel 97
ZIP = b"PK\x03\x04"
# Inside an Office Open XML package: the part that makes it a document or a workbook.
OOXML_PART = {".docx": "word/document.xml", ".xlsx": "xl/workbook.xml"}
MAX_NAME = 200
ALLOWED_TEXT = "PDF, Word (.doc, .docx) eller Excel (.xls, .xlsx)"


def clean_name(name: str) -> str:
    """The file's own name, without folders or control characters, at most MAX_NAME long."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        raise ValidationError("Filen saknar namn.")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[: MAX_NAME - len(ext) - 1] + dot + ext
    return name


def extension(name: str) -> str:
    match = re.search(r"\.[A-Za-z]+$", name)
    return match.group(0).lower() if match else ""


def content_type(name: str, data: bytes) -> str:
    """The content type of an allowed file; ValidationError if its extension or its bytes are
    not those of PDF, Word or Excel, or do not agree with each other."""
    ext = extension(name)
    if ext not in CONTENT_TYPES:
        raise ValidationError(f"Filtypen går inte att bifoga. Bifoga {ALLOWED_TEXT}.")
    if not _looks_like(ext, data):
        raise ValidationError(
            f"Filen {name} är inte en riktig {ext[1:].upper()}-fil (innehållet stämmer inte med "
            f"filändelsen). Bifoga {ALLOWED_TEXT}."
        )
    return CONTENT_TYPES[ext]


def _looks_like(ext: str, data: bytes) -> bool:
    if ext == ".pdf":
        return data.startswith(b"%PDF-")
    if ext in (".doc", ".xls"):
        return data.startswith(OLE2)
    if not data.startswith(ZIP):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and OOXML_PART[ext] in names
