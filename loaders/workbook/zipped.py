"""Zip containers (xlsx, xlsm, ods): bombs refused from the directory, parts read bounded."""

from __future__ import annotations

import struct
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


_ENCRYPTED = 0x1 | 0x40 | 0x2000
"""Flag bits of encryption: traditional or AES (bit 0), strong (6), a hidden directory (13)."""
_UTF8_NAME = 0x800
"""The flag bit saying a member's name is UTF-8; without it ``zipfile`` reads it as cp437."""
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
"""The only compression methods Excel, LibreOffice and every library writing workbooks use."""
_ZIP64_EXTRA = 0x0001
_UNICODE_PATH_EXTRA = 0x7075
"""Info-ZIP's Unicode Path field: python-calamine's zip crate takes a member's name from
it, ``zipfile`` (3.11) from the directory, so the two would name one member differently."""
_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_TAIL = _END.size + 0xFFFF + _END64.size + _LOCATOR64.size
"""The end of a zip that holds its end records: the largest comment and the zip64 records."""


def _ambiguous(path: Path, nb: str, en: str) -> WorkbookError:
    return WorkbookError(
        path,
        f"zip-arkivet kan leses på mer enn én måte ({nb}); et regneark har aldri det, "
        "og filen er avvist",
        f"the zip archive can be read in more than one way ({en}); a spreadsheet never "
        "has that, and the file is refused",
    )


def check_zip(path: Path, archive: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse zip bombs from the central directory alone, before anything is unpacked,
    and archives that would let the guard and the reader open different members.

    The declared sizes can be trusted as upper bounds: ``zipfile`` never returns
    more than a member's declared size and fails the CRC check on a lie, and
    python-calamine's zip crate stops with an error past it. Two members
    of one name (or of names equal as python-calamine compares them, ``member_key``)
    are refused: ``zipfile`` opens the last, calamine may open the first, so the
    guard would check one part and the reader read another. So are the other
    constructions on which ``zipfile`` and the zip crate were seen to read different
    members or bytes (``_check_member``, ``_check_end``).
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
    _check_end(path, archive)
    seen: set[str] = set()
    for member in members:
        _check_member(path, member)
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


def _check_member(path: Path, member: zipfile.ZipInfo) -> None:
    """Refuse a member that ``zipfile`` and python-calamine's zip crate would name,
    find or unpack differently, or that neither can unpack.

    Found by building such files (tests/loaders/test_workbook_zip.py): the zip crate
    names a member from a Unicode Path field and reads a name without the UTF-8 flag
    as UTF-8 (``zipfile``: cp437), and of two zip64 fields the two take different
    ones, so a member the guard scanned under one name or offset was read by calamine
    under another.
    """
    name = member.orig_filename
    if member.flag_bits & _ENCRYPTED:
        raise WorkbookError(
            path,
            "filen er kryptert eller passordbeskyttet; lagre den uten passord og prøv igjen",
            "the file is encrypted or password-protected; save it without a password and try again",
        )
    if member.compress_type not in _METHODS:
        raise WorkbookError(
            path,
            f"delen {name} er pakket med en metode (nr. {member.compress_type}) som regneark "
            "aldri bruker; lagre filen på nytt i Excel eller LibreOffice",
            f"the part {name} is compressed with a method (no. {member.compress_type}) "
            "spreadsheets never use; save the file again in Excel or LibreOffice",
        )
    if not member.flag_bits & _UTF8_NAME and not name.isascii():
        raise _ambiguous(
            path,
            f"navnet på delen {name} er verken ASCII eller merket som UTF-8",
            f"the name of the part {name} is neither ASCII nor marked as UTF-8",
        )
    fields: list[int] = []
    extra = member.extra
    while len(extra) >= 4:
        field, length = struct.unpack_from("<HH", extra)
        fields.append(field)
        extra = extra[4 + length :]
    if _UNICODE_PATH_EXTRA in fields or len(set(fields)) < len(fields):
        raise _ambiguous(
            path,
            f"delen {name} har et ekstra navn eller et felt to ganger i katalogen",
            f"the part {name} has a second name or a field twice in the directory",
        )


def _check_end(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse an archive whose end records could point a reader to another central
    directory than the one ``zipfile`` read.

    ``zipfile`` takes the last end record in the file and the zip64 record just
    before its locator, and reads the directory just before them, moving every
    offset by any difference from the stated one (data before the archive).
    python-calamine's zip crate follows the locator, prefers the plain record's
    values where they are not the zip64 markers, and reads the stated entry count.
    A workbook has one end record at the very end, a directory right before it
    where it says, and, if zip64, records that agree: anything else is refused.
    """
    start = archive.start_dir
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        offset = max(start, size - _TAIL)
        handle.seek(offset)
        tail = handle.read()
    end = tail.rfind(_END_SIGNATURE)
    if end < 0 or tail.count(_END_SIGNATURE) != 1:
        raise _ambiguous(path, "flere sluttposter", "more than one end record")
    _, disk, disk_start, entries_here, entries, directory_size, directory_at, comment = (
        _END.unpack_from(tail, end)
    )
    if end + _END.size + comment != len(tail):
        raise _ambiguous(path, "data etter sluttposten", "data after the end record")
    directory_end = end
    stated = (entries_here, entries, directory_size, directory_at)
    if end >= _LOCATOR64.size and tail.startswith(b"PK\x06\x07", end - _LOCATOR64.size):
        _, _, record_at, _ = _LOCATOR64.unpack_from(tail, end - _LOCATOR64.size)
        directory_end = end - _LOCATOR64.size - _END64.size
        if directory_end < 0 or offset + directory_end != record_at:
            raise _ambiguous(path, "zip64-posten", "the zip64 record")
        record = _END64.unpack_from(tail, directory_end)
        if record[0] != b"PK\x06\x06" or record[1] != _END64.size - 12:
            raise _ambiguous(path, "zip64-posten", "the zip64 record")
        zip64 = record[6:10]
        markers = (0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        if any(s not in (z, m) for s, z, m in zip(stated, zip64, markers, strict=True)):
            raise _ambiguous(
                path,
                "zip64-posten og sluttposten er uenige",
                "the zip64 record and the end record disagree",
            )
        entries_here, entries, directory_size, directory_at = zip64
    if (
        disk != 0
        or disk_start != 0
        or entries_here != entries
        or entries != len(archive.infolist())
        or directory_at != start
        or offset + directory_end != start + directory_size
    ):
        raise _ambiguous(
            path,
            "katalogen er ikke der sluttposten sier, eller har et annet antall deler",
            "the directory is not where the end record says, or has another number of parts",
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
