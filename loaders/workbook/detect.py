"""What a file is, from its first bytes: so a user hears "this is a PDF", not "damaged"."""

from __future__ import annotations

import codecs
from pathlib import Path

from loaders.workbook.raw import (
    ACCEPTED_EN,
    ACCEPTED_NB,
    WorkbookError,
)

# --- type detection -----------------------------------------------------------

CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
BINARY_EXTENSIONS = {".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".xlsb", ".ods", ".ots"}

_SIGNATURES: list[tuple[bytes, str, str]] = [
    (b"%PDF", "en PDF", "a PDF"),
    (b"\x89PNG", "et PNG-bilde", "a PNG image"),
    (b"\xff\xd8\xff", "et JPEG-bilde", "a JPEG image"),
    (b"GIF8", "et GIF-bilde", "a GIF image"),
    (b"\x1f\x8b", "en gzip-fil", "a gzip file"),
    (b"Rar!", "et RAR-arkiv", "a RAR archive"),
    (b"7z\xbc\xaf", "et 7-Zip-arkiv", "a 7-Zip archive"),
    (b"{\\rtf", "et RTF-dokument", "an RTF document"),
]


def known_kind(head: bytes) -> tuple[str, str] | None:
    """Name what a non-spreadsheet file is, so the user knows what they uploaded."""
    for signature, nb, en in _SIGNATURES:
        if head.startswith(signature):
            return nb, en
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "en HTML-side", "an HTML page"
    if text.startswith(b"<?xml"):
        if b"excel.sheet" in text or b"urn:schemas-microsoft-com:office:spreadsheet" in text:
            return "et Excel 2003 XML-regneark", "an Excel 2003 XML spreadsheet"
        return "et XML-dokument", "an XML document"
    return None


def looks_like_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\r\n\f")
    return controls <= len(head) // 100


def refuse_cfb(path: Path) -> None:
    """An OLE compound file is legacy .xls, or an encrypted xlsx: both are refused.

    Office encrypts an xlsx by wrapping it in a compound file with an
    ``EncryptedPackage`` stream, so the directory names tell the two apart.
    """
    data = path.read_bytes()  # no larger than max_file_bytes, checked before
    if any(name.encode("utf-16-le") in data for name in ("EncryptedPackage", "EncryptionInfo")):
        raise WorkbookError(
            path,
            "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
            "the file is encrypted or password-protected; save it without a password and try again",
        )
    raise WorkbookError(
        path,
        "filen er i det gamle Excel-formatet (.xls), som ikke støttes; lagre den som "
        f".xlsx og prøv igjen ({ACCEPTED_NB})",
        "the file is in the old Excel format (.xls), which is not supported; save it as "
        f".xlsx and try again ({ACCEPTED_EN})",
    )
