"""Typed values from single spreadsheet cells, in the notation Norwegian system owners type.

Why a module of its own: the reader (xlsx, ods, csv), the row-to-RDF mapping and the
hypothesis tests all need the same answer to "what does this cell mean?", and that
answer is a contract with the people who fill in the spreadsheets. Every parser is a
pure function from one raw value, as openpyxl, python-calamine or csv deliver it
(``str``, ``int``, ``float``, ``bool``, ``datetime.datetime``, ``datetime.date``,
``datetime.time`` or ``None``), to a typed value, ``None`` for an empty cell, or a
:class:`CellError` saying in Norwegian and English what is wrong and what would fix it.
A parser raises nothing else, whatever it is given.

The notation rules:

* **Empty**: ``None``, or text that is empty once whitespace (including no-break and
  zero-width spaces) is stripped, is an empty cell: every parser returns ``None``.
* **Numbers**: the comma is the decimal separator, always: ``"1,5"`` is one and a half
  and ``"1,234"`` is 1.234. Thousands are grouped in threes by a space (normal, no-break
  U+00A0, narrow no-break U+202F, thin U+2009 or figure U+2007) or by dots, never both in
  one number: ``"1 234 567"``, ``"1.234.567"``, ``"1.234,50"``. A dot is read as a
  decimal point only where it cannot be a thousands separator: ``"1234.5"``, ``"0.125"``,
  ``"1 234.5"``. ``"1.234"`` could be either; a whole number column reads it as 1234
  (1.234 would not be whole), an amount or a percentage rejects it as ambiguous.
  Minus is ``-`` or ``−`` (U+2212). No exponents, no units, except that amounts accept
  ``kr``, ``kr.`` or ``NOK`` before or after the number and ``,-`` for whole kroner.
* **Percentages**: ``"12 %"`` is 0.12; a number without ``%`` is already a fraction,
  because that is what Excel stores for a cell formatted as 12 %.
* **Booleans**: see :data:`TRUE_WORDS` and :data:`FALSE_WORDS`.
* **Dates**: Excel serial numbers (1900 date system), ``dd.mm.yyyy``, ``d.m.yyyy``,
  ``dd.mm.yy``, ``yyyy-mm-dd`` (also with a time, which is dropped), ``dd/mm/yyyy``,
  ``dd-mm-yyyy`` and ``31. januar 2024``. A slash date is always day first, as in
  Norway: ``03/04/2024`` is 3 April. Two-digit years follow Excel's own pivot, 00–29 are
  2000–2029 and 30–99 are 1930–1999, so a date means what Excel showed when it was typed.
* **Municipalities**: a number (``"0301"``, ``301``), a name (``"Kongsberg"``), or both as
  the template's dropdown writes them (``"3303 Kongsberg"``).
"""

from __future__ import annotations

import calendar
import datetime
import difflib
import ipaddress
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import NoReturn, TypeAlias
from urllib.parse import quote, urlsplit, urlunsplit

from rdflib import Graph, Literal
from rdflib.namespace import DCTERMS, RDFS
from rdflib.term import Node

from loaders.namespaces import KG

Raw: TypeAlias = str | int | float | bool | datetime.datetime | datetime.date | datetime.time | None
"""What a spreadsheet reader hands over for one cell."""


class CellError(ValueError):
    """A cell value that cannot be read, in words a system owner can act on.

    The constructor's arguments are the exception's ``args``, so an error pickles and
    can come back from a worker process.

    >>> error = CellError("Ugyldig.", "Invalid.", "42")
    >>> str(error), error.suggestion
    ('Ugyldig. / Invalid.', '42')
    """

    def __init__(self, message_nb: str, message_en: str, suggestion: str | None = None) -> None:
        super().__init__(message_nb, message_en, suggestion)
        self.message_nb = message_nb
        self.message_en = message_en
        self.suggestion = suggestion
        """The corrected value, or the values the user may have meant; None if unknown."""

    def __str__(self) -> str:
        return f"{self.message_nb} / {self.message_en}"


@dataclass(frozen=True)
class CellWarning:
    """A value that was accepted but should be changed in the spreadsheet."""

    message_nb: str
    message_en: str


# ---------------------------------------------------------------------------------
# Showing values in messages

_SHOWN_MAX = 60
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _shown(raw: object) -> str:
    """The value as the user would recognise it: control characters made visible."""
    if isinstance(raw, datetime.date | datetime.time):
        text = raw.isoformat()
    elif isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) >= 10**_SHOWN_MAX:
        text = (
            f"(et tall med mer enn {_SHOWN_MAX} sifre / a number of more than {_SHOWN_MAX} digits)"
        )
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    else:
        text = str(raw)
    text = "".join(
        _ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if _is_control(ch) else ch) for ch in text
    )
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cs"}


def _error(raw: object, nb: str, en: str, suggestion: str | None = None) -> CellError:
    """An error whose messages quote the value where they say ``{v}``."""
    return CellError(
        nb.replace("{v}", f"«{_shown(raw)}»"),
        en.replace("{v}", f'"{_shown(raw)}"'),
        suggestion,
    )


_INVISIBLE = "\u200b\u2060\ufeff"
"""Zero-width space, word joiner and byte order mark: invisible, but not whitespace."""


def _strip(text: str) -> str:
    """Whitespace and the invisible characters web pages and CSV exports leave behind.

    String methods rather than a regular expression: a regex anchored at the end
    backtracks quadratically over a long run of inner spaces.
    """
    while True:
        stripped = text.strip().strip(_INVISIBLE)
        if stripped == text:
            return text
        text = stripped


def _type_error(raw: object, what_nb: str, what_en: str) -> CellError:
    """A cell of the wrong kind: a number, date or boolean where something else belongs."""
    if isinstance(raw, bool):
        kind_nb, kind_en = "en sannhetsverdi (SANN/USANN)", "a boolean (TRUE/FALSE)"
    elif isinstance(raw, datetime.datetime | datetime.date):
        kind_nb, kind_en = "en dato", "a date"
    elif isinstance(raw, datetime.time):
        kind_nb, kind_en = "et klokkeslett", "a time of day"
    elif isinstance(raw, int | float):
        kind_nb, kind_en = "et tall", "a number"
    else:
        kind_nb, kind_en = f"en verdi av typen {type(raw).__name__}", f"a {type(raw).__name__}"
    return _error(
        raw,
        f"Cellen {{v}} inneholder {kind_nb}, men her skal det stå {what_nb}. "
        "Sjekk cellens format (Format celler) og skriv verdien på nytt.",
        f"The cell {{v}} holds {kind_en}, but {what_en} belongs here. "
        "Check the cell's number format and type the value again.",
    )


# ---------------------------------------------------------------------------------
# Text


def parse_text(raw: Raw) -> str | None:
    """Free text, stripped, in Unicode NFC so that equal-looking names compare equal.

    A Mac writes "å" as "a" plus a combining ring (NFD); without normalising, the same
    name typed on two machines would become two different literals. Control characters
    other than tab and line break are refused: they are invisible in the spreadsheet,
    and NUL and most others are not allowed in RDF/XML or XML reports at all. A carriage
    return is a line break, so CR LF and CR become LF.

    Numbers and dates in a text column are written back as the user saw them.

    >>> parse_text("  Visma Flyt Skole ")
    'Visma Flyt Skole'
    >>> parse_text("linje 1\\r\\nlinje 2")
    'linje 1\\nlinje 2'
    >>> parse_text(11), parse_text(2.5), parse_text("   ") is None
    ('11', '2.5', True)
    >>> parse_text("a\\x00b")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: Teksten «a\\u0000b» inneholder et NUL-tegn...
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _error(
                raw,
                "Cellen {v} er ikke en gyldig verdi (regnefeil i regnearket?).",
                "The cell {v} is not a valid value (a calculation error in the sheet?).",
            )
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, int):
        try:
            return str(raw)
        except ValueError:  # more digits than int-to-str allows (4300 by default)
            raise _error(raw, "Tallet {v} er for stort.", "The number {v} is too large.") from None
    if isinstance(raw, datetime.date | datetime.time):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise _type_error(raw, "tekst", "text")
    text = _strip(raw.replace("\r\n", "\n").replace("\r", "\n"))
    if not text:
        return None
    if "\x00" in text:
        raise _error(
            raw,
            "Teksten {v} inneholder et NUL-tegn (\\u0000), som ikke kan lagres. "
            "Skriv teksten inn på nytt i stedet for å lime den inn.",
            "The text {v} contains a NUL character (\\u0000), which cannot be stored. "
            "Type the text again instead of pasting it.",
        )
    bad = sorted({ch for ch in text if _is_control(ch) and ch not in "\t\n"})
    if bad:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        cleaned = "".join(ch for ch in text if not _is_control(ch) or ch in "\t\n")
        raise _error(
            raw,
            f"Teksten {{v}} inneholder usynlige kontrolltegn ({codes}). "
            "Fjern dem, for eksempel ved å skrive teksten inn på nytt.",
            f"The text {{v}} contains invisible control characters ({codes}). "
            "Remove them, for example by typing the text again.",
            _strip(cleaned) or None,
        )
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------------
# Numbers

_SPACES = re.compile(r"[ \u00a0\u202f\u2009\u2007]")
_NUMBER_MAX = 64
_NUMBER = re.compile(
    r"(?P<sign1>[-+]?)[ ]*(?P<cur1>kroner|kr\.?|nok)?[ ]*(?P<sign2>[-+]?)[ ]*"
    r"(?P<body>[0-9., ]*?)(?P<whole>[.,]-)?[ ]*(?P<cur2>kroner|kr\.?|nok)?",
    re.IGNORECASE,
)
_NUMBER_TOKEN = re.compile(r"[-\u2212]?[0-9](?:[0-9., \u00a0\u202f\u2009\u2007]*[0-9])?")
"""One number inside other text, as in "12 stk": the suggestion when units are refused."""
_ENGLISH_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_AMBIGUOUS_DOT = re.compile(r"[1-9][0-9]{0,2}\.[0-9]{3}")


@dataclass(frozen=True)
class _Number:
    negative: bool
    whole: str
    """The digits before the decimal separator, without thousands separators."""
    fraction: str
    """The digits after it; empty when there are none."""
    ambiguous_dot: bool = False
    """"1.234": 1234 with a dot for thousands, or 1.234 with a decimal point."""

    def decimal(self) -> Decimal:
        return Decimal(f"{'-' if self.negative else ''}{self.whole or '0'}.{self.fraction or '0'}")


_GROUPED = {
    separator: re.compile(rf"[1-9][0-9]{{0,2}}(?:{re.escape(separator)}[0-9]{{3}})+")
    for separator in " ."
}
"""Thousands groups: 1–3 digits (not starting with 0), then groups of exactly three."""
_PLAIN_INTEGER = re.compile(r"(-?)([0-9]{1,30})")


def _scan_number(raw: str, text: str, *, currency: bool, what_nb: str, what_en: str) -> _Number:
    """Split Norwegian number notation into sign, digits and fraction, or explain why not."""
    accepted_nb = (
        "Skriv for eksempel 1 234 567 eller 1 234,50 (komma foran desimalene)."
        if not currency
        else "Skriv for eksempel 1 234,50, 1.234,50 kr eller kr 1 234,-."
    )
    accepted_en = (
        "Write for example 1 234 567 or 1 234,50 (a comma before the decimals)."
        if not currency
        else "Write for example 1 234,50, 1.234,50 kr or kr 1 234,-."
    )
    plain = _PLAIN_INTEGER.fullmatch(text)
    if plain:  # most cells: no separators, no sign but minus, nothing to explain
        return _Number(negative=plain[1] == "-", whole=plain[2], fraction="")
    if len(text) > _NUMBER_MAX:
        raise _error(
            raw,
            f"{{v}} er for langt til å være {what_nb}.",
            f"{{v}} is too long to be {what_en}.",
        )
    normal = _SPACES.sub(" ", text).replace("\u2212", "-")
    match = _NUMBER.fullmatch(normal)
    if match is None or not re.search(r"[0-9]", match["body"]):
        letters = re.sub(r"[0-9.,\s+\-\u2212]", "", text)
        numbers = _NUMBER_TOKEN.findall(text)
        suggestion = numbers[0] if len(numbers) == 1 else None
        if letters and suggestion:
            units_nb = "Bare kr og NOK er tillatt." if currency else "Enheter er ikke tillatt."
            units_en = "Only kr and NOK are allowed." if currency else "Units are not allowed."
            raise _error(
                raw,
                f"{{v}} er ikke {what_nb}: «{letters}» hører ikke hjemme i et tall. "
                f"{units_nb} Skriv bare tallet.",
                f'{{v}} is not {what_en}: "{letters}" does not belong in a number. '
                f"{units_en} Write the number only.",
                suggestion,
            )
        raise _error(
            raw,
            f"{{v}} er ikke {what_nb}. {accepted_nb}",
            f"{{v}} is not {what_en}. {accepted_en}",
        )
    signs = match["sign1"] + match["sign2"]
    if len(signs) > 1:
        raise _error(
            raw,
            f"{{v}} har mer enn ett fortegn. {accepted_nb}",
            f"{{v}} has more than one sign. {accepted_en}",
        )
    if not currency and (match["cur1"] or match["cur2"] or match["whole"]):
        raise _error(
            raw,
            f"{{v}} er ikke {what_nb}: valuta hører ikke hjemme her. Skriv bare tallet.",
            f"{{v}} is not {what_en}: a currency does not belong here. Write the number only.",
            _SPACES.sub(" ", re.sub(r"(?i)kroner|kr\.?|nok|[.,]-", "", text)).strip() or None,
        )
    if match["cur1"] and match["cur2"]:
        raise _error(
            raw,
            f"{{v}} har valuta både foran og bak. {accepted_nb}",
            f"{{v}} has a currency both before and after the number. {accepted_en}",
        )
    body = match["body"].strip(" ")
    negative = signs == "-"
    if "  " in body:
        raise _error(
            raw,
            f"{{v}} har flere mellomrom etter hverandre. {accepted_nb}",
            f"{{v}} has several spaces in a row. {accepted_en}",
            body.replace(" ", ""),
        )
    if body.count(",") > 1 or (body.count(",") == 1 and "." in body.split(",")[1]):
        english = _ENGLISH_THOUSANDS.fullmatch(body)
        raise _error(
            raw,
            f"{{v}} er ikke {what_nb} i norsk skrivemåte: komma skiller desimalene og kan "
            f"bare stå én gang. {accepted_nb}",
            f"{{v}} is not {what_en} in Norwegian notation: the comma separates the decimals "
            f"and may appear only once. {accepted_en}",
            body.replace(",", "").replace(".", ",") if english else None,
        )
    fraction = ""
    if "," in body:
        whole, fraction = body.split(",")
        if not fraction:
            raise _error(
                raw,
                f"{{v}} mangler sifre etter desimalkommaet. {accepted_nb}",
                f"{{v}} has no digits after the decimal comma. {accepted_en}",
                whole,
            )
    elif body.count(".") == 1 and (" " in body or not _AMBIGUOUS_DOT.fullmatch(body)):
        whole, fraction = body.split(".")  # "1234.5", "0.125", "1 234.5": a decimal point
        if not fraction:
            raise _error(
                raw,
                f"{{v}} mangler sifre etter desimaltegnet. {accepted_nb}",
                f"{{v}} has no digits after the decimal point. {accepted_en}",
                whole,
            )
    else:
        whole = body
    if " " in whole and "." in whole:
        raise _error(
            raw,
            f"{{v}} bruker både mellomrom og punktum som tusenskille; velg ett. {accepted_nb}",
            f"{{v}} uses both spaces and dots to separate thousands; choose one. {accepted_en}",
        )
    separator = " " if " " in whole else "." if "." in whole else None
    if separator is not None and not _GROUPED[separator].fullmatch(whole):
        shown = "mellomrom" if separator == " " else "punktum"
        shown_en = "space" if separator == " " else "dot"
        raise _error(
            raw,
            f"{{v}} er ikke {what_nb}: {shown} som tusenskille må dele sifrene i grupper på "
            f"tre (1 234 567). Er det to tall, skriv dem i hver sin celle.",
            f"{{v}} is not {what_en}: a {shown_en} separating thousands must split the digits "
            f"into groups of three (1 234 567). If it is two numbers, put them in two cells.",
        )
    if not re.fullmatch(r"[0-9]*", fraction):
        raise _error(
            raw,
            f"{{v}} har tegn som ikke er sifre etter desimaltegnet. {accepted_nb}",
            f"{{v}} has characters other than digits after the decimal separator. {accepted_en}",
        )
    return _Number(
        negative=negative,
        whole=whole.replace(separator or " ", ""),
        fraction=fraction,
        ambiguous_dot="," not in body and bool(_AMBIGUOUS_DOT.fullmatch(body)),
    )


def _not_finite(raw: float, what_nb: str, what_en: str) -> CellError:
    return _error(
        raw,
        f"Cellen {{v}} er ikke {what_nb}, men en regnefeil eller et uendelig tall.",
        f"The cell {{v}} is not {what_en} but a calculation error or an infinite number.",
    )


def parse_integer(raw: Raw) -> int | None:
    """A whole number, such as a number of users, however the spreadsheet stored it.

    Excel hands whole numbers over as floats (``1234.0``) and CSV as text in local
    notation, so both must give the same int. ``"1.234"`` is 1234 here: with a decimal
    point it would not be a whole number. Units are refused rather than dropped, so
    that "12 stk" and "12 %" do not silently become 12.

    >>> parse_integer("1 234 567"), parse_integer("1\\u00a0234"), parse_integer("1.234.567")
    (1234567, 1234, 1234567)
    >>> parse_integer(1234.0), parse_integer("−5"), parse_integer("") is None
    (1234, -5, True)
    >>> parse_integer("12 stk")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «12 stk» er ikke et heltall: «stk» hører ikke hjemme i et tall...
    """
    what_nb, what_en = "et heltall", "a whole number"
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise _type_error(raw, what_nb, what_en)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _not_finite(raw, what_nb, what_en)
        if not raw.is_integer():
            raise _error(
                raw,
                "{v} er ikke et heltall. Skriv tallet uten desimaler.",
                "{v} is not a whole number. Write the number without decimals.",
            )
        return int(raw)
    if not isinstance(raw, str):
        raise _type_error(raw, what_nb, what_en)
    text = _strip(raw)
    if not text:
        return None
    number = _scan_number(raw, text, currency=False, what_nb=what_nb, what_en=what_en)
    if number.fraction.strip("0"):
        raise _error(
            raw,
            "{v} er ikke et heltall. Skriv tallet uten desimaler.",
            "{v} is not a whole number. Write the number without decimals.",
        )
    value = int(number.whole or "0")
    return -value if number.negative else value


def _decimal_from_number(raw: int | float, what_nb: str, what_en: str) -> Decimal:
    """A Decimal from a float or int that Excel stored, keeping the digits Excel showed."""
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _not_finite(raw, what_nb, what_en)
        # repr gives the shortest text that round-trips, so 0.1 stays 0.1 rather than
        # becoming 0.1000000000000000055511151231257827...
        return Decimal(repr(raw))
    return Decimal(raw)


def _ambiguous(raw: Raw, number: _Number, what_nb: str, what_en: str) -> CellError:
    sign = "-" if number.negative else ""
    thousands, fraction = number.whole[:-3], number.whole[-3:]
    return _error(
        raw,
        f"{{v}} er tvetydig: er det {sign}{thousands} {fraction} (punktum som tusenskille) "
        f"eller {sign}{thousands},{fraction} (punktum som desimaltegn)? Skriv "
        f"{sign}{thousands} {fraction} eller {sign}{thousands},{fraction}.",
        f"{{v}} is ambiguous: is it {sign}{thousands} {fraction} (a dot separating thousands) "
        f"or {sign}{thousands},{fraction} (a decimal point)? Write "
        f"{sign}{thousands} {fraction} or {sign}{thousands},{fraction}.",
    )


def parse_decimal(raw: Raw) -> Decimal | None:
    """An amount or other decimal number, exact, in Norwegian notation.

    Decimal, not float, so that 1 234,10 kr is stored as written and sums of costs do
    not drift. The comma is always the decimal separator; a dot is one only when it
    cannot separate thousands; "1.234" alone is refused as ambiguous, because reading
    it wrongly is an error by a factor of a thousand.

    >>> parse_decimal("1.234,50 kr"), parse_decimal("kr 1 234,50"), parse_decimal("NOK 1234.50")
    (Decimal('1234.50'), Decimal('1234.50'), Decimal('1234.50'))
    >>> parse_decimal("1,5"), parse_decimal("1,234"), parse_decimal("kr 1 234,-")
    (Decimal('1.5'), Decimal('1.234'), Decimal('1234'))
    >>> parse_decimal(0.1), parse_decimal(12)
    (Decimal('0.1'), Decimal('12'))
    >>> parse_decimal("1.234")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «1.234» er tvetydig: er det 1 234 (punktum som tusenskille)...
    """
    what_nb, what_en = "et tall", "a number"
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _type_error(raw, what_nb, what_en)
    if not isinstance(raw, str):
        return _decimal_from_number(raw, what_nb, what_en)
    text = _strip(raw)
    if not text:
        return None
    number = _scan_number(raw, text, currency=True, what_nb=what_nb, what_en=what_en)
    if number.ambiguous_dot:
        raise _ambiguous(raw, number, what_nb, what_en)
    return (
        number.decimal() if number.fraction else Decimal(f"{'-' * number.negative}{number.whole}")
    )


def parse_percentage(raw: Raw) -> Decimal | None:
    """A share as a fraction: "12 %" is 0.12.

    A cell formatted as a percentage in Excel stores the fraction (12 % is 0.12), so a
    number without a % sign is taken as the fraction it already is; only text with a %
    sign is divided by 100.

    >>> parse_percentage("12 %"), parse_percentage("12,5%"), parse_percentage("0,12")
    (Decimal('0.12'), Decimal('0.125'), Decimal('0.12'))
    >>> parse_percentage(0.12)
    Decimal('0.12')
    """
    what_nb, what_en = "en prosentandel", "a percentage"
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _type_error(raw, what_nb, what_en)
    if not isinstance(raw, str):
        return _decimal_from_number(raw, what_nb, what_en)
    text = _strip(raw)
    if not text:
        return None
    percent = re.fullmatch(r"(.*?)[\s]*%", text)
    body = _strip(percent[1]) if percent else text
    if not body:
        raise _error(
            raw,
            "{v} mangler tallet foran %. Skriv for eksempel 12 % eller 0,12.",
            "{v} has no number before the %. Write for example 12 % or 0,12.",
        )
    if "%" in body:
        raise _error(
            raw,
            "{v} har mer enn ett %-tegn. Skriv for eksempel 12 % eller 0,12.",
            "{v} has more than one % sign. Write for example 12 % or 0,12.",
        )
    number = _scan_number(raw, body, currency=False, what_nb=what_nb, what_en=what_en)
    if number.ambiguous_dot:
        raise _ambiguous(raw, number, what_nb, what_en)
    value = (
        number.decimal() if number.fraction else Decimal(f"{'-' * number.negative}{number.whole}")
    )
    return value.scaleb(-2) if percent else value


# ---------------------------------------------------------------------------------
# Booleans

TRUE_WORDS = frozenset({"ja", "j", "yes", "y", "x", "true", "sann", "1", "✓", "✔", "☑", "✅"})
"""What means yes: Norwegian and English words, Excel's TRUE in both languages
(SANN is TRUE in a Norwegian Excel), 1, a cross in a box, and check marks."""

FALSE_WORDS = frozenset({"nei", "n", "no", "false", "usann", "0", "✗", "✘", "❌", "☐"})
"""What means no. A blank cell is not "no": it is unknown, and returns None."""


def parse_boolean(raw: Raw) -> bool | None:
    """Yes or no, as people mark it: words, Excel booleans, 1/0, crosses and check marks.

    An "x" is yes because that is how a box is ticked on a form; "✗" and "❌" are no
    because they are drawn as crosses-out. An empty cell is None, not False: "not
    filled in" must stay distinguishable from "no".

    >>> parse_boolean("Ja"), parse_boolean("nei"), parse_boolean("x"), parse_boolean("✔️")
    (True, False, True, True)
    >>> parse_boolean(1), parse_boolean(False), parse_boolean(" ") is None
    (True, False, True)
    >>> parse_boolean("kanskje")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «kanskje» er ikke ja eller nei. Skriv ja eller nei...
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return raw == 1
    text = _strip(raw) if isinstance(raw, str) else ""
    if isinstance(raw, str) and not text:
        return None
    # "✔️" is U+2714 followed by the emoji variation selector U+FE0F.
    word = text.replace("\ufe0f", "").replace("\ufe0e", "").casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _error(
        raw,
        "{v} er ikke ja eller nei. Skriv ja eller nei; også godtatt er "
        "j/n, yes/no, y/n, sann/usann, true/false, 1/0, x eller ✓ (ja) og ✗ (nei).",
        "{v} is not yes or no. Write ja or nei (yes or no); also accepted are "
        "j/n, yes/no, y/n, sann/usann, true/false, 1/0, x or ✓ (yes) and ✗ (no).",
    )


# ---------------------------------------------------------------------------------
# Dates

EXCEL_SERIAL_MIN = 1
"""1900-01-01, the first day of Excel's 1900 date system."""
EXCEL_SERIAL_MAX = 2958465
"""9999-12-31, the last day Excel can show."""
_EXCEL_FAKE_LEAP_DAY = 60
"""Excel (after Lotus 1-2-3) counts 29 February 1900, which never existed."""

TWO_DIGIT_YEAR_PIVOT = 30
"""Two-digit years below this are 20xx, the rest 19xx: Excel's default, so "1.1.29" means
what Excel showed when it was typed (2029), and "1.1.30" is 1930."""

# Spelled out rather than taken from calendar.month_name, which follows the locale.
_MONTHS_NB = (
    *("januar", "februar", "mars", "april", "mai", "juni"),
    *("juli", "august", "september", "oktober", "november", "desember"),
)
_MONTHS_EN = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
_MONTHS: dict[str, int] = {"sept": 9}
for _number, _names in enumerate(zip(_MONTHS_NB, _MONTHS_EN, strict=True), start=1):
    for _name in _names:
        _MONTHS[_name.casefold()] = _MONTHS[_name[:3].casefold()] = _number

_TIME = r"(?:(?:[T ]|[ ]kl\.?[ ]*)[0-9]{1,2}[:.][0-9]{2}(?:[:.][0-9]{2}(?:[.,][0-9]+)?)?)?"
_ZONE = r"(?:[ ]?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?))?"
_DATE_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "iso",
        re.compile(rf"(?P<y>[0-9]{{4}})-(?P<m>[0-9]{{1,2}})-(?P<d>[0-9]{{1,2}}){_TIME}{_ZONE}"),
    ),
    (
        "dots",
        re.compile(
            rf"(?P<d>[0-9]{{1,2}})\.(?P<m>[0-9]{{1,2}})\.(?P<y>[0-9]{{4}}|[0-9]{{2}}){_TIME}"
        ),
    ),
    (
        "slash",
        re.compile(rf"(?P<d>[0-9]{{1,2}})/(?P<m>[0-9]{{1,2}})/(?P<y>[0-9]{{4}}|[0-9]{{2}}){_TIME}"),
    ),
    ("dash", re.compile(rf"(?P<d>[0-9]{{1,2}})-(?P<m>[0-9]{{1,2}})-(?P<y>[0-9]{{4}}){_TIME}")),
    (
        "name",
        re.compile(r"(?P<d>[0-9]{1,2})\.?[ ]*(?P<name>[^\W\d_]+)\.?,?[ ]+(?P<y>[0-9]{4})"),
    ),
)

_DATE_HELP_NB = "Skriv datoen som dd.mm.åååå (31.12.2027) eller åååå-mm-dd (2027-12-31)."
_DATE_HELP_EN = "Write the date as dd.mm.yyyy (31.12.2027) or yyyy-mm-dd (2027-12-31)."


def excel_serial_to_date(serial: int) -> datetime.date:
    """The day an Excel serial number (1900 date system) shows, for serials in range.

    Serials after 60 are one day off from a plain count because Excel counts the
    non-existent 29 February 1900 (serial 60); the caller refuses serial 60 itself.

    >>> excel_serial_to_date(1), excel_serial_to_date(59), excel_serial_to_date(61)
    (datetime.date(1900, 1, 1), datetime.date(1900, 2, 28), datetime.date(1900, 3, 1))
    >>> excel_serial_to_date(45292)
    datetime.date(2024, 1, 1)
    """
    epoch = datetime.date(1899, 12, 31 if serial < _EXCEL_FAKE_LEAP_DAY else 30)
    return epoch + datetime.timedelta(days=serial)


def _date_from_serial(raw: int | float) -> datetime.date:
    if isinstance(raw, float) and not math.isfinite(raw):
        raise _not_finite(raw, "en dato", "a date")
    serial = math.floor(raw)  # the fraction is the time of day
    if 1000 <= serial <= 2999 and serial == raw:
        # A year typed alone. As a serial it would be a day in 1902–1908, which nobody
        # means in this data, while the year is a common shorthand for "some time in".
        raise _error(
            raw,
            f"{{v}} ser ut som et årstall, ikke en dato. {_DATE_HELP_NB}",
            f"{{v}} looks like a year, not a date. {_DATE_HELP_EN}",
            f"{serial}-12-31",
        )
    if serial == _EXCEL_FAKE_LEAP_DAY:
        raise _error(
            raw,
            "Excel-datoen {v} er 29. februar 1900, en dag som ikke finnes (en kjent feil i "
            f"Excel). {_DATE_HELP_NB}",
            "The Excel date {v} is 29 February 1900, a day that does not exist (a known "
            f"Excel error). {_DATE_HELP_EN}",
        )
    if not EXCEL_SERIAL_MIN <= serial <= EXCEL_SERIAL_MAX:
        time_nb = " (et tall under 1 er et klokkeslett)" if 0 <= raw < 1 else ""
        time_en = " (a number below 1 is a time of day)" if 0 <= raw < 1 else ""
        suggestion = None
        if isinstance(raw, int) and 10_000_000 <= raw <= 99_999_999:
            suggestion = _basic_iso_date(str(raw))
        raise _error(
            raw,
            f"Tallet {{v}} er ikke en dato{time_nb}: Excel-datoer er tall fra "
            f"{EXCEL_SERIAL_MIN} (1.1.1900) til {EXCEL_SERIAL_MAX} (31.12.9999). {_DATE_HELP_NB}",
            f"The number {{v}} is not a date{time_en}: Excel dates are numbers from "
            f"{EXCEL_SERIAL_MIN} (1 Jan 1900) to {EXCEL_SERIAL_MAX} (31 Dec 9999). {_DATE_HELP_EN}",
            suggestion,
        )
    return excel_serial_to_date(serial)


def _basic_iso_date(digits: str) -> str | None:
    """ "20240131" as 2024-01-31, if that is a real date: for a suggestion only."""
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])).isoformat()
    except ValueError:
        return None


def _checked_date(raw: Raw, year: int, month: int, day: int) -> datetime.date:
    """The date, or an error that says which part does not exist."""
    if not 1 <= year <= 9999:
        raise _error(
            raw,
            f"Datoen {{v}} har et år som ikke finnes ({year}). {_DATE_HELP_NB}",
            f"The date {{v}} has a year that does not exist ({year}). {_DATE_HELP_EN}",
        )
    if not 1 <= month <= 12:
        raise _error(
            raw,
            f"Datoen {{v}} har måned {month}, men det finnes bare måned 1–12. {_DATE_HELP_NB}",
            f"The date {{v}} has month {month}, but there are only months 1–12. {_DATE_HELP_EN}",
        )
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        name_nb, name_en = _MONTHS_NB[month - 1], _MONTHS_EN[month - 1]
        raise _error(
            raw,
            f"Datoen {{v}} finnes ikke: {name_nb} {year} har {days} dager. {_DATE_HELP_NB}",
            f"The date {{v}} does not exist: {name_en} {year} has {days} days. {_DATE_HELP_EN}",
        )
    return datetime.date(year, month, day)


def parse_date(raw: Raw) -> datetime.date | None:
    """A calendar date, from an Excel date, an Excel serial number or Norwegian text.

    Excel stores dates as day numbers and shows them through a format; a cell that lost
    its format arrives as a bare number, and a CSV export as text in whatever notation
    the user typed. A slash date is read day first, as Norwegians write it, so 03/04/2024
    is 3 April; a date that only makes sense month first (12/31/2024) is refused rather
    than guessed. A time of day after a date is dropped; the date is kept as written,
    not moved to another time zone.

    >>> parse_date("31.12.2027"), parse_date("1.2.2024"), parse_date("2024-02-01T10:00:00Z")
    (datetime.date(2027, 12, 31), datetime.date(2024, 2, 1), datetime.date(2024, 2, 1))
    >>> parse_date(45292), parse_date("03/04/2024"), parse_date("1.1.29")
    (datetime.date(2024, 1, 1), datetime.date(2024, 4, 3), datetime.date(2029, 1, 1))
    >>> parse_date("31.02.2024")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: Datoen «31.02.2024» finnes ikke: februar 2024 har 29 dager...
    """
    if raw is None:
        return None
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    if isinstance(raw, bool | datetime.time) or not isinstance(raw, int | float | str):
        raise _type_error(raw, "en dato", "a date")
    if not isinstance(raw, str):
        return _date_from_serial(raw)
    text = _SPACES.sub(" ", _strip(raw))
    if not text:
        return None
    for form, pattern in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        year, day = int(match["y"]), int(match["d"])
        if form == "name":
            month = _MONTHS.get(match["name"].casefold(), 0)
            if not month:
                raise _error(
                    raw,
                    f"Datoen {{v}} har et ukjent månedsnavn («{match['name']}»). {_DATE_HELP_NB}",
                    f'The date {{v}} has an unknown month name ("{match["name"]}"). '
                    f"{_DATE_HELP_EN}",
                )
        else:
            month = int(match["m"])
        if len(match["y"]) == 2:
            year += 2000 if year < TWO_DIGIT_YEAR_PIVOT else 1900
        if form == "slash" and month > 12 and day <= 12:
            raise _error(
                raw,
                "Datoen {v} ser ut til å være skrevet på amerikansk vis (måned/dag/år). "
                f"Skråstrek leses som dag/måned/år. {_DATE_HELP_NB}",
                "The date {v} looks American (month/day/year). A slash date is read as "
                f"day/month/year. {_DATE_HELP_EN}",
                f"{month:02d}.{day:02d}.{year:04d}",
            )
        return _checked_date(raw, year, month, day)
    if re.fullmatch(r"[0-9]+", text):
        raise _error(
            raw,
            f"{{v}} er bare sifre, ikke en dato. {_DATE_HELP_NB}",
            f"{{v}} is digits only, not a date. {_DATE_HELP_EN}",
            _basic_iso_date(text) if len(text) == 8 else None,
        )
    raise _error(
        raw, f"{{v}} er ikke en dato. {_DATE_HELP_NB}", f"{{v}} is not a date. {_DATE_HELP_EN}"
    )


# ---------------------------------------------------------------------------------
# Web and email addresses


def _host_problem(host: str) -> tuple[str, str] | None:
    """Why a host name cannot be on the public internet (nb, en), or None if it can.

    Letters beyond ASCII are allowed (kommune-æøå.no is a valid IDN); each label must
    still be letters, digits and inner hyphens, and the whole must survive IDNA encoding.
    """
    labels = host.removesuffix(".").split(".")
    if len(labels) < 2:
        return (
            "adressen mangler et domene med punktum (som kommune.no)",
            "the address lacks a domain with a dot (such as kommune.no)",
        )
    for label in labels:
        if not label or len(label) > 63:
            return (
                "adressen har et tomt eller for langt ledd",
                "the address has an empty or too long part",
            )
        if label.startswith("-") or label.endswith("-"):
            return (
                f"leddet «{label}» begynner eller slutter med bindestrek",
                f'the part "{label}" starts or ends with a hyphen',
            )
        bad = sorted({ch for ch in label if not (ch.isalnum() or ch == "-")})
        if bad:
            return (
                f"adressen inneholder tegn som ikke er lov i et domenenavn: {' '.join(bad)}",
                f"the address contains characters not allowed in a domain name: {' '.join(bad)}",
            )
    if not re.fullmatch(r"[^\W\d_]{2,}|xn--[a-z0-9-]+", labels[-1], re.IGNORECASE):
        return (
            f"toppdomenet «{labels[-1]}» er ikke gyldig (som .no eller .com)",
            f'the top-level domain "{labels[-1]}" is not valid (such as .no or .com)',
        )
    try:
        host.encode("idna")
    except UnicodeError:
        return "domenenavnet er ikke gyldig", "the domain name is not valid"
    return None


_URL_FORBIDDEN = '<>"{}|\\^`'
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SCHEME_TYPO = re.compile(r"(?i)(https?)(?::/?|//?|:\\\\)(?=[^/\\])")


def parse_url(raw: Raw) -> str | None:
    """A web address (http or https) that can be published in a public catalogue.

    Other schemes are refused because the address is shown as a link: javascript: and
    data: would run in a reader's browser, file: points at someone's disk. A user name
    and password in the address are refused so that they are never published. A bare
    host name ("www.kommune.no") is an error with the https:// address as suggestion,
    not silently completed: http and https are different addresses.

    >>> parse_url("https://www.kongsberg.kommune.no/tjenester"), parse_url("HTTPS://Bø.no")
    ('https://www.kongsberg.kommune.no/tjenester', 'https://bø.no')
    >>> parse_url("www.example.no")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «www.example.no» mangler https://...
    """
    what_nb, what_en = "en nettadresse", "a web address"
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _type_error(raw, what_nb, what_en)
    text = _strip(raw)
    if not text:
        return None
    if any(_is_control(ch) for ch in text):
        raise _error(
            raw,
            "Nettadressen {v} inneholder usynlige kontrolltegn. Skriv den inn på nytt.",
            "The web address {v} contains invisible control characters. Type it again.",
        )
    if any(ch.isspace() for ch in text):
        candidate = re.sub(r"\s", "%20", text)
        raise _error(
            raw,
            "Nettadressen {v} inneholder mellomrom, som ikke er lov i en adresse. Kopier "
            "adressen fra nettleserens adressefelt, eller skriv %20 for hvert mellomrom.",
            "The web address {v} contains spaces, which an address may not. Copy the "
            "address from the browser's address bar, or write %20 for each space.",
            candidate if _valid_url(candidate) else None,
        )
    if not re.match(r"(?i)https?://", text):
        _raise_for_url_start(raw, text)
    forbidden = sorted({ch for ch in text if ch in _URL_FORBIDDEN})
    if forbidden:
        encoded = ", ".join(f"{ch} som %{ord(ch):02X}" for ch in forbidden)
        encoded_en = ", ".join(f"{ch} as %{ord(ch):02X}" for ch in forbidden)
        candidate = "".join(f"%{ord(ch):02X}" if ch in _URL_FORBIDDEN else ch for ch in text)
        raise _error(
            raw,
            f"Nettadressen {{v}} inneholder tegn som må kodes: skriv {encoded}. "
            "Kopier adressen fra nettleserens adressefelt.",
            f"The web address {{v}} contains characters that must be encoded: write "
            f"{encoded_en}. Copy the address from the browser's address bar.",
            candidate if _valid_url(candidate) else None,
        )
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise _error(
            raw,
            "Nettadressen {v} har et %-tegn som ikke følges av to heksadesimale sifre. "
            "Skriv %25 for et prosenttegn.",
            "The web address {v} has a % sign not followed by two hexadecimal digits. "
            "Write %25 for a percent sign.",
        )
    try:
        parts = urlsplit(text)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        raise _error(
            raw,
            "Nettadressen {v} har en ugyldig IPv6-adresse eller hakeparentes [ ] i domenet.",
            "The web address {v} has an invalid IPv6 address or bracket [ ] in its domain.",
        ) from None
    netloc = parts.netloc
    if "@" in netloc:
        raise _error(
            raw,
            "Nettadressen {v} inneholder brukernavn eller passord (før @), som ikke skal "
            "publiseres. Fjern dem fra adressen.",
            "The web address {v} contains a user name or password (before @), which must "
            "not be published. Remove them from the address.",
            urlunsplit((parts.scheme, netloc.rsplit("@", 1)[1], *parts[2:])),
        )
    try:
        port = parts.port
    except ValueError:
        raise _error(
            raw,
            "Nettadressen {v} har et ugyldig portnummer (etter kolon).",
            "The web address {v} has an invalid port number (after the colon).",
        ) from None
    host = parts.hostname or ""
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _error(
                raw,
                "Nettadressen {v} har en ugyldig IPv6-adresse.",
                "The web address {v} has an invalid IPv6 address.",
            ) from None
        shown_host = f"[{host}]"
    elif re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _error(
                raw,
                "Nettadressen {v} har en ugyldig IP-adresse.",
                "The web address {v} has an invalid IP address.",
            ) from None
        shown_host = host
    else:
        problem = _host_problem(host)
        if problem is not None:
            raise _error(
                raw,
                f"{{v}} er ikke en gyldig nettadresse: {problem[0]}.",
                f"{{v}} is not a valid web address: {problem[1]}.",
            )
        shown_host = host
    netloc = shown_host if port is None else f"{shown_host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _valid_url(text: str) -> bool:
    try:
        parse_url(text)
    except CellError:
        return False
    return True


def _raise_for_url_start(raw: str, text: str) -> NoReturn:
    """Explain an address that does not start with http:// or https://."""
    typo = _SCHEME_TYPO.match(text)
    if typo:
        fixed = f"{typo[1].lower()}://{text[typo.end() :]}"
        raise _error(
            raw,
            f"Nettadressen {{v}} har feil etter {typo[1]}: det skal stå {typo[1].lower()}://.",
            f"The web address {{v}} is malformed after {typo[1]}: it should read "
            f"{typo[1].lower()}://.",
            fixed if _valid_url(fixed) else None,
        )
    scheme = _SCHEME.match(text)
    if scheme and scheme[1].lower() in {"http", "https"}:
        raise _error(
            raw,
            f"Nettadressen {{v}} er feil skrevet: den skal begynne med {scheme[1].lower()}:// "
            "og så domenet, som https://www.kommune.no.",
            f"The web address {{v}} is malformed: it should start with {scheme[1].lower()}:// "
            "and then the domain, such as https://www.kommune.no.",
        )
    if scheme and "." not in scheme[1]:
        email = (
            " Bruk kolonnen for e-post til e-postadresser." if scheme[1].lower() == "mailto" else ""
        )
        email_en = " Use the email column for email addresses." if email else ""
        raise _error(
            raw,
            f"{{v}} er ikke en nettadresse: bare adresser som begynner med http:// eller "
            f"https:// er tillatt, ikke {scheme[1]}:.{email}",
            f"{{v}} is not a web address: only addresses starting with http:// or https:// "
            f"are allowed, not {scheme[1]}:.{email_en}",
        )
    fixed = f"https://{text}"
    if _valid_url(fixed):
        raise _error(
            raw,
            "{v} mangler https:// foran. Skriv hele adressen slik nettleseren viser den.",
            "{v} lacks https:// in front. Write the whole address as the browser shows it.",
            fixed,
        )
    raise _error(
        raw,
        "{v} er ikke en nettadresse. Skriv hele adressen, for eksempel https://www.kommune.no.",
        "{v} is not a web address. Write the whole address, for example https://www.kommune.no.",
    )


_ATEXT = "!#$%&'*+-/=?^_`{|}~"
_MAILTO_LITERAL = "!$'*+-_.~"
"""Characters of a local part that a mailto IRI may hold as they are; others are %-encoded."""


def parse_email(raw: Raw) -> str | None:
    """An email address as a mailto: IRI, the form DCAT-AP-NO wants for a contact point.

    Addresses pasted from Outlook ("Ola Nordmann <ola@kommune.no>") keep only the
    address; a list of addresses is refused, because the column holds one. The check is
    of the syntax people get wrong (no @, spaces, two addresses, a missing domain), not
    of everything RFC 5322 allows: quoted local parts and IP-address domains are
    refused because a municipal contact address never needs them.

    >>> parse_email("postmottak@kongsberg.kommune.no")
    'mailto:postmottak@kongsberg.kommune.no'
    >>> parse_email("Ola Nordmann <Ola.Nordmann@Kommune.NO>"), parse_email("mailto:a@b.no")
    ('mailto:Ola.Nordmann@kommune.no', 'mailto:a@b.no')
    >>> parse_email("ola.kommune.no")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «ola.kommune.no» er ikke en e-postadresse: den mangler @...
    """
    what_nb, what_en = "en e-postadresse", "an email address"
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _type_error(raw, what_nb, what_en)
    text = _strip(raw)
    if not text:
        return None
    named = re.fullmatch(r"[^<>]*<([^<>]*)>", text)
    if named:
        text = _strip(named[1])
    if text[:7].casefold() == "mailto:":
        text = text[7:]
    if not text:
        raise _error(raw, "{v} mangler adressen.", "{v} lacks the address.")
    if text.count("@") > 1 or re.search(r"[,;]", text):
        raise _error(
            raw,
            "{v} ser ut som flere e-postadresser. Skriv bare én adresse i cellen.",
            "{v} looks like several email addresses. Write only one address in the cell.",
        )
    if any(ch.isspace() or _is_control(ch) for ch in text):
        raise _error(
            raw,
            "E-postadressen {v} inneholder mellomrom. Fjern dem.",
            "The email address {v} contains spaces. Remove them.",
            "".join(ch for ch in text if not (ch.isspace() or _is_control(ch))) or None,
        )
    if "@" not in text:
        raise _error(
            raw,
            "{v} er ikke en e-postadresse: den mangler @ (som i postmottak@kommune.no).",
            "{v} is not an email address: it lacks an @ (as in postmottak@kommune.no).",
        )
    local, domain = text.split("@")
    local_ok = (
        0 < len(local) <= 64
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and all(ch.isalnum() or ch == "." or ch in _ATEXT for ch in local)
    )
    if not local_ok:
        raise _error(
            raw,
            "E-postadressen {v} har en ugyldig del foran @. Den kan ha bokstaver, sifre og "
            "tegn som . _ - +, men ikke to punktum etter hverandre eller punktum først/sist.",
            "The email address {v} has an invalid part before the @. It may have letters, "
            "digits and characters such as . _ - +, but not two dots in a row or a dot first "
            "or last.",
        )
    problem = _host_problem(domain)
    if problem is not None:
        raise _error(
            raw,
            f"E-postadressen {{v}} har et ugyldig domene etter @: {problem[0]}.",
            f"The email address {{v}} has an invalid domain after the @: {problem[1]}.",
        )
    encoded = "".join(
        ch if ch.isalnum() or ch in _MAILTO_LITERAL else quote(ch, safe="") for ch in local
    )
    return f"mailto:{encoded}@{domain.lower()}"


# ---------------------------------------------------------------------------------
# Municipalities


def _name_key(name: str) -> str:
    """A name as compared: case, spacing and the kind of hyphen do not matter."""
    key = unicodedata.normalize("NFC", name).casefold()
    key = re.sub(r"[\u2010-\u2015\u2212]", "-", key)
    key = re.sub(r"\s+", " ", key).strip()
    key = re.sub(r" ?- ?", "-", key)
    return key.removesuffix(" kommune")


def _name_keys(name: str) -> set[str]:
    """A municipality name and, for names in several languages, each language's name."""
    return {_name_key(name)} | {_name_key(part) for part in name.split(" - ")}


def _folded(key: str) -> str:
    """Without accents, for "did you mean": "tromso" should find Tromsø."""
    key = key.replace("ø", "o").replace("æ", "ae").replace("å", "a")
    return "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))


def _one_digit_off(a: str, b: str) -> bool:
    """Numbers a typo apart: one digit changed, or two neighbours swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 1 or (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


_MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class MunicipalityRegister:
    """The municipality numbers and names a cell may refer to.

    Build it once per load (:func:`municipality_register`) and call :meth:`parse` for
    each cell: the name index is built once, on the first name.
    """

    known: Mapping[str, str]
    """Current four-digit number → name."""
    successors: Mapping[str, str] = field(default_factory=dict)
    """Former number → the number that replaced it."""
    counties: Mapping[str, str] = field(default_factory=dict)
    """Current number → county name, to tell municipalities of the same name apart."""
    replaced_on: Mapping[str, datetime.date] = field(default_factory=dict)
    """Former number → the day it was replaced, for the warning."""

    @cached_property
    def _by_name(self) -> dict[str, tuple[str, ...]]:
        index: dict[str, list[str]] = {}
        for number, name in sorted(self.known.items()):
            for key in _name_keys(name):
                index.setdefault(key, []).append(number)
        return {key: tuple(numbers) for key, numbers in index.items()}

    @cached_property
    def _by_folded_name(self) -> dict[str, tuple[str, ...]]:
        index: dict[str, set[str]] = {}
        for key, numbers in self._by_name.items():
            index.setdefault(_folded(key), set()).update(numbers)
        return {key: tuple(sorted(numbers)) for key, numbers in index.items()}

    def _described(self, number: str) -> str:
        county = self.counties.get(number)
        return f"{number} {self.known[number]}" + (f" ({county})" if county else "")

    def parse(self, raw: Raw) -> tuple[str, CellWarning | None] | None:
        """The current municipality number a cell means, and a warning if it is outdated.

        >>> register = MunicipalityRegister({"0301": "Oslo", "3301": "Drammen"}, {"3005": "3301"})
        >>> register.parse(301), register.parse("Oslo kommune")
        (('0301', None), ('0301', None))
        >>> number, warning = register.parse("3005")
        >>> print(warning.message_en)
        Municipality number 3005 was replaced by 3301 Drammen. 3301 is used;
        write 3301 in the spreadsheet to remove this warning.
        """
        what_nb, what_en = "et kommunenummer", "a municipality number"
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise _type_error(raw, what_nb, what_en)
        if not isinstance(raw, str):
            whole = not isinstance(raw, float) or (math.isfinite(raw) and raw.is_integer())
            if not (whole and 0 < int(raw) <= 9999):
                raise _error(
                    raw,
                    "{v} er ikke et kommunenummer: det har fire sifre, som 0301 eller 3303.",
                    "{v} is not a municipality number: it has four digits, such as 0301 or 3303.",
                )
            return self._number(raw, f"{int(raw):04d}")
        text = _SPACES.sub(" ", _strip(raw))
        if not text:
            return None
        both = re.fullmatch(r"([0-9]{1,4})(?:(?: +| *[-–:] *)([^\W\d_].*))?", text)
        if both:
            number, warning = self._number(raw, both[1].zfill(4))
            if both[2] is not None:
                self._check_name(raw, number, both[2])
            return number, warning
        if re.fullmatch(r"[0-9 ]+", text):
            raise _error(
                raw,
                "{v} er ikke et kommunenummer: det har fire sifre, som 0301 eller 3303.",
                "{v} is not a municipality number: it has four digits, such as 0301 or 3303.",
                text.replace(" ", "") if len(text.replace(" ", "")) == 4 else None,
            )
        return self._name(raw, text), None

    def _number(self, raw: Raw, number: str) -> tuple[str, CellWarning | None]:
        if number in self.known:
            return number, None
        current, seen = number, set[str]()
        while current in self.successors and current not in seen:
            seen.add(current)
            current = self.successors[current]
        if current != number and current in self.known:
            return current, self._replaced_warning(number, current)
        close = sorted(n for n in self.known if _one_digit_off(number, n))[:_MAX_SUGGESTIONS]
        hint_nb = f" Mente du {' eller '.join(map(self._described, close))}?" if close else ""
        hint_en = f" Did you mean {' or '.join(map(self._described, close))}?" if close else ""
        raise _error(
            raw,
            f"{{v}}: kommunenummer {number} finnes ikke, verken nå eller som tidligere nummer "
            f"med en etterfølger.{hint_nb} Se gjeldende kommunenummer hos Kartverket eller SSB.",
            f"{{v}}: municipality number {number} does not exist, neither now nor as a former "
            f"number with a successor.{hint_en} See the current numbers at Kartverket or "
            "Statistics Norway.",
            ", ".join(f"{n} {self.known[n]}" for n in close) or None,
        )

    def _replaced_warning(self, old: str, new: str) -> CellWarning:
        since = self.replaced_on.get(old)
        since_nb = f" fra {since.day}. {_MONTHS_NB[since.month - 1]} {since.year}" if since else ""
        since_en = f" from {since.day} {_MONTHS_EN[since.month - 1]} {since.year}" if since else ""
        name = self.known[new]
        return CellWarning(
            f"Kommunenummer {old} er erstattet av {new} {name}{since_nb}. {new} er brukt; "
            f"skriv {new} i regnearket for å fjerne denne advarselen.",
            f"Municipality number {old} was replaced by {new} {name}{since_en}. {new} is used; "
            f"write {new} in the spreadsheet to remove this warning.",
        )

    def _check_name(self, raw: Raw, number: str, name: str) -> None:
        """ "3303 Oslo": the number and the name must be the same municipality."""
        if _name_key(name) in _name_keys(self.known[number]):
            return
        other = self._by_name.get(_name_key(name), ())
        also_nb = f" {name} har nummer {', '.join(other)}." if other else ""
        also_en = f" {name} has number {', '.join(other)}." if other else ""
        raise _error(
            raw,
            f"I {{v}} passer ikke navn og nummer sammen: {number} er {self.known[number]}."
            f"{also_nb} Skriv bare nummeret eller bare navnet.",
            f"In {{v}} the name and number do not match: {number} is {self.known[number]}."
            f"{also_en} Write only the number or only the name.",
        )

    def _name(self, raw: Raw, text: str) -> str:
        in_county = re.fullmatch(r"(.+?) *\((.+)\)|(.+?) i (.+)", text)
        candidates = self._by_name.get(_name_key(text), ())
        same_name: tuple[str, ...] = ()
        if not candidates and in_county:
            # "Våler (Østfold)", "Våler i Østfold": the county tells namesakes apart.
            same_name = self._by_name.get(_name_key(in_county[1] or in_county[3]), ())
            county = _name_key(in_county[2] or in_county[4])
            candidates = tuple(
                n for n in same_name if county in _name_keys(self.counties.get(n, ""))
            )
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            listed = ", ".join(map(self._described, candidates))
            raise _error(
                raw,
                f"Det finnes flere kommuner som heter {{v}}: {listed}. Skriv kommunenummeret.",
                f"There are several municipalities called {{v}}: {listed}. Write the "
                "municipality number.",
                ", ".join(f"{n} {self.known[n]}" for n in candidates),
            )
        folded = _folded(_name_key(text))
        close_keys = difflib.get_close_matches(
            folded, self._by_folded_name, n=_MAX_SUGGESTIONS, cutoff=0.75
        )
        close = list(same_name) or list(
            dict.fromkeys(n for key in close_keys for n in self._by_folded_name[key])
        )
        hint_nb = f" Mente du {' eller '.join(map(self._described, close))}?" if close else ""
        hint_en = f" Did you mean {' or '.join(map(self._described, close))}?" if close else ""
        raise _error(
            raw,
            f"Fant ingen kommune som heter {{v}}.{hint_nb} Skriv kommunenummeret eller navnet "
            "slik det står i listen.",
            f"No municipality is called {{v}}.{hint_en} Write the municipality number or the "
            "name as it appears in the list.",
            ", ".join(f"{n} {self.known[n]}" for n in close) or None,
        )


def parse_municipality_number(
    raw: Raw,
    known: Mapping[str, str],
    successors: Mapping[str, str],
    *,
    counties: Mapping[str, str] | None = None,
    replaced_on: Mapping[str, datetime.date] | None = None,
) -> tuple[str, CellWarning | None] | None:
    """A current four-digit municipality number, from a number, a name or both.

    Excel drops the leading zero of 0301 when the column is a number column, so 301
    means 0301. A number that was replaced (the 2024 county split renumbered 114
    municipalities) is still understood, with a warning naming the new number, because
    older spreadsheets are full of them. A name that several municipalities share
    (Våler, Herøy) is an error listing them: guessing would attach data to the wrong
    municipality. For many cells, build a :class:`MunicipalityRegister` once instead.

    >>> known = {"0301": "Oslo", "3301": "Drammen", "5612": "Guovdageaidnu - Kautokeino"}
    >>> parse_municipality_number(" 0301 ", known, {}), parse_municipality_number(301, known, {})
    (('0301', None), ('0301', None))
    >>> parse_municipality_number("kautokeino", known, {})
    ('5612', None)
    >>> number, warning = parse_municipality_number(
    ...     "3005", known, {"3005": "3301"}, replaced_on={"3005": datetime.date(2024, 1, 1)})
    >>> print(number, warning.message_nb)
    3301 Kommunenummer 3005 er erstattet av 3301 Drammen fra 1. januar 2024. 3301 er brukt;
    skriv 3301 i regnearket for å fjerne denne advarselen.
    """
    return MunicipalityRegister(known, successors, counties or {}, replaced_on or {}).parse(raw)


_REPLACED_ON = re.compile(
    r"from (?P<d>[0-9]{1,2}) (?P<m>[A-Z][a-z]+) (?P<y>[0-9]{4})"
    r"|fra (?P<d2>[0-9]{1,2})\. (?P<m2>[a-zæøå]+) (?P<y2>[0-9]{4})"
)


def _replacement_date(graph: Graph, municipality: Node) -> datetime.date | None:
    """The day a former number was replaced, which the reference data states in prose only.

    municipalities.ttl says it in each former number's rdfs:comment ("... from
    1 January 2024."); if the reference data gains a typed date, read that instead.
    """
    for comment in graph.objects(municipality, RDFS.comment):
        match = _REPLACED_ON.search(str(comment))
        if match:
            month = _MONTHS.get((match["m"] or match["m2"]).casefold(), 0)
            try:
                return datetime.date(
                    int(match["y"] or match["y2"]), month, int(match["d"] or match["d2"])
                )
            except ValueError:
                continue
    return None


def _first_label(graph: Graph, node: Node) -> str:
    labels = [o for o in graph.objects(node, RDFS.label) if isinstance(o, Literal)]
    for wanted in (None, "nb", "no"):
        for label in labels:
            if label.language == wanted:
                return str(label)
    return str(labels[0]) if labels else ""


def municipality_register(graph: Graph) -> MunicipalityRegister:
    """The register from reference data such as ``loaders.reference.reference_graph()``.

    Current municipalities are those with a kg:county; former numbers are those with a
    dct:isReplacedBy, as the ontology defines them.

    >>> from loaders.reference import reference_graph
    >>> register = municipality_register(reference_graph())
    >>> len(register.known), register.successors["3005"], register.counties["3303"]
    (357, '3301', 'Buskerud')
    """
    known: dict[str, str] = {}
    counties: dict[str, str] = {}
    successors: dict[str, str] = {}
    replaced_on: dict[str, datetime.date] = {}
    for municipality, number in graph.subject_objects(KG.municipalityNumber):
        county = graph.value(municipality, KG.county)
        successor = graph.value(municipality, DCTERMS.isReplacedBy)
        if county is not None:
            known[str(number)] = _first_label(graph, municipality)
            counties[str(number)] = _first_label(graph, county)
        elif successor is not None:
            successor_number = graph.value(successor, KG.municipalityNumber)
            if successor_number is not None:
                successors[str(number)] = str(successor_number)
                since = _replacement_date(graph, municipality)
                if since is not None:
                    replaced_on[str(number)] = since
    return MunicipalityRegister(known, successors, counties, replaced_on)


# ---------------------------------------------------------------------------------
# Organisation numbers

_ORGNR_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def organisation_number_check_digit(first_eight: str) -> int | None:
    """The modulus-11 check digit Enhetsregisteret gives, or None if no number can have
    these eight first digits (the remainder would need the digit 10).

    >>> organisation_number_check_digit("99182582")
    7
    """
    total = sum(int(d) * w for d, w in zip(first_eight, _ORGNR_WEIGHTS, strict=True))
    check = 11 - total % 11
    return 0 if check == 11 else None if check == 10 else check


def parse_organisation_number(raw: Raw) -> str | None:
    """A nine-digit organisasjonsnummer whose check digit is right.

    The check digit catches most typos (one wrong digit, two digits swapped) before a
    vendor or municipality is linked to the wrong organisation. A wrong check digit is
    not corrected, because the corrected number would be a different, real
    organisation. Excel often holds the number as a number, and invoices write it as
    "NO 991 825 827 MVA"; both are the same identifier.

    >>> parse_organisation_number("991 825 827"), parse_organisation_number(991825827)
    ('991825827', '991825827')
    >>> parse_organisation_number("NO 991 825 827 MVA"), parse_organisation_number(991825827.0)
    ('991825827', '991825827')
    >>> parse_organisation_number("991 825 828")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: Organisasjonsnummeret «991 825 828» har feil kontrollsiffer...
    """
    what_nb, what_en = "et organisasjonsnummer", "an organisation number"
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _type_error(raw, what_nb, what_en)
    if isinstance(raw, float):
        if not (math.isfinite(raw) and raw.is_integer()):
            raise _error(
                raw,
                "{v} er ikke et organisasjonsnummer: det er ni sifre uten desimaler.",
                "{v} is not an organisation number: it is nine digits without decimals.",
            )
        digits = str(int(raw))
    elif isinstance(raw, int):
        digits = str(raw) if 0 <= raw < 10**_SHOWN_MAX else "-"
    else:
        text = _strip(raw)
        if not text:
            return None
        vat = re.fullmatch(r"(?i)(?:no)?\s*([0-9\s]+?)\s*(?:mva)?", text)
        digits = re.sub(r"\s", "", vat[1]) if vat else text
    if not re.fullmatch(r"[0-9]{9}", digits):
        count = len(re.findall(r"[0-9]", digits))
        only_digits = "".join(re.findall(r"[0-9]", digits))
        if count == 9 and organisation_number_check_digit(only_digits[:8]) == int(only_digits[8]):
            raise _error(
                raw,
                "{v} har tegn som ikke hører hjemme i et organisasjonsnummer. Skriv bare de ni "
                "sifrene, gjerne med mellomrom (991 825 827).",
                "{v} has characters that do not belong in an organisation number. Write only "
                "the nine digits, with spaces if you like (991 825 827).",
                only_digits,
            )
        raise _error(
            raw,
            f"{{v}} er ikke et organisasjonsnummer: det skal være nøyaktig ni sifre "
            f"(som 991 825 827), her er det {count}.",
            f"{{v}} is not an organisation number: it must be exactly nine digits "
            f"(such as 991 825 827), this has {count}.",
        )
    expected = organisation_number_check_digit(digits[:8])
    if expected is None:
        raise _error(
            raw,
            "Organisasjonsnummeret {v} kan ikke være riktig: ingen kontrollsiffer passer til "
            "de åtte første sifrene. Sjekk nummeret i Enhetsregisteret (brreg.no).",
            "The organisation number {v} cannot be right: no check digit fits its first eight "
            "digits. Check the number in Enhetsregisteret (brreg.no).",
        )
    if int(digits[8]) != expected:
        raise _error(
            raw,
            f"Organisasjonsnummeret {{v}} har feil kontrollsiffer (siste siffer er "
            f"{digits[8]}, men skulle vært {expected}), så det er sannsynligvis en skrivefeil. "
            "Sjekk nummeret i Enhetsregisteret (brreg.no).",
            f"The organisation number {{v}} has a wrong check digit (the last digit is "
            f"{digits[8]} but should be {expected}), so it is probably a typo. Check the "
            "number in Enhetsregisteret (brreg.no).",
        )
    return digits
