"""Typed cell values: every accepted notation, every refusal, and no surprise exceptions."""

from __future__ import annotations

import datetime
import pickle
import unicodedata
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loaders.cells import (
    FALSE_WORDS,
    TRUE_WORDS,
    CellError,
    CellWarning,
    MunicipalityRegister,
    Raw,
    excel_serial_to_date,
    municipality_register,
    organisation_number_check_digit,
    parse_boolean,
    parse_date,
    parse_decimal,
    parse_email,
    parse_integer,
    parse_municipality_number,
    parse_organisation_number,
    parse_percentage,
    parse_text,
    parse_url,
)
from loaders.reference import reference_graph

FUZZ = settings(derandomize=True, max_examples=200, deadline=None, database=None)
"""Deterministic and quick: the same 200 examples on every run, nothing stored on disk."""


@cache
def register() -> MunicipalityRegister:
    """The register of the bundled reference data, built once for all tests."""
    return municipality_register(reference_graph())


def parse_municipality(raw: Raw) -> tuple[str, CellWarning | None] | None:
    return register().parse(raw)


PARSERS: dict[str, Callable[[Raw], object]] = {
    "text": parse_text,
    "integer": parse_integer,
    "decimal": parse_decimal,
    "percentage": parse_percentage,
    "boolean": parse_boolean,
    "date": parse_date,
    "url": parse_url,
    "email": parse_email,
    "municipality": parse_municipality,
    "organisation_number": parse_organisation_number,
}


def error_of(parser: Callable[[Raw], object], raw: Raw) -> CellError:
    with pytest.raises(CellError) as caught:
        parser(raw)
    return caught.value


# ---------------------------------------------------------------------------------
# What every parser shares


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0", "\t\n", "\ufeff", "\u200b "])
def test_an_empty_cell_is_none(name: str, raw: Raw) -> None:
    assert PARSERS[name](raw) is None


def test_cell_error_is_a_value_error_that_pickles() -> None:
    error = CellError("Feil.", "Wrong.", "42")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (copy.message_nb, copy.message_en, copy.suggestion) == ("Feil.", "Wrong.", "42")
    assert str(copy) == "Feil. / Wrong."


# ---------------------------------------------------------------------------------
# Text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Visma Flyt Skole  ", "Visma Flyt Skole"),
        ("to  mellomrom", "to  mellomrom"),  # inner spacing is the user's text
        ("linje 1\nlinje 2", "linje 1\nlinje 2"),
        ("linje 1\r\nlinje 2\rlinje 3", "linje 1\nlinje 2\nlinje 3"),
        ("kolonne\tkolonne", "kolonne\tkolonne"),
        ("Tromsø", "Tromsø"),
        ("a\u030a", "å"),  # NFD from a Mac becomes NFC
        ("\ufeffBOM foran", "BOM foran"),
        (11, "11"),
        (11.0, "11"),
        (2.5, "2.5"),
        (True, "true"),
        (datetime.date(2024, 1, 31), "2024-01-31"),
        (datetime.datetime(2024, 1, 31, 8, 30), "2024-01-31T08:30:00"),
        (datetime.time(8, 30), "08:30:00"),
    ],
)
def test_text(raw: Raw, expected: str) -> None:
    assert parse_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("a\x00b", "NUL character", None),
        ("a\x01b", "U+0001", "ab"),
        ("a\x7fb\x85c", "U+007F, U+0085", "abc"),
        ("\ud800", "U+D800", None),
        (float("nan"), "calculation error", None),
    ],
)
def test_text_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_text, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


# ---------------------------------------------------------------------------------
# Numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234567", 1234567),
        ("1 234 567", 1234567),
        ("1\u00a0234\u00a0567", 1234567),
        ("1\u202f234\u202f567", 1234567),
        ("1\u2009234", 1234),
        ("1.234.567", 1234567),
        ("1.234", 1234),  # a whole-number column: the dot can only separate thousands
        ("-5", -5),
        ("−5", -5),
        ("+5", 5),
        ("0", 0),
        ("007", 7),
        ("12,0", 12),
        ("1.234,00", 1234),
        (1234, 1234),
        (1234.0, 1234),
        (-3.0, -3),
    ],
)
def test_integer(raw: Raw, expected: int) -> None:
    assert parse_integer(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("12 stk", '"stk" does not belong in a number', "12"),
        ("ca. 250 brukere", "does not belong in a number", "250"),
        ("12 %", '"%" does not belong in a number', "12"),
        ("1 234 kr", "a currency does not belong here", "1 234"),
        ("1,5", "not a whole number", None),
        ("1234.5", "not a whole number", None),
        (1.5, "not a whole number", None),
        ("12 34", "groups of three", None),
        ("1.23.456", "groups of three", None),
        ("0 123", "groups of three", None),
        ("1 234.567.890", "both spaces and dots", None),
        ("1  234", "several spaces in a row", "1234"),
        ("--5", "more than one sign", None),
        ("1e6", "is not a whole number", None),
        ("tolv", "is not a whole number", None),
        ("1-2", "is not a whole number", None),
        ("1.234,5,6", "may appear only once", None),
        ("9" * 100, "too long", None),
        (float("inf"), "infinite", None),
        (float("nan"), "calculation error", None),
        (True, "holds a boolean", None),
        (datetime.date(2024, 1, 1), "holds a date", None),
        (datetime.time(8, 0), "holds a time of day", None),
    ],
)
def test_integer_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_integer, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234,50 kr", "1234.50"),
        ("1 234,50", "1234.50"),
        ("kr 1 234,50", "1234.50"),
        ("kr. 1 234,50", "1234.50"),
        ("NOK 1234.50", "1234.50"),
        ("1234,50 NOK", "1234.50"),
        ("100 kroner", "100"),
        ("kr 1 234,-", "1234"),
        ("1 234,-", "1234"),
        ("1234.5", "1234.5"),  # four digits before the dot: it cannot separate thousands
        ("0.125", "0.125"),
        ("1 234.5", "1234.5"),  # the spaces separate thousands, so the dot is decimal
        ("1.234.567", "1234567"),
        ("1.234.567,89", "1234567.89"),
        ("1,5", "1.5"),
        ("1,234", "1.234"),  # the comma is always the decimal separator
        (",5", "0.5"),
        ("-1 234,50", "-1234.50"),
        ("−0,5", "-0.5"),
        ("-kr 5", "-5"),
        ("kr -5", "-5"),
        ("12", "12"),
        (12, "12"),
        (0.1, "0.1"),  # the digits Excel showed, not the binary expansion
        (1234.5, "1234.5"),
        (1e20, "1E+20"),
    ],
)
def test_decimal(raw: Raw, expected: str) -> None:
    assert parse_decimal(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("1.234", "ambiguous", None),
        ("-1.000", "ambiguous", None),
        ("1.234,5,6", "may appear only once", None),
        ("1,234,567", "may appear only once", "1234567"),
        ("1,234.56", "in Norwegian notation", "1234,56"),
        ("5,", "no digits after the decimal comma", "5"),
        ("5.", "no digits after the decimal point", "5"),
        ("kr 100 kr", "currency both before and after", None),
        ("100 EUR", "Only kr and NOK are allowed", "100"),
        ("$100", "Only kr and NOK are allowed", "100"),
        ("1.234 567", "other than digits after the decimal separator", None),
        ("kr", "is not a number", None),
        ("-", "is not a number", None),
        (float("nan"), "calculation error", None),
        (float("-inf"), "infinite", None),
        (False, "holds a boolean", None),
        (datetime.datetime(2024, 1, 1), "holds a date", None),
    ],
)
def test_decimal_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_decimal, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


def test_the_ambiguity_message_spells_out_both_readings() -> None:
    error = error_of(parse_decimal, "1.234")
    assert "1 234" in error.message_nb and "1,234" in error.message_nb
    assert "1 234" in error.message_en and "1,234" in error.message_en


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 %", "0.12"),
        ("12%", "0.12"),
        ("12\u00a0%", "0.12"),
        ("12,5 %", "0.125"),
        ("100 %", "1"),
        ("-3 %", "-0.03"),
        ("0,12", "0.12"),  # without % it is already a fraction
        ("1", "1"),
        (0.12, "0.12"),  # what Excel stores for a cell formatted as 12 %
        (1, "1"),
    ],
)
def test_percentage(raw: Raw, expected: str) -> None:
    assert parse_percentage(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "in_message"),
    [
        ("%", "no number before the %"),
        ("12 %%", "more than one % sign"),
        ("12 prosent", "Units are not allowed"),
        ("1.234 %", "ambiguous"),
        ("kr 12 %", "a currency does not belong here"),
        (True, "holds a boolean"),
    ],
)
def test_percentage_errors(raw: Raw, in_message: str) -> None:
    assert in_message in error_of(parse_percentage, raw).message_en


# ---------------------------------------------------------------------------------
# Booleans


@pytest.mark.parametrize(
    "raw",
    [
        *("ja", "Ja", "JA", "j", "yes", "Y", "x", "X", "true", "TRUE", "sann", "SANN", "1"),
        *("✓", "✔", "✔\ufe0f", "☑", "✅", " ja ", 1, 1.0, True),
    ],
)
def test_boolean_true(raw: Raw) -> None:
    assert parse_boolean(raw) is True


@pytest.mark.parametrize(
    "raw",
    [
        *("nei", "Nei", "n", "no", "NO", "false", "FALSE", "usann", "USANN", "0"),
        *("✗", "✘", "❌", "☐", 0, 0.0, False),
    ],
)
def test_boolean_false(raw: Raw) -> None:
    assert parse_boolean(raw) is False


@pytest.mark.parametrize(
    "raw", ["kanskje", "jaa", "-", "?", "2", 2, 0.5, float("nan"), datetime.date(2024, 1, 1)]
)
def test_boolean_errors_list_the_accepted_words(raw: Raw) -> None:
    error = error_of(parse_boolean, raw)
    for word in ("ja", "nei", "yes/no", "sann/usann", "1/0", "x", "✓", "✗"):
        assert word in error.message_en
    assert "ja eller nei" in error.message_nb


def test_boolean_words_do_not_overlap() -> None:
    assert not TRUE_WORDS & FALSE_WORDS
    assert all(word == word.casefold() for word in TRUE_WORDS | FALSE_WORDS)


# ---------------------------------------------------------------------------------
# Dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31.12.2027", datetime.date(2027, 12, 31)),
        ("1.2.2024", datetime.date(2024, 2, 1)),
        ("01.02.2024", datetime.date(2024, 2, 1)),
        ("29.02.2024", datetime.date(2024, 2, 29)),
        ("31.12.27", datetime.date(2027, 12, 31)),
        ("1.1.00", datetime.date(2000, 1, 1)),
        ("1.1.29", datetime.date(2029, 1, 1)),  # Excel's pivot: 00–29 are 20xx
        ("1.1.30", datetime.date(1930, 1, 1)),  # ... and 30–99 are 19xx
        ("31.12.99", datetime.date(1999, 12, 31)),
        ("31.12.2027 14:30", datetime.date(2027, 12, 31)),
        ("31.12.2027 kl. 14.30", datetime.date(2027, 12, 31)),
        ("2027-12-31", datetime.date(2027, 12, 31)),
        ("2027-12-31T14:30:00", datetime.date(2027, 12, 31)),
        ("2027-12-31 14:30:00", datetime.date(2027, 12, 31)),
        ("2027-12-31T23:30:00.123+01:00", datetime.date(2027, 12, 31)),  # as written
        ("2027-12-31T23:30Z", datetime.date(2027, 12, 31)),
        ("31/12/2027", datetime.date(2027, 12, 31)),
        ("03/04/2024", datetime.date(2024, 4, 3)),  # day first, as in Norway
        ("3/4/24", datetime.date(2024, 4, 3)),
        ("31-12-2027", datetime.date(2027, 12, 31)),
        ("31. desember 2027", datetime.date(2027, 12, 31)),
        ("1. jan. 2024", datetime.date(2024, 1, 1)),
        ("1 mai 2024", datetime.date(2024, 5, 1)),
        ("1. Okt 2024", datetime.date(2024, 10, 1)),
        ("1 October 2024", datetime.date(2024, 10, 1)),
        ("\u00a031.12.2027\u00a0", datetime.date(2027, 12, 31)),
        (datetime.date(2027, 12, 31), datetime.date(2027, 12, 31)),
        (datetime.datetime(2027, 12, 31, 23, 59), datetime.date(2027, 12, 31)),
        (1, datetime.date(1900, 1, 1)),
        (59, datetime.date(1900, 2, 28)),
        (61, datetime.date(1900, 3, 1)),  # after Excel's fake 29 February 1900
        (45292, datetime.date(2024, 1, 1)),
        (45292.0, datetime.date(2024, 1, 1)),
        (45292.99, datetime.date(2024, 1, 1)),  # the fraction is the time of day
        (46752, datetime.date(2027, 12, 31)),
        (2958465, datetime.date(9999, 12, 31)),
    ],
)
def test_date(raw: Raw, expected: datetime.date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("31.02.2024", "February 2024 has 29 days", None),
        ("29.02.2023", "February 2023 has 28 days", None),
        ("31.04.2024", "April 2024 has 30 days", None),
        ("0.1.2024", "January 2024 has 31 days", None),
        ("1.13.2024", "month 13", None),
        ("2024-13-01", "month 13", None),
        ("1.1.0000", "year that does not exist", None),
        ("12/31/2024", "looks American", "31.12.2024"),
        ("31. foo 2024", 'unknown month name ("foo")', None),
        ("20240131", "digits only", "2024-01-31"),
        ("2024", "digits only", None),
        ("i går", "is not a date", None),
        ("31.12", "is not a date", None),
        ("2024-12", "is not a date", None),
        (60, "29 February 1900, a day that does not exist", None),
        (0, "a number below 1 is a time of day", None),
        (0.5, "a number below 1 is a time of day", None),
        (-1, "from 1 (1 Jan 1900) to 2958465", None),
        (2958466, "from 1 (1 Jan 1900) to 2958465", None),
        (20240131, "is not a date", "2024-01-31"),
        (2027, "looks like a year", "2027-12-31"),
        (2027.0, "looks like a year", "2027-12-31"),
        (float("nan"), "calculation error", None),
        (True, "holds a boolean", None),
        (datetime.time(8, 0), "holds a time of day", None),
    ],
)
def test_date_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_date, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


def test_an_impossible_date_says_why_in_norwegian() -> None:
    error = error_of(parse_date, "31.02.2024")
    assert error.message_nb.startswith(
        "Datoen «31.02.2024» finnes ikke: februar 2024 har 29 dager."
    )
    assert "dd.mm.åååå" in error.message_nb


def test_excel_serials_match_excel_around_the_fake_leap_day() -> None:
    # Excel shows serial 59 as 28.02.1900 and 61 as 01.03.1900, and from there on
    # serial n is n days after 30.12.1899 (which is why that epoch is the usual one).
    assert excel_serial_to_date(61) == datetime.date(1899, 12, 30) + datetime.timedelta(61)
    assert excel_serial_to_date(59) == datetime.date(1900, 2, 28)


# ---------------------------------------------------------------------------------
# Web and email addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.kongsberg.kommune.no/", "https://www.kongsberg.kommune.no/"),
        ("http://example.no", "http://example.no"),
        ("https://example.no/sti?a=1&b=2#del", "https://example.no/sti?a=1&b=2#del"),
        ("HTTPS://WWW.Example.NO/Sti", "https://www.example.no/Sti"),  # the path keeps case
        ("https://bø.kommune.no/tjenester", "https://bø.kommune.no/tjenester"),
        ("https://kommune-æøå.no/side/æ", "https://kommune-æøå.no/side/æ"),
        ("https://xn--b-5ga.no/", "https://xn--b-5ga.no/"),
        ("https://example.no:8443/a%20b", "https://example.no:8443/a%20b"),
        ("http://10.0.0.1/", "http://10.0.0.1/"),
        ("http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080/"),
        (" https://example.no ", "https://example.no"),
    ],
)
def test_url(raw: Raw, expected: str) -> None:
    assert parse_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("www.example.no", "lacks https://", "https://www.example.no"),
        (
            "kongsberg.kommune.no/tjenester",
            "lacks https://",
            "https://kongsberg.kommune.no/tjenester",
        ),
        ("javascript:alert(1)", "not javascript:", None),
        ("JavaScript:alert(1)", "not JavaScript:", None),
        ("data:text/html,<script>", "not data:", None),
        ("file:///etc/passwd", "not file:", None),
        ("ftp://example.no/", "not ftp:", None),
        ("mailto:post@example.no", "Use the email column", None),
        ("https//example.no", "malformed after https", "https://example.no"),
        ("https:/example.no", "malformed after https", "https://example.no"),
        ("http:\\\\example.no", "malformed after http", "http://example.no"),
        ("https:///example.no", "lacks a domain with a dot", None),
        ("https://example.no/min side", "contains spaces", "https://example.no/min%20side"),
        ("https://exa mple.no/", "contains spaces", None),
        ("https://ola:hemmelig@example.no/", "user name or password", "https://example.no/"),
        ("https://example.no:99999/", "invalid port", None),
        ("https://example.no:abc/", "invalid port", None),
        ("https://localhost/", "lacks a domain with a dot", None),
        ("https://", "lacks a domain with a dot", None),
        ("https://-x.no/", "starts or ends with a hyphen", None),
        ("https://ex_ample.no/", "not allowed in a domain name: _", None),
        ("https://example.n0/", "top-level domain", None),
        ("https://" + "a" * 64 + ".no/", "too long", None),
        ("https://999.0.0.1/", "invalid IP address", None),
        ("https://[::zz]/", "invalid IPv6 address or bracket", None),
        ("https://[::1/", "invalid IPv6 address or bracket", None),
        ("https://example.no/<script>", "must be encoded", "https://example.no/%3Cscript%3E"),
        ("https://example.no/100%", "% sign not followed", None),
        ("https://example.no/\x07", "control characters", None),
        ("kommune", "is not a web address", None),
        (42, "holds a number", None),
    ],
)
def test_url_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_url, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postmottak@kongsberg.kommune.no", "mailto:postmottak@kongsberg.kommune.no"),
        ("mailto:postmottak@kommune.no", "mailto:postmottak@kommune.no"),
        ("MAILTO:postmottak@kommune.no", "mailto:postmottak@kommune.no"),
        ("Ola.Nordmann@Kommune.NO", "mailto:Ola.Nordmann@kommune.no"),
        ("Ola Nordmann <ola@kommune.no>", "mailto:ola@kommune.no"),
        ("<ola@kommune.no>", "mailto:ola@kommune.no"),
        ("ola+it@kommune.no", "mailto:ola+it@kommune.no"),
        ("o'brien@kommune.no", "mailto:o'brien@kommune.no"),
        ("a#b?c@kommune.no", "mailto:a%23b%3Fc@kommune.no"),  # would end the IRI's path
        ("bjørn@kommune.no", "mailto:bjørn@kommune.no"),
        ("post@bø.kommune.no", "mailto:post@bø.kommune.no"),
        # RFC 6531 allows any Unicode letter or symbol before the @ (email-validator's
        # reading; the hand-written check before it refused symbols)
        ("o€la@kommune.no", "mailto:o%E2%82%ACla@kommune.no"),
    ],
)
def test_email(raw: Raw, expected: str) -> None:
    assert parse_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("ola.kommune.no", "lacks an @", None),
        ("ola@kommune", "lacks a domain with a dot", None),
        ("ola@@kommune.no", "several email addresses", None),
        ("a@kommune.no; b@kommune.no", "several email addresses", None),
        ("a@kommune.no, b@kommune.no", "several email addresses", None),
        ("ola @kommune.no", "contains spaces", "ola@kommune.no"),
        ("@kommune.no", "invalid part before the @", None),
        (".ola@kommune.no", "invalid part before the @", None),
        ("ola.@kommune.no", "invalid part before the @", None),
        ("o..la@kommune.no", "invalid part before the @", None),
        ('"ola"@kommune.no', "invalid part before the @", None),
        ("o\x7fla@kommune.no", "contains spaces", "ola@kommune.no"),
        ("ola@kommune..no", "empty or too long part", None),
        ("ola@[10.0.0.1]", "not allowed in a domain name", None),
        ("ola@-kommune.no", "starts or ends with a hyphen", None),
        ("mailto:", "lacks the address", None),
        (42, "holds a number", None),
    ],
)
def test_email_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_email, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


# ---------------------------------------------------------------------------------
# Municipalities


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0301", "0301"),
        (" 0301 ", "0301"),
        ("301", "0301"),  # Excel dropped the leading zero
        (301, "0301"),
        (301.0, "0301"),
        ("3303", "3303"),
        ("Kongsberg", "3303"),
        ("kongsberg", "3303"),
        ("KONGSBERG", "3303"),
        ("Kongsberg kommune", "3303"),
        ("Oslo", "0301"),
        ("Guovdageaidnu - Kautokeino", "5612"),
        ("Guovdageaidnu-Kautokeino", "5612"),
        ("Kautokeino", "5612"),
        ("guovdageaidnu", "5612"),
        ("Aurskog-Høland", "3226"),
        ("Bø", "1867"),  # only one Bø since Bø in Telemark merged in 2020
        ("Våler (Østfold)", "3114"),
        ("Våler i Innlandet", "3419"),
        ("Herøy (Nordland)", "1818"),
        ("Herøy (Møre og Romsdal)", "1515"),
        ("3303 Kongsberg", "3303"),  # as the template's dropdown writes it
        ("0301 Oslo", "0301"),
        ("0301 - Oslo", "0301"),
        ("5612 Kautokeino", "5612"),
        ("3114 Våler", "3114"),
    ],
)
def test_municipality(raw: Raw, expected: str) -> None:
    assert parse_municipality(raw) == (expected, None)


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("3005", "3301", "Drammen"),
        ("3018", "3114", "Våler"),
        ("3803", "3905", "Tønsberg"),
        ("5401", "5501", "Tromsø"),
        ("5430", "5612", "Guovdageaidnu - Kautokeino"),
        ("1507", "1508", "Ålesund"),
    ],
)
def test_a_former_number_is_its_successor_with_a_warning(old: str, new: str, name: str) -> None:
    for raw in (old, int(old), f"{old} {name.split(' - ')[-1]}"):
        result = parse_municipality(raw)
        assert result is not None
        number, warning = result
        assert number == new
        assert warning == CellWarning(
            f"Kommunenummer {old} er erstattet av {new} {name} fra 1. januar 2024. {new} er "
            f"brukt; skriv {new} i regnearket for å fjerne denne advarselen.",
            f"Municipality number {old} was replaced by {new} {name} from 1 January 2024. "
            f"{new} is used; write {new} in the spreadsheet to remove this warning.",
        )


def test_ambiguous_names_list_every_candidate_with_its_county() -> None:
    error = error_of(parse_municipality, "Våler")
    assert "3114 Våler (Østfold), 3419 Våler (Innlandet)" in error.message_nb
    assert "several municipalities" in error.message_en
    assert error.suggestion == "3114 Våler, 3419 Våler"
    error = error_of(parse_municipality, "herøy")
    assert "1515 Herøy (Møre og Romsdal)" in error.message_en
    assert "1818 Herøy (Nordland - Nordlánnda)" in error.message_en


def test_only_two_names_are_shared_in_the_reference_data() -> None:
    names: dict[str, list[str]] = {}
    for number, name in register().known.items():
        names.setdefault(name, []).append(number)
    assert sorted(name for name, numbers in names.items() if len(numbers) > 1) == ["Herøy", "Våler"]


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("0000", "0000 does not exist", None),
        (1, '"1": municipality number 0001 does not exist', "0301 Oslo"),
        ("3302", "Did you mean 3301 Drammen (Buskerud) or 3303 Kongsberg", "3301 Drammen"),
        ("0302", "Did you mean 0301 Oslo (Oslo)?", "0301 Oslo"),
        ("12345", "four digits", None),
        ("03 01", "four digits", "0301"),
        (12345, "four digits", None),
        (0, "four digits", None),
        (-301, "four digits", None),
        (3.5, "four digits", None),
        (float("nan"), "four digits", None),
        ("Tromso", "Did you mean 5501 Tromsø", "5501 Tromsø"),
        ("Kongsbergg", "Did you mean 3303 Kongsberg", "3303 Kongsberg"),
        ("Drammn", "Did you mean 3301 Drammen (Buskerud)?", "3301 Drammen"),
        ("Atlantis", "No municipality is called", None),
        ("Våler (Vestland)", "Did you mean 3114 Våler (Østfold) or 3419 Våler", "3114 Våler"),
        ("3303 Oslo", "3303 is Kongsberg. Oslo has number 0301", None),
        ("3303 Atlantis", "3303 is Kongsberg.", None),
        (True, "holds a boolean", None),
        (datetime.date(2024, 1, 1), "holds a date", None),
    ],
)
def test_municipality_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    """``suggestion`` is the first (closest) of the suggested values."""
    error = error_of(parse_municipality, raw)
    assert in_message in error.message_en
    first = error.suggestion.split(", ")[0] if error.suggestion else None
    assert first == suggestion


def test_parse_municipality_number_takes_plain_mappings() -> None:
    known = {"3301": "Drammen", "3303": "Kongsberg", "3114": "Våler", "3419": "Våler"}
    successors = {"0602": "3005", "3005": "3301"}  # a chain through two reforms
    assert parse_municipality_number(3303, known, successors) == ("3303", None)
    result = parse_municipality_number("0602", known, successors)
    assert result is not None
    assert result[0] == "3301"
    assert result[1] is not None
    assert result[1].message_en.startswith("Municipality number 0602 was replaced by 3301 Drammen.")
    error = error_of(lambda raw: parse_municipality_number(raw, known, successors), "Våler")
    assert "3114 Våler, 3419 Våler" in error.message_en  # no counties given: numbers only
    counties = {"3114": "Østfold", "3419": "Innlandet"}
    with pytest.raises(CellError, match=r"3114 Våler \(Østfold\)"):
        parse_municipality_number("Våler", known, successors, counties=counties)


def test_the_register_holds_the_reference_data() -> None:
    reg = register()
    assert len(reg.known) == 357
    # Every number since 2013, chained to today's: 364 retired in 2020, 114 in 2024.
    assert len(reg.successors) == 478
    assert set(reg.successors.values()) <= set(reg.known)
    assert set(reg.replaced_on) == set(reg.successors)
    dates = Counter(reg.replaced_on.values())
    assert dates == {datetime.date(2020, 1, 1): 364, datetime.date(2024, 1, 1): 114}
    assert reg.successors["1201"] == "4601"  # Bergen, through 2020
    assert reg.successors["0602"] == "3301"  # Drammen, through 2020 and 2024
    assert reg.splits["1850"] == ("1806", "1875")  # Tysfjord
    assert reg.counties["3114"] == "Østfold"


# ---------------------------------------------------------------------------------
# Organisation numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("991825827", "991825827"),
        ("991 825 827", "991825827"),
        ("991\u00a0825\u00a0827", "991825827"),
        (" 991825827 ", "991825827"),
        ("NO 991 825 827 MVA", "991825827"),
        ("NO991825827MVA", "991825827"),
        (991825827, "991825827"),
        (991825827.0, "991825827"),
        ("974760673", "974760673"),  # Brønnøysundregistrene
        ("123456785", "123456785"),
    ],
)
def test_organisation_number(raw: Raw, expected: str) -> None:
    assert parse_organisation_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "in_message", "suggestion"),
    [
        ("991825828", "wrong check digit (the last digit is 8 but should be 7)", None),
        ("991 825 826", "wrong check digit", None),
        ("919825827", "wrong check digit", None),  # two digits swapped
        ("123456840", "no check digit fits", None),  # the remainder would need a 10
        ("99182582", "exactly nine digits", None),
        ("9918258270", "exactly nine digits", None),
        (99182582, "exactly nine digits", None),
        (-991825827, "exactly nine digits", None),
        ("991.825.827", "characters that do not belong", "991825827"),
        ("991-825-827", "characters that do not belong", "991825827"),
        ("org 991825827", "characters that do not belong", "991825827"),
        ("org 99182582", "exactly nine digits", None),
        (991825827.5, "nine digits without decimals", None),
        (float("inf"), "nine digits without decimals", None),
        (True, "holds a boolean", None),
    ],
)
def test_organisation_number_errors(raw: Raw, in_message: str, suggestion: str | None) -> None:
    error = error_of(parse_organisation_number, raw)
    assert in_message in error.message_en
    assert error.suggestion == suggestion


def test_the_check_digit_message_is_in_norwegian_too() -> None:
    error = error_of(parse_organisation_number, "991 825 828")
    assert "har feil kontrollsiffer (siste siffer er 8, men skulle vært 7)" in error.message_nb


# ---------------------------------------------------------------------------------
# Properties: whatever arrives, a value or a CellError


def _number_like() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(
        [
            *("1", "23", "456", "0", " ", "\u00a0", "\u202f", ".", ",", "-", "−", "+", "%"),
            *("kr", "NOK", ",-", "e", "stk", "x", "ja", "/", ":", "T", "@", "æ"),
        ]
    )
    return st.lists(pieces, max_size=10).map("".join)


RAW_VALUES: st.SearchStrategy[Raw] = st.one_of(
    st.none(),
    st.text(),
    _number_like(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.from_regex(r"https?://[a-zæøå0-9.:@\[\]%-]{0,20}[/?#]?.{0,10}", fullmatch=True),
    st.from_regex(r"[a-z.+#\"]{0,8}@[a-zæ0-9.\[\]-]{0,12}", fullmatch=True),
)


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(raw=RAW_VALUES)
def test_every_parser_returns_a_value_or_raises_cell_error(name: str, raw: Raw) -> None:
    try:
        PARSERS[name](raw)
    except CellError as error:
        assert error.message_nb and error.message_en
        assert error.message_nb != error.message_en
        assert "«" in error.message_nb and '"' in error.message_en  # the value is quoted


_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "integer": int,
    "decimal": Decimal,
    "percentage": Decimal,
    "boolean": bool,
    "date": datetime.date,
    "url": str,
    "email": str,
    "municipality": tuple,
    "organisation_number": str,
}


@pytest.mark.parametrize("name", PARSERS)
@FUZZ
@given(raw=RAW_VALUES)
def test_every_value_has_the_parser_s_type(name: str, raw: Raw) -> None:
    try:
        value = PARSERS[name](raw)
    except CellError:
        return
    assert value is None or isinstance(value, _TYPES[name])
    if isinstance(value, Decimal):
        assert value.is_finite()
    if name == "url" and isinstance(value, str):
        assert value.startswith(("http://", "https://"))
    if name == "email" and isinstance(value, str):
        assert value.startswith("mailto:") and value.count("@") == 1


_SEPARATORS = st.sampled_from([" ", "\u00a0", "\u202f", "."])
_MINUS = st.sampled_from(["-", "−"])


@FUZZ
@given(number=st.integers(min_value=-(10**15), max_value=10**15), sep=_SEPARATORS, minus=_MINUS)
def test_an_integer_in_norwegian_notation_reads_back(number: int, sep: str, minus: str) -> None:
    text = f"{abs(number):,}".replace(",", sep)
    assert parse_integer((minus if number < 0 else "") + text) == number
    assert parse_integer(float(number) if abs(number) < 2**53 else number) == number


@FUZZ
@given(
    whole=st.integers(min_value=0, max_value=10**12),
    cents=st.integers(min_value=0, max_value=99),
    sep=_SEPARATORS,
    currency=st.sampled_from(["{}", "{} kr", "kr {}", "NOK {}", "{} NOK"]),
)
def test_an_amount_in_norwegian_notation_reads_back(
    whole: int, cents: int, sep: str, currency: str
) -> None:
    text = currency.format(f"{whole:,}".replace(",", sep) + f",{cents:02d}")
    assert parse_decimal(text) == Decimal(whole) + Decimal(cents) / 100


@FUZZ
@given(percent=st.decimals(min_value=-1000, max_value=1000, places=2))
def test_a_percentage_reads_back_as_a_fraction(percent: Decimal) -> None:
    text = f"{percent:f}".replace(".", ",") + " %"
    assert parse_percentage(text) == percent / 100


@FUZZ
@given(day=st.dates())
def test_any_date_written_in_norwegian_or_iso_notation_reads_back(day: datetime.date) -> None:
    assert parse_date(f"{day.day:02d}.{day.month:02d}.{day.year:04d}") == day
    assert parse_date(f"{day.day}.{day.month}.{day.year:04d}") == day
    assert parse_date(f"{day.day:02d}/{day.month:02d}/{day.year:04d}") == day
    assert parse_date(day.isoformat()) == day


@FUZZ
@given(day=st.dates(min_value=datetime.date(1900, 3, 1), max_value=datetime.date(9999, 12, 31)))
def test_an_excel_serial_reads_back(day: datetime.date) -> None:
    serial = (day - datetime.date(1899, 12, 30)).days
    if not 1000 <= serial <= 2999:  # those are refused as years
        assert parse_date(serial) == day
        assert parse_date(serial + 0.75) == day


@FUZZ
@given(first_eight=st.from_regex(r"[0-9]{8}", fullmatch=True), position=st.integers(0, 8))
def test_a_computed_check_digit_passes_and_any_one_digit_typo_fails(
    first_eight: str, position: int
) -> None:
    check = organisation_number_check_digit(first_eight)
    if check is None:
        with pytest.raises(CellError, match="no check digit fits"):
            parse_organisation_number(first_eight + "0")
        return
    number = f"{first_eight}{check}"
    assert parse_organisation_number(number) == number
    assert parse_organisation_number(f"{number[:3]} {number[3:6]} {number[6:]}") == number
    typo = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1 :]
    with pytest.raises(CellError):
        parse_organisation_number(typo)


@FUZZ
@given(text=st.text())
def test_text_without_control_characters_is_kept_as_written(text: str) -> None:
    if any(unicodedata.category(ch) in {"Cc", "Cs"} and ch not in "\t\n" for ch in text):
        return
    value = parse_text(text)
    assert value is None or value == unicodedata.normalize("NFC", value)
    assert value is None or value.replace("\n", "").strip() in unicodedata.normalize(
        "NFC", text.replace("\n", "")
    )


@FUZZ
@given(
    local=st.from_regex(r"[a-z0-9]{1,8}(?:[._+-][a-z0-9]{1,8}){0,2}", fullmatch=True),
    domain=st.from_regex(r"[a-zæøå0-9]{1,10}(?:-[a-z0-9]{1,5})?", fullmatch=True),
    tld=st.sampled_from(["no", "com", "kommune.no"]),
)
def test_a_plain_email_address_reads_back(local: str, domain: str, tld: str) -> None:
    address = f"{local}@{domain}.{tld}"
    assert parse_email(address) == f"mailto:{address}"
    assert parse_email(f"mailto:{address}") == f"mailto:{address}"


def test_every_number_and_unique_name_in_the_reference_data_resolves() -> None:
    reg = register()
    for number, name in reg.known.items():
        assert reg.parse(number) == (number, None)
        assert reg.parse(int(number)) == (number, None)
        assert reg.parse(f"{number} {name}") == (number, None)
        if name not in {"Våler", "Herøy"}:
            assert reg.parse(name) == (number, None)
            assert reg.parse(name.upper()) == (number, None)
    for old, new in reg.successors.items():
        result = reg.parse(old)
        assert result is not None and result[0] == new and result[1] is not None
