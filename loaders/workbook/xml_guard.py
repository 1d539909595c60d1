"""A streaming pre-scan of a zip member's XML, with bounded reads, before any library parses it.

Why: the zip limits (file size, unpacked size, compression ratio) bound the whole,
not its parts. A 6.7 MB xlsx holding one 180 MB inline-string cell passed all of
them, and the XML parsers behind the readers hold a text node whole, in several
copies: the server went to 7.9 GB (issue 16, item 5). This scan reads each part in
small chunks through expat and only counts: the characters of each cell (``<c>`` in
a worksheet, ``<si>`` in the shared strings, a table cell in ODF) and of each text
node, and the bytes a single markup token may take (a giant attribute or name
arrives in no callback at all, so the bytes fed since the last callback are
counted instead). It also refuses DTDs, so no entity is ever declared, let alone
expanded. Nothing is kept, so memory stays that of one chunk.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Protocol
from xml.parsers import expat

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


class Observer(Protocol):
    """A reader's own pass over a part, riding on the scan's parse (one pass, not two).

    Names are expat's: namespace, space, local name. ``well_formed`` is False when
    the part is not well-formed XML: then the observer has seen only part of it.
    """

    def start(self, name: str, attributes: dict[str, str]) -> None: ...

    def end(self, name: str) -> None: ...

    def text(self, data: str) -> None: ...


class _RefusedError(Exception):
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


def _too_long_token(path: Path, part: str, limits: Limits) -> WorkbookError:
    return WorkbookError(
        path,
        f"delen {part} har et XML-element eller en attributt på mer enn "
        f"{nb_int(limits.max_token_bytes)} byte; filen er avvist",
        f"the part {part} has an XML element or attribute of more than "
        f"{limits.max_token_bytes:,} bytes; the file is refused",
    )


def scan_part(
    path: Path,
    archive: zipfile.ZipFile,
    part: str,
    limits: Limits,
    observer: Observer | None = None,
) -> bool:
    """Stream ``part`` through expat; raise ``WorkbookError`` at the first limit crossed.

    Returns whether the part is well-formed: one that is not is left to the reader,
    which says where. ``observer`` sees every element and text as it is parsed.
    """
    if archive.getinfo(part).file_size <= min(limits.max_cell_chars, limits.max_token_bytes):
        return _scan_small_part(path, archive, part, observer)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = False  # text arrives in pieces, as it is parsed
    cells: list[int] = []  # characters so far in each open cell element
    texts: list[int] = [0]  # characters so far in each open element's own text
    progress = [0]  # the byte index of the last callback

    # Each callback notes where it is (inline: a call more per element cost the read of a
    # national batch a tenth of its time).
    def start(name: str, attributes: dict[str, str]) -> None:
        progress[0] = parser.CurrentByteIndex
        texts.append(0)
        if name in CELL_TAGS:
            cells.append(0)
        if observer is not None:
            observer.start(name, attributes)

    def end(name: str) -> None:
        progress[0] = parser.CurrentByteIndex
        texts.pop()
        if name in CELL_TAGS and cells:
            cells.pop()
        if observer is not None:
            observer.end(name)

    def text(data: str) -> None:
        progress[0] = parser.CurrentByteIndex
        texts[-1] += len(data)
        longest = texts[-1]
        if cells:
            cells[-1] += len(data)
            longest = max(longest, cells[-1])
        if longest > limits.max_cell_chars:
            raise _RefusedError(too_long_cell(path, part, limits, longest))
        if observer is not None:
            observer.text(data)

    def refuse_doctype(*_: object) -> None:
        raise _RefusedError(xml_bomb(path))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    fed = 0
    try:
        with archive.open(part) as member:
            while chunk := member.read(CHUNK):
                fed += len(chunk)
                parser.Parse(chunk, False)
                if fed - progress[0] > limits.max_token_bytes:
                    raise _RefusedError(_too_long_token(path, part, limits))
            parser.Parse(b"", True)
    except _RefusedError as refused:
        raise refused.error from None
    except expat.ExpatError:
        return False  # not well-formed: the reader reports it with its own words
    return True


def _scan_small_part(
    path: Path, archive: zipfile.ZipFile, part: str, observer: Observer | None
) -> bool:
    """``scan_part`` for a part no larger than the cell and token limits: no text, cell or
    token of it can cross them (a character takes at least a byte, and a zip member never
    yields more than its stated size: ``zipfile`` cuts it there and checks its CRC), so
    expat only refuses a DTD and feeds the observer, with no callback of the scan's own.

    Why: the scan's callbacks on every element and text were most of the reading of a
    workbook (10 of 25 ms), and seven parts in ten of the national demo are this small.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True  # text whole, in one callback (the observer joins pieces anyway)

    def refuse_doctype(*_: object) -> None:
        raise _RefusedError(xml_bomb(path))

    if observer is not None:
        parser.StartElementHandler = observer.start
        parser.EndElementHandler = observer.end
        parser.CharacterDataHandler = observer.text
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    try:
        with archive.open(part) as member:
            while chunk := member.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _RefusedError as refused:
        raise refused.error from None
    except expat.ExpatError:
        return False
    return True


def scan_xml_parts(
    path: Path, archive: zipfile.ZipFile, limits: Limits, skip: frozenset[str] = frozenset()
) -> None:
    """Scan every XML part of the archive (sheets, shared strings, content, styles)
    but those in ``skip``, which the reader scans itself with an observer."""
    for info in archive.infolist():
        if info.filename in skip:
            continue
        if info.filename.endswith((".xml", ".rels")) and not info.is_dir():
            scan_part(path, archive, info.filename, limits)
