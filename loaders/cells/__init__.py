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

from loaders.cells.dates import (
    EXCEL_SERIAL_MAX,
    EXCEL_SERIAL_MIN,
    TWO_DIGIT_YEAR_PIVOT,
    excel_serial_to_date,
    parse_date,
)
from loaders.cells.errors import CellError, CellWarning, Raw
from loaders.cells.municipalities import (
    MunicipalityRegister,
    municipality_register,
    parse_municipality_number,
)
from loaders.cells.numbers import parse_decimal, parse_integer, parse_percentage
from loaders.cells.orgnr import organisation_number_check_digit, parse_organisation_number
from loaders.cells.text import FALSE_WORDS, TRUE_WORDS, parse_boolean, parse_text
from loaders.cells.web import parse_email, parse_url

__all__ = [
    "EXCEL_SERIAL_MAX",
    "EXCEL_SERIAL_MIN",
    "FALSE_WORDS",
    "TRUE_WORDS",
    "TWO_DIGIT_YEAR_PIVOT",
    "CellError",
    "CellWarning",
    "MunicipalityRegister",
    "Raw",
    "excel_serial_to_date",
    "municipality_register",
    "organisation_number_check_digit",
    "parse_boolean",
    "parse_date",
    "parse_decimal",
    "parse_email",
    "parse_integer",
    "parse_municipality_number",
    "parse_organisation_number",
    "parse_percentage",
    "parse_text",
    "parse_url",
]
