"""Dates as Norwegian system owners type them, and Excel serial numbers."""

from __future__ import annotations

import calendar
import datetime
import math
import re

from loaders.cells.errors import Raw, cell_error, strip_cell, type_error
from loaders.cells.numbers import SPACES, not_finite

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
MONTHS_NB = (
    *("januar", "februar", "mars", "april", "mai", "juni"),
    *("juli", "august", "september", "oktober", "november", "desember"),
)
MONTHS_EN = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)
MONTHS: dict[str, int] = {"sept": 9}
for _number, _names in enumerate(zip(MONTHS_NB, MONTHS_EN, strict=True), start=1):
    for _name in _names:
        MONTHS[_name.casefold()] = MONTHS[_name[:3].casefold()] = _number

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
        raise not_finite(raw, "en dato", "a date")
    serial = math.floor(raw)  # the fraction is the time of day
    if 1000 <= serial <= 2999 and serial == raw:
        # A year typed alone. As a serial it would be a day in 1902–1908, which nobody
        # means in this data, while the year is a common shorthand for "some time in".
        raise cell_error(
            raw,
            f"{{v}} ser ut som et årstall, ikke en dato. {_DATE_HELP_NB}",
            f"{{v}} looks like a year, not a date. {_DATE_HELP_EN}",
            f"{serial}-12-31",
        )
    if serial == _EXCEL_FAKE_LEAP_DAY:
        raise cell_error(
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
        raise cell_error(
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
        raise cell_error(
            raw,
            f"Datoen {{v}} har et år som ikke finnes ({year}). {_DATE_HELP_NB}",
            f"The date {{v}} has a year that does not exist ({year}). {_DATE_HELP_EN}",
        )
    if not 1 <= month <= 12:
        raise cell_error(
            raw,
            f"Datoen {{v}} har måned {month}, men det finnes bare måned 1–12. {_DATE_HELP_NB}",
            f"The date {{v}} has month {month}, but there are only months 1–12. {_DATE_HELP_EN}",
        )
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        name_nb, name_en = MONTHS_NB[month - 1], MONTHS_EN[month - 1]
        raise cell_error(
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
        raise type_error(raw, "en dato", "a date")
    if not isinstance(raw, str):
        return _date_from_serial(raw)
    text = SPACES.sub(" ", strip_cell(raw))
    if not text:
        return None
    for form, pattern in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        year, day = int(match["y"]), int(match["d"])
        if form == "name":
            month = MONTHS.get(match["name"].casefold(), 0)
            if not month:
                raise cell_error(
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
            raise cell_error(
                raw,
                "Datoen {v} ser ut til å være skrevet på amerikansk vis (måned/dag/år). "
                f"Skråstrek leses som dag/måned/år. {_DATE_HELP_NB}",
                "The date {v} looks American (month/day/year). A slash date is read as "
                f"day/month/year. {_DATE_HELP_EN}",
                f"{month:02d}.{day:02d}.{year:04d}",
            )
        return _checked_date(raw, year, month, day)
    if re.fullmatch(r"[0-9]+", text):
        raise cell_error(
            raw,
            f"{{v}} er bare sifre, ikke en dato. {_DATE_HELP_NB}",
            f"{{v}} is digits only, not a date. {_DATE_HELP_EN}",
            _basic_iso_date(text) if len(text) == 8 else None,
        )
    raise cell_error(
        raw, f"{{v}} er ikke en dato. {_DATE_HELP_NB}", f"{{v}} is not a date. {_DATE_HELP_EN}"
    )
