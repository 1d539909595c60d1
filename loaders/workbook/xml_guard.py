"""A streaming pre-scan of a zip member's XML, with bounded reads, before any library parses it.

Why: the zip limits (file size, unpacked size, compression ratio) bound the whole,
not its parts. A 6.7 MB xlsx holding one 180 MB inline-string cell passed all of
them, and the XML parsers behind the readers hold a text node whole, in several
copies: the server went to 7.9 GB (issue 16, item 5). This scan reads each part in
small chunks through expat and only counts: the characters of each cell (``<c>`` in
a worksheet, ``<si>`` in the shared strings, a table cell in ODF) and of each text
node, and the bytes a single markup token may take (a giant attribute or name
arrives in no callback at all, so the bytes expat holds unparsed after each chunk
are counted instead). It also refuses DTDs, so no entity is ever declared, let
alone expanded. Nothing is kept, so memory stays that of one chunk.

The xlsx reader scans its worksheets with callbacks of its own that do these
counts and its pre-scan in one pass (``xlsx._SheetScanner``); ``feed`` is shared.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.parsers import expat
from xml.parsers.expat import XMLParserType

from loaders.workbook.raw import Limits, WorkbookError, nb_int
from loaders.workbook.zipped import xml_bomb

CHUNK = 64 * 1024

CELL_TAGS = frozenset(
    {
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main c",
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main si",
        "http://purl.oclc.org/ooxml/spreadsheetml/main c",
        "http://purl.oclc.org/ooxml/spreadsheetml/main si",
        "urn:oasis:names:tc:opendocument:xmlns:table:1.0 table-cell",
        "urn:oasis:names:tc:opendocument:xmlns:table:1.0 covered-table-cell",
    }
)
"""Elements whose whole text is one cell's value (expat names: namespace, space, local name)."""

STRING_TAGS = frozenset(name for name in CELL_TAGS if name.endswith(" si"))
"""The shared strings' entries, counted against ``Limits.max_shared_strings``."""
_SHORTEST_STRING = len(b"<si/>")


class RefusedError(Exception):
    """Raised inside an expat callback; carries the error out of the parser."""

    def __init__(self, error: WorkbookError) -> None:
        super().__init__(str(error))
        self.error = error


def too_long_cell(path: Path, part: str, limits: Limits, length: int) -> WorkbookError:
    return WorkbookError(
        path,
        f"delen {part} har en celle eller tekst på mer enn {nb_int(limits.max_cell_chars)} "
        f"tegn (minst {nb_int(length)}); et regneark har aldri det (Excel tillater "
        "32 767 tegn per celle)",
        f"the part {part} has a cell or text of more than {limits.max_cell_chars:,} characters "
        f"(at least {length:,}); a spreadsheet never has that (Excel allows 32,767 per cell)",
    )


def too_many_strings(path: Path, part: str, limits: Limits) -> WorkbookError:
    return WorkbookError(
        path,
        f"delen {part} har mer enn {nb_int(limits.max_shared_strings)} delte tekster "
        "(shared strings), grensen for en arbeidsbok",
        f"the part {part} has more than {limits.max_shared_strings:,} shared strings, "
        "the limit for a workbook",
    )


def _too_long_token(path: Path, part: str, limits: Limits) -> WorkbookError:
    return WorkbookError(
        path,
        f"delen {part} har et XML-element eller en attributt på mer enn "
        f"{nb_int(limits.max_token_bytes)} byte; filen er avvist",
        f"the part {part} has an XML element or attribute of more than "
        f"{limits.max_token_bytes:,} bytes; the file is refused",
    )


def scan_part(path: Path, archive: zipfile.ZipFile, part: str, limits: Limits) -> bool:
    """Stream ``part`` through expat; raise ``WorkbookError`` at the first limit crossed.

    Returns whether the part is well-formed: one that is not is left to the reader,
    which says where.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    size = archive.getinfo(part).file_size
    if size <= min(
        limits.max_cell_chars,
        limits.max_token_bytes,
        _SHORTEST_STRING * limits.max_shared_strings,
    ):
        # No text, cell, token or count of shared strings of a part this small can cross
        # the limits (a character takes at least a byte, and a zip member never yields
        # more than its stated size: ``zipfile`` cuts it there and checks its CRC), so
        # expat runs without a callback: the scan's callbacks were most of the reading
        # of a workbook, and seven parts in ten of the national demo are this small.
        return feed(path, archive, part, limits, parser)
    parser.buffer_text = True  # pieces of at most ``buffer_size`` characters: memory stays bounded
    cells: list[int] = []  # characters so far in each open cell element
    texts: list[int] = [0]  # characters so far in each open element's own text
    strings = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal strings
        texts.append(0)
        if name in CELL_TAGS:
            cells.append(0)
            if name in STRING_TAGS:
                strings += 1
                if strings > limits.max_shared_strings:
                    raise RefusedError(too_many_strings(path, part, limits))

    def end(name: str) -> None:
        texts.pop()
        if name in CELL_TAGS and cells:
            cells.pop()

    def text(data: str) -> None:
        texts[-1] += len(data)
        longest = texts[-1]
        if cells:
            cells[-1] += len(data)
            longest = max(longest, cells[-1])
        if longest > limits.max_cell_chars:
            raise RefusedError(too_long_cell(path, part, limits, longest))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    return feed(path, archive, part, limits, parser)


def feed(
    path: Path, archive: zipfile.ZipFile, part: str, limits: Limits, parser: XMLParserType
) -> bool:
    """Feed ``part`` to ``parser`` in chunks, refusing DTDs and over-long tokens.

    Returns whether the part is well-formed (one that is not is left to the reader,
    which says where). The handlers already set on ``parser`` do the rest of a scan;
    one raises ``RefusedError`` to refuse the file.

    A token (a tag with its attributes, a comment) arrives in no callback until it
    ends, so after each chunk the bytes expat holds unparsed (those fed since
    ``CurrentByteIndex``, the start of the unfinished token) are held to
    ``max_token_bytes``. Why after each chunk and not in every callback: noting the
    position in each callback cost the scan of a sheet a fifth of its time.
    """

    def refuse_doctype(*_: object) -> None:
        raise RefusedError(xml_bomb(path))

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    fed = 0
    try:
        with archive.open(part) as member:
            while chunk := member.read(CHUNK):
                fed += len(chunk)
                parser.Parse(chunk, False)
                if fed - parser.CurrentByteIndex > limits.max_token_bytes:
                    raise RefusedError(_too_long_token(path, part, limits))
            parser.Parse(b"", True)
    except RefusedError as refused:
        raise refused.error from None
    except expat.ExpatError:
        return False  # not well-formed: the reader reports it with its own words
    return True


def scan_xml_parts(
    path: Path, archive: zipfile.ZipFile, limits: Limits, skip: frozenset[str] = frozenset()
) -> None:
    """Scan every XML part of the archive (sheets, shared strings, content, styles)
    but those in ``skip``, which the reader scans itself with an observer."""
    for info in archive.infolist():
        if info.filename in skip:
            continue
        # In any letter case: python-calamine opens "XL/SHAREDSTRINGS.XML" as the shared strings.
        if info.filename.lower().endswith((".xml", ".rels")) and not info.is_dir():
            scan_part(path, archive, info.filename, limits)
