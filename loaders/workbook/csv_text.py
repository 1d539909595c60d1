"""CSV: the encoding and the delimiter guessed the way Norwegian Excel writes them."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from pathlib import Path

from loaders.workbook.builder import (
    Budget,
    SheetBuilder,
    too_many_cells,
)
from loaders.workbook.raw import (
    Limits,
    RawWorkbook,
    WorkbookError,
)

# --- csv ----------------------------------------------------------------------

_DELIMITERS = (";", ",", "\t", "|")
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_RECORDS = 200


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """Text and the encoding it was in: UTF-16 or UTF-8 by BOM, UTF-8, cp1252, latin-1.

    UTF-8 is tried before cp1252 because a cp1252 file with æøå is almost never
    valid UTF-8, while the reverse guess would turn "Bærum" into "BÃ¦rum".
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise WorkbookError(
                path,
                f"filen begynner som UTF-16, men er ikke gyldig UTF-16 ({error.reason})",
                f"the file starts as UTF-16 but is not valid UTF-16 ({error.reason})",
            ) from error
        if "\x00" in text:
            raise _nul_bytes(path)
        return text, encoding
    if b"\x00" in data:
        raise _nul_bytes(path)
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8) :]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _nul_bytes(path: Path) -> WorkbookError:
    return WorkbookError(
        path,
        "filen inneholder NUL-byte; den er trolig ikke en CSV-fil",
        "the file contains NUL bytes; it is probably not a CSV file",
    )


def _detect_delimiter(text: str, prefer_tab: bool) -> str:
    """The candidate that splits the sample's records most consistently into ≥ 2 fields.

    Ties go to ``;`` (Norwegian Excel's choice, and the one that survives decimal
    commas), or to TAB for a .tsv file. A file with one column gets ``;``.
    """
    order = ("\t", ";", ",", "|") if prefer_tab else _DELIMITERS
    sample = text[:_SAMPLE_CHARS]
    truncated = len(text) > len(sample)
    best: tuple[float, int] = (0.0, 0)
    chosen = order[0] if prefer_tab else ";"
    for rank, delimiter in enumerate(order):
        counts: list[int] = []
        try:
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(field.strip() for field in record):
                    counts.append(len(record))
                if len(counts) > _SAMPLE_RECORDS:
                    break
        except csv.Error:
            continue
        if truncated and len(counts) > 1:
            counts.pop()  # the sample may end in the middle of a record
        if not counts:
            continue
        width, frequency = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (frequency / len(counts), -rank)
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _guard_row_width(path: Path, text: str, delimiter: str, sheet: str, limits: Limits) -> None:
    """Refuse a line with more fields than the cell limit before ``csv`` builds it.

    Only needed when the whole file holds that many delimiters; the count per line
    ignores quotes, so it can only overestimate.
    """
    if text.count(delimiter) < limits.max_cells:
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count(delimiter) >= limits.max_cells:
            raise too_many_cells(path, limits, sheet, number)


def read_csv(path: Path, extension: str, limits: Limits) -> RawWorkbook:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WorkbookError.unreadable(path, error) from error
    text, encoding = _decode(path, data)
    del data
    delimiter = _detect_delimiter(text, prefer_tab=extension == ".tsv")
    sheet = path.stem
    _guard_row_width(path, text, delimiter, sheet, limits)
    budget = Budget(path, limits)
    builder = SheetBuilder(sheet, False, budget)
    row_number = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row_number, record in enumerate(reader, start=1):
            for column, value in enumerate(record, start=1):
                if value:
                    builder.add(row_number, column, value)
    except csv.Error as error:
        raise WorkbookError(
            path,
            f"CSV-filen kan ikke leses etter rad {row_number}: {error}",
            f"the CSV file cannot be read after row {row_number}: {error}",
            sheet=sheet,
            row=row_number + 1,
        ) from error
    return RawWorkbook([builder.build()], "csv", encoding=encoding, delimiter=delimiter)
