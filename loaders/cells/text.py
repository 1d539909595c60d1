"""Text and yes/no cells."""

from __future__ import annotations

import datetime
import math
import re
import unicodedata

from loaders.cells.errors import Raw, cell_error, is_control, strip_cell, type_error

# ---------------------------------------------------------------------------------
# Text


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What ``is_control`` finds (categories Cc and Cs) but tab and line feed: one scan in C
for the common text that has none (a national load parses 400,000 cells)."""


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
            raise cell_error(
                raw,
                "Cellen {v} er ikke en gyldig verdi (regnefeil i regnearket?).",
                "The cell {v} is not a valid value (a calculation error in the sheet?).",
            )
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, int):
        try:
            return str(raw)
        except ValueError:  # more digits than int-to-str allows (4300 by default)
            raise cell_error(
                raw, "Tallet {v} er for stort.", "The number {v} is too large."
            ) from None
    if isinstance(raw, datetime.date | datetime.time):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise type_error(raw, "tekst", "text")
    text = strip_cell(raw.replace("\r\n", "\n").replace("\r", "\n"))
    if not text:
        return None
    if "\x00" in text:
        raise cell_error(
            raw,
            "Teksten {v} inneholder et NUL-tegn (\\u0000), som ikke kan lagres. "
            "Skriv teksten inn på nytt i stedet for å lime den inn.",
            "The text {v} contains a NUL character (\\u0000), which cannot be stored. "
            "Type the text again instead of pasting it.",
        )
    bad = (
        sorted({ch for ch in text if is_control(ch) and ch not in "\t\n"})
        if _CONTROL.search(text)
        else []
    )
    if bad:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad)
        cleaned = "".join(ch for ch in text if not is_control(ch) or ch in "\t\n")
        raise cell_error(
            raw,
            f"Teksten {{v}} inneholder usynlige kontrolltegn ({codes}). "
            "Fjern dem, for eksempel ved å skrive teksten inn på nytt.",
            f"The text {{v}} contains invisible control characters ({codes}). "
            "Remove them, for example by typing the text again.",
            strip_cell(cleaned) or None,
        )
    return unicodedata.normalize("NFC", text)


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
    text = strip_cell(raw) if isinstance(raw, str) else ""
    if isinstance(raw, str) and not text:
        return None
    # "✔️" is U+2714 followed by the emoji variation selector U+FE0F.
    word = text.replace("\ufe0f", "").replace("\ufe0e", "").casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise cell_error(
        raw,
        "{v} er ikke ja eller nei. Skriv ja eller nei; også godtatt er "
        "j/n, yes/no, y/n, sann/usann, true/false, 1/0, x eller ✓ (ja) og ✗ (nei).",
        "{v} is not yes or no. Write ja or nei (yes or no); also accepted are "
        "j/n, yes/no, y/n, sann/usann, true/false, 1/0, x or ✓ (yes) and ✗ (no).",
    )
