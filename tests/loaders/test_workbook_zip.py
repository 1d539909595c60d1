"""The guard and python-calamine read the same zip directory (a check must see exactly
what the executor reads): archives that ``zipfile`` and calamine's zip crate were seen
to read differently are refused, and those they read alike are pinned.

Each file is laid out byte by byte (stored members) from the parts of the ``xlsx``
fixture, with a sheet 1 the guard reads and, where the construction has one, an
``EVIL`` sheet 1 calamine would read instead. Small files, no network, well under a second.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import python_calamine

from loaders.workbook import Limits, WorkbookError, read_workbook
from tests.loaders.test_workbook import (
    SHEET1,
    SST,
    folder,
    ods,
    replace_once,
    with_shared_strings,
    xlsx,
)

__all__ = ["folder", "ods", "xlsx"]  # fixtures, shared with test_workbook

EVIL = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>ondsinnet</t></is></c></row>'
    b"</sheetData></worksheet>"
)
"""The sheet a hostile file would have calamine read (its box could be a billion cells)."""
AMBIGUOUS = "the zip archive can be read in more than one way"
UTF8 = 0x800


def local(name: bytes, data: bytes, flags: int = 0, method: int = 0) -> bytes:
    return (
        struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0, zlib.crc32(data),
            len(data), len(data), len(name), 0,
        )
        + name
        + data
    )  # fmt: skip


def central(
    name: bytes, data: bytes, at: int, flags: int = 0, method: int = 0, extra: bytes = b""
) -> bytes:
    return (
        struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 0, zlib.crc32(data),
            len(data), len(data), len(name), len(extra), 0, 0, 0, 0, at,
        )
        + name
        + extra
    )  # fmt: skip


def end(entries: int, size: int, at: int, comment: bytes = b"") -> bytes:
    return struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, size, at, len(comment)
    ) + (comment)


def zip64_end(entries: int, size: int, at: int, record_at: int) -> bytes:
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, at)
    return record + struct.pack("<4sLQL", b"PK\x06\x07", 0, record_at, 1)


def parts(xlsx: Path) -> list[tuple[bytes, bytes]]:
    with zipfile.ZipFile(xlsx) as archive:
        return [(info.filename.encode(), archive.read(info)) for info in archive.infolist()]


def locals_of(members: list[tuple[bytes, bytes]], out: bytearray) -> list[int]:
    """Append each member's local header and data to ``out``; their offsets."""
    offsets = []
    for name, data in members:
        offsets.append(len(out))
        out += local(name, data)
    return offsets


def directory(members: list[tuple[bytes, bytes]], offsets: list[int]) -> bytes:
    return b"".join(
        central(name, data, at) for (name, data), at in zip(members, offsets, strict=True)
    )


def laid_out(members: list[tuple[bytes, bytes]], comment: bytes = b"") -> bytes:
    out = bytearray()
    offsets = locals_of(members, out)
    listing = directory(members, offsets)
    return bytes(out + listing + end(len(members), len(listing), len(out), comment))


def with_sheet_flagged(
    members: list[tuple[bytes, bytes]], flags: int = 0, method: int = 0
) -> bytes:
    """The members laid out with sheet 1's flags and method set, in both its headers."""
    out = bytearray()
    listing = bytearray()
    for name, data in members:
        sheet = name == SHEET1.encode()
        listing += central(name, data, len(out), flags if sheet else 0, method if sheet else 0)
        out += local(name, data, flags if sheet else 0, method if sheet else 0)
    return bytes(out + listing + end(len(members), len(listing), len(out)))


def calamine_first_cell(path: Path) -> object:
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return workbook.get_sheet_by_index(0).to_python()[0][0]
    finally:
        workbook.close()


def refused(path: Path) -> WorkbookError:
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path)
    return caught.value


def test_regression_a_zip64_end_record_that_disagrees_with_the_plain_one_is_refused(
    xlsx: Path, folder: Path
) -> None:
    """``zipfile`` read the directory the zip64 record names, calamine the one the plain
    end record names: the guard scanned sheet 1, calamine read another."""
    members = parts(xlsx)
    out = bytearray()
    offsets = locals_of(members, out)
    evil_at = len(out)
    out += local(SHEET1.encode(), EVIL)
    evil = [(n, EVIL if n == SHEET1.encode() else d) for n, d in members]
    evil_offsets = [
        evil_at if name == SHEET1.encode() else at
        for (name, _), at in zip(members, offsets, strict=True)
    ]
    hidden = directory(evil, evil_offsets)
    hidden_at = len(out)
    out += hidden
    listing = directory(members, offsets)
    listing_at = len(out)
    out += listing
    out += zip64_end(len(members), len(listing), listing_at, len(out))
    out += end(len(members), len(hidden), hidden_at)
    path = folder / "zip64.xlsx"
    path.write_bytes(out)
    assert calamine_first_cell(path) == "ondsinnet"
    error = refused(path)
    assert error.message_en.startswith(AMBIGUOUS)
    assert "the zip64 record and the end record disagree" in error.message_en


def test_regression_a_unicode_path_field_is_refused(xlsx: Path, folder: Path) -> None:
    """calamine's zip crate names a member from its Unicode Path field (0x7075), ``zipfile``
    from the directory: a later "other.xml" named sheet1.xml so replaced sheet 1 for calamine."""
    other = b"xl/worksheets/other.xml"
    name = SHEET1.encode()
    field = struct.pack("<HHBL", 0x7075, 5 + len(name), 1, zlib.crc32(other)) + name
    members = parts(xlsx)
    out = bytearray()
    offsets = locals_of(members, out)
    evil_at = len(out)
    out += local(other, EVIL)
    listing = directory(members, offsets) + central(other, EVIL, evil_at, extra=field)
    out += listing + end(len(members) + 1, len(listing), len(out))
    path = folder / "unicode-path.xlsx"
    path.write_bytes(out)
    assert calamine_first_cell(path) == "ondsinnet"
    assert "other.xml has a second name or a field twice" in refused(path).message_en


def test_regression_a_name_neither_ascii_nor_marked_utf8_is_refused(
    xlsx: Path, folder: Path
) -> None:
    """Without the UTF-8 flag ``zipfile`` reads a name as cp437 ("├⌐"), the zip crate as
    UTF-8 ("é"): a later unflagged twin of the sheet's part replaced it for calamine alone."""
    sheet = "xl/worksheets/é.xml".encode()
    members = [(n, d) for n, d in parts(xlsx) if n != SHEET1.encode()]
    rels = b"xl/_rels/workbook.xml.rels"
    members = [
        (n, d.replace(b"/xl/worksheets/sheet1.xml", b"/" + sheet) if n == rels else d)
        for n, d in members
    ]
    with zipfile.ZipFile(xlsx) as archive:
        good = archive.read(SHEET1)
    out = bytearray()
    offsets = locals_of(members, out)
    good_at = len(out)
    out += local(sheet, good, UTF8)
    evil_at = len(out)
    out += local(sheet, EVIL)
    listing = directory(members, offsets)
    listing += central(sheet, good, good_at, UTF8) + central(sheet, EVIL, evil_at)
    out += listing + end(len(members) + 2, len(listing), len(out))
    path = folder / "cp437.xlsx"
    path.write_bytes(out)
    assert calamine_first_cell(path) == "ondsinnet"
    assert "neither ASCII nor marked as UTF-8" in refused(path).message_en


def test_regression_two_zip64_fields_in_one_entry_are_refused(xlsx: Path, folder: Path) -> None:
    """Of two zip64 fields giving a member's offset, ``zipfile`` and the zip crate take
    different ones: each read another sheet 1 (with a forged CRC, both without error)."""
    members = [(n, d) for n, d in parts(xlsx) if n != SHEET1.encode()]
    with zipfile.ZipFile(xlsx) as archive:
        good = archive.read(SHEET1)
    out = bytearray()
    offsets = locals_of(members, out)
    good_at = len(out)
    out += local(SHEET1.encode(), good)
    evil_at = len(out)
    out += local(SHEET1.encode(), EVIL)
    fields = struct.pack("<HHQ", 1, 8, evil_at) + struct.pack("<HHQ", 1, 8, good_at)
    listing = directory(members, offsets)
    listing += central(SHEET1.encode(), good, 0xFFFFFFFF, extra=fields)
    out += listing + end(len(members) + 1, len(listing), len(out))
    path = folder / "zip64-fields.xlsx"
    path.write_bytes(out)
    assert "sheet1.xml has a second name or a field twice" in refused(path).message_en


def _fake_end_in_comment(members: list[tuple[bytes, bytes]]) -> bytes:
    """A comment holding an end record of another directory: both readers take the last."""
    out = bytearray()
    offsets = locals_of(members, out)
    listing = directory(members, offsets)
    at = len(out)
    out += listing
    fake = end(len(members), len(listing), at)
    return bytes(out + end(len(members), len(listing), at, fake))


def _end_record_inside_the_directory(members: list[tuple[bytes, bytes]]) -> bytes:
    """The last entry's comment holds an end record whose own comment is the true last
    one: ``zipfile`` and the zip crate take the last, a reader taking the first valid
    one would take the other."""
    out = bytearray()
    offsets = locals_of(members, out)
    at = len(out)
    listing = bytearray(directory(members, offsets))
    struct.pack_into("<H", listing, len(listing) - len(members[-1][0]) - 14, 22)
    inner = end(len(members), len(listing), at)[:20] + struct.pack("<H", 22)
    return bytes(out + listing + inner + end(len(members), len(listing) + 22, at))


def _wrong_count(members: list[tuple[bytes, bytes]]) -> bytes:
    """``zipfile`` reads the directory to its size, the zip crate as many entries as stated."""
    data = bytearray(laid_out(members))
    struct.pack_into("<2H", data, len(data) - 14, len(members) - 1, len(members) - 1)
    return bytes(data)


@pytest.mark.parametrize(
    ("construction", "detail"),
    [
        (_fake_end_in_comment, "damaged zip archive and cannot be read (Bad magic number"),
        (lambda members: laid_out(members) + laid_out(members), "the directory is not where"),
        (_end_record_inside_the_directory, "more than one end record"),
        (_wrong_count, "has another number of parts"),
        (lambda members: laid_out(members, b"PK") + b"\0", "data after the end record"),
    ],
    ids=["fake-end-in-comment", "two-archives", "end-in-directory", "wrong-count", "data-after"],
)
def test_regression_end_records_a_reader_may_read_otherwise_are_refused(
    xlsx: Path, folder: Path, construction: object, detail: str
) -> None:
    """Before: refused in calamine's words, or read (two archives one after the other:
    both read the second, moving every offset). A fake end record in the comment is
    taken by both (the last one), and ``zipfile`` cannot open this one: pinned."""
    assert callable(construction)
    path = folder / "slutt.xlsx"
    path.write_bytes(construction(parts(xlsx)))
    assert detail in refused(path).message_en


@pytest.mark.parametrize("method", [12, 93])  # bzip2: zipfile reads it, calamine not; zstd
def test_regression_compression_methods_no_spreadsheet_uses_are_refused(
    xlsx: Path, folder: Path, method: int
) -> None:
    """Before: ``OSError`` or ``NotImplementedError`` out of ``zipfile``, not a user's error."""
    path = folder / "metode.xlsx"
    path.write_bytes(with_sheet_flagged(parts(xlsx), method=method))
    assert f"compressed with a method (no. {method})" in refused(path).message_en


@pytest.mark.parametrize("flag", [0x40, 0x2000])  # strong encryption; an encrypted directory
def test_regression_other_encryption_flags_are_refused_as_encrypted(
    xlsx: Path, folder: Path, flag: int
) -> None:
    """Before: ``NotImplementedError`` (strong), or read while calamine read the same."""
    path = folder / "kryptert.xlsx"
    path.write_bytes(with_sheet_flagged(parts(xlsx), flags=flag))
    assert refused(path).message_en.startswith("the file is encrypted or password-protected")


def test_regression_a_local_header_naming_another_part_is_a_workbook_error(
    xlsx: Path, folder: Path
) -> None:
    """Before: ``zipfile.BadZipFile`` out of ``read_workbook``. Both readers take the
    name, sizes and method from the directory (pinned below), so this is damage, not
    ambiguity."""
    members = parts(xlsx)
    out = bytearray()
    listing = bytearray()
    for name, data in members:
        listing += central(name, data, len(out))
        out += local(b"xl/worksheets/annet.xml" if name == SHEET1.encode() else name, data)
    path = folder / "lokalt-navn.xlsx"
    path.write_bytes(out + listing + end(len(members), len(listing), len(out)))
    assert refused(path).message_en.startswith("the file is a damaged zip archive")


def test_local_headers_other_fields_are_ignored_by_both_readers(xlsx: Path, folder: Path) -> None:
    """A local header's method, sizes and flags differing from the directory's change
    nothing for either reader: both go by the directory, and both skip the local
    header's own extra field (one the directory does not have)."""
    members = parts(xlsx)
    out = bytearray()
    listing = bytearray()
    for name, data in members:
        listing += central(name, data, len(out))
        header = bytearray(local(name, data))
        if name == SHEET1.encode():
            struct.pack_into("<2H", header, 6, 1, 8)  # encrypted, deflated
            struct.pack_into("<2L", header, 18, 0, 0)  # no sizes
            field = struct.pack("<HH4s", 0xCAFE, 4, b"<!--")
            struct.pack_into("<H", header, 28, len(field))
            header[30 + len(name) : 30 + len(name)] = field
        out += header
    path = folder / "lokalt.xlsx"
    path.write_bytes(out + listing + end(len(members), len(listing), len(out)))
    assert calamine_first_cell(path) == read_workbook(path).sheets[0].rows[0][0].value


def test_regression_shared_strings_are_counted_against_a_limit(xlsx: Path, folder: Path) -> None:
    """A million empty ``<si/>`` (5 MB) cost python-calamine 2-3 times that, and no limit
    counted them."""
    table = f"{SST}><si><t>Bærum</t></si>{'<si/>' * 300}</sst>"
    path = with_shared_strings(xlsx, folder / "mange-tekster.xlsx", table)
    assert read_workbook(path).sheets[0].rows[1][0].value == "Bærum"
    with pytest.raises(WorkbookError) as caught:
        read_workbook(path, Limits(max_shared_strings=300))
    assert caught.value.message_en == (
        "the part xl/sharedStrings.xml has more than 300 shared strings, the limit for a workbook"
    )


def test_regression_shared_strings_as_a_sheets_part_are_counted(xlsx: Path, folder: Path) -> None:
    """A sheet whose target is the shared strings part is scanned as a sheet: its
    strings count there too, since calamine reads the part as both."""
    table = f"{SST}><si><t>Bærum</t></si>{'<si/>' * 300}</sst>"
    path = with_shared_strings(xlsx, folder / "tekster-som-ark.xlsx", table)
    rels = "xl/_rels/workbook.xml.rels"
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    text = members[rels].decode()
    members[rels] = replace_once("/xl/worksheets/sheet1.xml", "/xl/sharedStrings.xml")(
        text
    ).encode()
    target = folder / "tekster-som-ark-2.xlsx"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(WorkbookError) as caught:
        read_workbook(target, Limits(max_shared_strings=300))
    assert "has more than 300 shared strings" in caught.value.message_en


def test_ods_content_of_two_names_alike_is_refused(ods: Path, folder: Path) -> None:
    """ODS is read by this project's own parser through the guard's ``zipfile`` (calamine
    never sees it), so both read one content.xml; a twin in other letter case is refused
    all the same, as for xlsx."""
    with zipfile.ZipFile(ods) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    path = folder / "to-innhold.ods"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
        archive.writestr("Content.xml", b"<x/>")
    assert refused(path).message_en.startswith("the file has more than one part named")


def test_a_member_longer_than_its_declared_size_is_refused(xlsx: Path, folder: Path) -> None:
    """``zipfile`` cuts a member at its declared size (the guard scanned 60 bytes of a
    shared strings part), calamine's zip crate stops with an error past it: both bound
    it alike, so the 200,000 strings after the cut are never held."""
    table = f"{SST}>{'<si><t>s</t></si>' * 200_000}</sst>".encode()
    source = with_shared_strings(xlsx, folder / "lengre-kilde.xlsx", table.decode())
    members = [(n, d) for n, d in parts(source) if n != b"xl/sharedStrings.xml"]
    out = bytearray()
    offsets = locals_of(members, out)
    cut = table[:60]
    header = bytearray(local(b"xl/sharedStrings.xml", table))
    struct.pack_into("<L", header, 14, zlib.crc32(cut))
    struct.pack_into("<L", header, 22, len(cut))
    at = len(out)
    out += header
    listing = directory(members, offsets)
    entry = bytearray(central(b"xl/sharedStrings.xml", table, at))
    struct.pack_into("<L", entry, 16, zlib.crc32(cut))
    struct.pack_into("<L", entry, 24, len(cut))
    listing += entry
    out += listing + end(len(members) + 1, len(listing), len(out))
    path = folder / "lengre.xlsx"
    path.write_bytes(out)
    assert "larger than its declared uncompressed size" in refused(path).message_en
