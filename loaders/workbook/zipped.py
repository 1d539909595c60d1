"""Zip containers (xlsx, xlsm, ods): bombs refused from the directory, parts read bounded."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import fromstring as _safe_fromstring

from loaders.workbook.raw import (
    ACCEPTED_EN,
    ACCEPTED_NB,
    FileType,
    Limits,
    WorkbookError,
    local_name,
    nb_int,
)

# --- zip containers -----------------------------------------------------------

ODS_MIMETYPES = {
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.spreadsheet-template",
}
_XLSX_TYPES: dict[str, FileType] = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm",
}
_OTHER_OFFICE_TYPES = {
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": (
        "en binær Excel-arbeidsbok (.xlsb)",
        "a binary Excel workbook (.xlsb)",
    ),
    "wordprocessingml": ("et Word-dokument", "a Word document"),
    "ms-word": ("et Word-dokument", "a Word document"),
    "presentationml": ("en PowerPoint-presentasjon", "a PowerPoint presentation"),
    "ms-powerpoint": ("en PowerPoint-presentasjon", "a PowerPoint presentation"),
}
SMALL_PART = 4 * 1024 * 1024
"""Largest size accepted for the parts read whole: manifests, content types, workbook.xml."""


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def member_key(name: str) -> str:
    """A member's name as python-calamine finds a part: "\\" read as "/", ASCII case folded.

    calamine opens "xl/sharedStrings.xml" as the first member whose name equals it so
    (``path_to_zip_path`` in calamine's xlsx reader), where ``zipfile`` takes the exact name.
    """
    return name.replace("\\", "/").translate(_ASCII_LOWER)


def check_zip(path: Path, archive: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse zip bombs from the central directory alone, before anything is unpacked,
    and names that would let the guard and the reader open different members.

    The declared sizes can be trusted as upper bounds: ``zipfile`` never returns
    more than a member's declared size and fails the CRC check on a lie. Two members
    of one name (or of names equal as python-calamine compares them, ``member_key``)
    are refused: ``zipfile`` opens the last, calamine may open the first, so the
    guard would check one part and the reader read another.
    """
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise WorkbookError(
            path,
            f"filen har {nb_int(len(members))} deler, mer enn grensen på "
            f"{nb_int(limits.max_zip_members)} (mulig zip-bombe)",
            f"the file has {len(members):,} parts, more than the limit of "
            f"{limits.max_zip_members:,} (possible zip bomb)",
        )
    seen: set[str] = set()
    for member in members:
        key = member_key(member.filename)
        if key in seen:
            raise WorkbookError(
                path,
                f"filen har flere deler som heter {member.filename} (eller det samme med "
                "andre store og små bokstaver); et regneark har aldri det, og filen er avvist",
                f"the file has more than one part named {member.filename} (or the same in "
                "other letter case); a spreadsheet never has that, and the file is refused",
            )
        seen.add(key)
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise WorkbookError(
            path,
            f"filen pakkes ut til {nb_int(total)} byte, mer enn grensen på "
            f"{nb_int(limits.max_uncompressed_bytes)} byte (mulig zip-bombe)",
            f"the file unpacks to {total:,} bytes, more than the limit of "
            f"{limits.max_uncompressed_bytes:,} bytes (possible zip bomb)",
        )
    for member in members:
        if member.flag_bits & 0x1:
            raise WorkbookError(
                path,
                "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
                "the file is encrypted or password-protected; save it without a password "
                "and try again",
            )
        if member.file_size <= limits.ratio_floor_bytes:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise WorkbookError(
                path,
                f"delen {member.filename} er pakket {ratio:.0f}:1, mer enn grensen på "
                f"{limits.max_compression_ratio:.0f}:1 (mulig zip-bombe)",
                f"the part {member.filename} is compressed {ratio:.0f}:1, more than the "
                f"limit of {limits.max_compression_ratio:.0f}:1 (possible zip bomb)",
            )


def read_part(path: Path, archive: zipfile.ZipFile, name: str, limit: int = SMALL_PART) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise WorkbookError(
            path,
            f"delen {name} er uventet stor ({nb_int(info.file_size)} byte)",
            f"the part {name} is unexpectedly large ({info.file_size:,} bytes)",
        )
    with archive.open(info) as member:
        return member.read(limit + 1)


def parse_xml(path: Path, data: bytes, file_type: str) -> Element:
    try:
        root: Element = _safe_fromstring(data)
    except defusedxml.DefusedXmlException as error:
        raise xml_bomb(path) from error
    except ParseError as error:
        raise unreadable(path, file_type, f"XML: {error}") from error
    return root


def xml_bomb(path: Path) -> WorkbookError:
    return WorkbookError(
        path,
        "filen inneholder XML-entitetsdeklarasjoner eller eksterne referanser, som et "
        "regneark aldri har (mulig XML-bombe); filen er avvist",
        "the file contains XML entity declarations or external references, which a "
        "spreadsheet never has (possible XML bomb); the file is refused",
    )


def unreadable(path: Path, file_type: str, detail: str) -> WorkbookError:
    return WorkbookError(
        path,
        f"filen kan ikke leses som {file_type}: {detail}",
        f"the file cannot be read as {file_type}: {detail}",
    )


def office_main_part(path: Path, archive: zipfile.ZipFile) -> tuple[FileType, str]:
    """The file type and the workbook part, from ``[Content_Types].xml``."""
    root = parse_xml(path, read_part(path, archive, "[Content_Types].xml"), "xlsx")
    for element in root:
        content_type = element.get("ContentType", "")
        part = element.get("PartName", "")
        if local_name(element.tag) != "Override":
            continue
        if content_type in _XLSX_TYPES:
            return _XLSX_TYPES[content_type], part.lstrip("/")
        for marker, (nb, en) in _OTHER_OFFICE_TYPES.items():
            if marker in content_type and content_type.endswith(("main+xml", "main")):
                raise WorkbookError(
                    path,
                    f"filen er {nb}, ikke et regneark; {ACCEPTED_NB}",
                    f"the file is {en}, not a spreadsheet; {ACCEPTED_EN}",
                )
    raise WorkbookError(
        path,
        f"filen er en Office-pakke uten arbeidsbok; {ACCEPTED_NB}",
        f"the file is an Office package without a workbook; {ACCEPTED_EN}",
    )
