"""Numbers in Norwegian notation: decimal comma, thousands in threes, amounts, percentages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from loaders.cells.errors import (
    CellError,
    Raw,
    cell_error,
    number_or_text,
    strip_cell,
    type_error,
)

# ---------------------------------------------------------------------------------
# Numbers

SPACES = re.compile(r"[ \u00a0\u202f\u2009\u2007]")
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


def _scan_number(raw: Raw, text: str, *, currency: bool, what_nb: str, what_en: str) -> _Number:
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
        raise cell_error(
            raw,
            f"{{v}} er for langt til å være {what_nb}.",
            f"{{v}} is too long to be {what_en}.",
        )
    normal = SPACES.sub(" ", text).replace("\u2212", "-")
    match = _NUMBER.fullmatch(normal)
    if match is None or not re.search(r"[0-9]", match["body"]):
        letters = re.sub(r"[0-9.,\s+\-\u2212]", "", text)
        numbers = _NUMBER_TOKEN.findall(text)
        suggestion = numbers[0] if len(numbers) == 1 else None
        if letters and suggestion:
            units_nb = "Bare kr og NOK er tillatt." if currency else "Enheter er ikke tillatt."
            units_en = "Only kr and NOK are allowed." if currency else "Units are not allowed."
            raise cell_error(
                raw,
                f"{{v}} er ikke {what_nb}: «{letters}» hører ikke hjemme i et tall. "
                f"{units_nb} Skriv bare tallet.",
                f'{{v}} is not {what_en}: "{letters}" does not belong in a number. '
                f"{units_en} Write the number only.",
                suggestion,
            )
        raise cell_error(
            raw,
            f"{{v}} er ikke {what_nb}. {accepted_nb}",
            f"{{v}} is not {what_en}. {accepted_en}",
        )
    signs = match["sign1"] + match["sign2"]
    if len(signs) > 1:
        raise cell_error(
            raw,
            f"{{v}} har mer enn ett fortegn. {accepted_nb}",
            f"{{v}} has more than one sign. {accepted_en}",
        )
    if not currency and (match["cur1"] or match["cur2"] or match["whole"]):
        raise cell_error(
            raw,
            f"{{v}} er ikke {what_nb}: valuta hører ikke hjemme her. Skriv bare tallet.",
            f"{{v}} is not {what_en}: a currency does not belong here. Write the number only.",
            SPACES.sub(" ", re.sub(r"(?i)kroner|kr\.?|nok|[.,]-", "", text)).strip() or None,
        )
    if match["cur1"] and match["cur2"]:
        raise cell_error(
            raw,
            f"{{v}} har valuta både foran og bak. {accepted_nb}",
            f"{{v}} has a currency both before and after the number. {accepted_en}",
        )
    body = match["body"].strip(" ")
    negative = signs == "-"
    if "  " in body:
        raise cell_error(
            raw,
            f"{{v}} har flere mellomrom etter hverandre. {accepted_nb}",
            f"{{v}} has several spaces in a row. {accepted_en}",
            body.replace(" ", ""),
        )
    if body.count(",") > 1 or (body.count(",") == 1 and "." in body.split(",")[1]):
        english = _ENGLISH_THOUSANDS.fullmatch(body)
        raise cell_error(
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
            raise cell_error(
                raw,
                f"{{v}} mangler sifre etter desimalkommaet. {accepted_nb}",
                f"{{v}} has no digits after the decimal comma. {accepted_en}",
                whole,
            )
    elif body.count(".") == 1 and (" " in body or not _AMBIGUOUS_DOT.fullmatch(body)):
        whole, fraction = body.split(".")  # "1234.5", "0.125", "1 234.5": a decimal point
        if not fraction:
            raise cell_error(
                raw,
                f"{{v}} mangler sifre etter desimaltegnet. {accepted_nb}",
                f"{{v}} has no digits after the decimal point. {accepted_en}",
                whole,
            )
    else:
        whole = body
    if " " in whole and "." in whole:
        raise cell_error(
            raw,
            f"{{v}} bruker både mellomrom og punktum som tusenskille; velg ett. {accepted_nb}",
            f"{{v}} uses both spaces and dots to separate thousands; choose one. {accepted_en}",
        )
    separator = " " if " " in whole else "." if "." in whole else None
    if separator is not None and not _GROUPED[separator].fullmatch(whole):
        shown = "mellomrom" if separator == " " else "punktum"
        shown_en = "space" if separator == " " else "dot"
        raise cell_error(
            raw,
            f"{{v}} er ikke {what_nb}: {shown} som tusenskille må dele sifrene i grupper på "
            f"tre (1 234 567). Er det to tall, skriv dem i hver sin celle.",
            f"{{v}} is not {what_en}: a {shown_en} separating thousands must split the digits "
            f"into groups of three (1 234 567). If it is two numbers, put them in two cells.",
        )
    if not re.fullmatch(r"[0-9]*", fraction):
        raise cell_error(
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


def not_finite(raw: float, what_nb: str, what_en: str) -> CellError:
    return cell_error(
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
    loaders.cells.CellError: «12 stk» er ikke et heltall: «stk» hører ikke hjemme i...
    """
    what_nb, what_en = "et heltall", "a whole number"
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise type_error(raw, what_nb, what_en)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise not_finite(raw, what_nb, what_en)
        if not raw.is_integer():
            raise cell_error(
                raw,
                "{v} er ikke et heltall. Skriv tallet uten desimaler.",
                "{v} is not a whole number. Write the number without decimals.",
            )
        return int(raw)
    if not isinstance(raw, str):
        raise type_error(raw, what_nb, what_en)
    text = strip_cell(raw)
    if not text:
        return None
    number = _scan_number(raw, text, currency=False, what_nb=what_nb, what_en=what_en)
    if number.fraction.strip("0"):
        raise cell_error(
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
            raise not_finite(raw, what_nb, what_en)
        # repr gives the shortest text that round-trips, so 0.1 stays 0.1 rather than
        # becoming 0.1000000000000000055511151231257827...
        return Decimal(repr(raw))
    return Decimal(raw)


def _ambiguous(raw: Raw, number: _Number, what_nb: str, what_en: str) -> CellError:
    sign = "-" if number.negative else ""
    thousands, fraction = number.whole[:-3], number.whole[-3:]
    return cell_error(
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
    text = number_or_text(raw, what_nb, what_en)
    if not isinstance(text, str):
        return None if text is None else _decimal_from_number(text, what_nb, what_en)
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
    text = number_or_text(raw, what_nb, what_en)
    if not isinstance(text, str):
        return None if text is None else _decimal_from_number(text, what_nb, what_en)
    percent = re.fullmatch(r"(.*?)[\s]*%", text)
    body = strip_cell(percent[1]) if percent else text
    if not body:
        raise cell_error(
            raw,
            "{v} mangler tallet foran %. Skriv for eksempel 12 % eller 0,12.",
            "{v} has no number before the %. Write for example 12 % or 0,12.",
        )
    if "%" in body:
        raise cell_error(
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
