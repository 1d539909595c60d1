"""Norwegian organisation numbers (Enhetsregisteret), with the modulus-11 check digit."""

from __future__ import annotations

import math
import re

from stdnum.no import orgnr

from loaders.cells.errors import SHOWN_MAX, Raw, cell_error, strip_cell, type_error

# ---------------------------------------------------------------------------------
# Organisation numbers


def organisation_number_check_digit(first_eight: str) -> int | None:
    """The modulus-11 check digit Enhetsregisteret gives, or None if no number can have
    these eight first digits (the remainder would need the digit 10).

    >>> organisation_number_check_digit("99182582")
    7
    """
    # python-stdnum's checksum weighs all nine digits (3 2 7 6 5 4 3 2 1): 0 when valid.
    fitting = (digit for digit in range(10) if orgnr.checksum(f"{first_eight}{digit}") == 0)
    return next(fitting, None)


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
        raise type_error(raw, what_nb, what_en)
    if isinstance(raw, float):
        if not (math.isfinite(raw) and raw.is_integer()):
            raise cell_error(
                raw,
                "{v} er ikke et organisasjonsnummer: det er ni sifre uten desimaler.",
                "{v} is not an organisation number: it is nine digits without decimals.",
            )
        digits = str(int(raw))
    elif isinstance(raw, int):
        digits = str(raw) if 0 <= raw < 10**SHOWN_MAX else "-"
    else:
        text = strip_cell(raw)
        if not text:
            return None
        vat = re.fullmatch(r"(?i)(?:no)?\s*([0-9\s]+?)\s*(?:mva)?", text)
        digits = re.sub(r"\s", "", vat[1]) if vat else text
    if not re.fullmatch(r"[0-9]{9}", digits):
        count = len(re.findall(r"[0-9]", digits))
        only_digits = "".join(re.findall(r"[0-9]", digits))
        if count == 9 and organisation_number_check_digit(only_digits[:8]) == int(only_digits[8]):
            raise cell_error(
                raw,
                "{v} har tegn som ikke hører hjemme i et organisasjonsnummer. Skriv bare de ni "
                "sifrene, gjerne med mellomrom (991 825 827).",
                "{v} has characters that do not belong in an organisation number. Write only "
                "the nine digits, with spaces if you like (991 825 827).",
                only_digits,
            )
        raise cell_error(
            raw,
            f"{{v}} er ikke et organisasjonsnummer: det skal være nøyaktig ni sifre "
            f"(som 991 825 827), her er det {count}.",
            f"{{v}} is not an organisation number: it must be exactly nine digits "
            f"(such as 991 825 827), this has {count}.",
        )
    expected = organisation_number_check_digit(digits[:8])
    if expected is None:
        raise cell_error(
            raw,
            "Organisasjonsnummeret {v} kan ikke være riktig: ingen kontrollsiffer passer til "
            "de åtte første sifrene. Sjekk nummeret i Enhetsregisteret (brreg.no).",
            "The organisation number {v} cannot be right: no check digit fits its first eight "
            "digits. Check the number in Enhetsregisteret (brreg.no).",
        )
    if int(digits[8]) != expected:
        raise cell_error(
            raw,
            f"Organisasjonsnummeret {{v}} har feil kontrollsiffer (siste siffer er "
            f"{digits[8]}, men skulle vært {expected}), så det er sannsynligvis en skrivefeil. "
            "Sjekk nummeret i Enhetsregisteret (brreg.no).",
            f"The organisation number {{v}} has a wrong check digit (the last digit is "
            f"{digits[8]} but should be {expected}), so it is probably a typo. Check the "
            "number in Enhetsregisteret (brreg.no).",
        )
    return digits
