"""Municipalities by number, name or both, with their successors after mergers."""

from __future__ import annotations

import datetime
import difflib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from rdflib import Graph, Literal
from rdflib.namespace import DCTERMS, RDFS
from rdflib.term import Node

from loaders.cells.dates import MONTHS, MONTHS_EN, MONTHS_NB
from loaders.cells.errors import CellWarning, Raw, cell_error, strip_cell, type_error
from loaders.cells.numbers import SPACES
from loaders.namespaces import KG

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
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Former number of a municipality that was split → today's numbers of its parts."""

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
            raise type_error(raw, what_nb, what_en)
        if not isinstance(raw, str):
            whole = not isinstance(raw, float) or (math.isfinite(raw) and raw.is_integer())
            if not (whole and 0 < int(raw) <= 9999):
                raise cell_error(
                    raw,
                    "{v} er ikke et kommunenummer: det har fire sifre, som 0301 eller 3303.",
                    "{v} is not a municipality number: it has four digits, such as 0301 or 3303.",
                )
            return self._number(raw, f"{int(raw):04d}")
        text = SPACES.sub(" ", strip_cell(raw))
        if not text:
            return None
        both = re.fullmatch(r"([0-9]{1,4})(?:(?: +| *[-–:] *)([^\W\d_].*))?", text)
        if both:
            number, warning = self._number(raw, both[1].zfill(4))
            if both[2] is not None:
                self._check_name(raw, number, both[2])
            return number, warning
        if re.fullmatch(r"[0-9 ]+", text):
            raise cell_error(
                raw,
                "{v} er ikke et kommunenummer: det har fire sifre, som 0301 eller 3303.",
                "{v} is not a municipality number: it has four digits, such as 0301 or 3303.",
                text.replace(" ", "") if len(text.replace(" ", "")) == 4 else None,
            )
        return self._name(raw, text), None

    def _number(self, raw: Raw, number: str) -> tuple[str, CellWarning | None]:
        if number in self.known:
            return number, None
        parts = [n for n in self.splits.get(number, ()) if n in self.known]
        if parts:
            # Guessing would attach the data to the wrong part: the author must choose.
            listed_nb = " eller ".join(map(self._described, parts))
            listed_en = " or ".join(map(self._described, parts))
            raise cell_error(
                raw,
                f"{{v}}: kommunen med nummer {number} ble delt; hvilken av dagens kommuner "
                f"gjelder raden: {listed_nb}? Skriv det nye nummeret.",
                f"{{v}}: the municipality numbered {number} was split; which of today's "
                f"municipalities is the row about: {listed_en}? Write the new number.",
                ", ".join(f"{n} {self.known[n]}" for n in parts),
            )
        current, seen = number, set[str]()
        while current in self.successors and current not in seen:
            seen.add(current)
            current = self.successors[current]
        if current != number and current in self.known:
            return current, self._replaced_warning(number, current)
        close = sorted(n for n in self.known if _one_digit_off(number, n))[:_MAX_SUGGESTIONS]
        hint_nb = f" Mente du {' eller '.join(map(self._described, close))}?" if close else ""
        hint_en = f" Did you mean {' or '.join(map(self._described, close))}?" if close else ""
        raise cell_error(
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
        since_nb = f" fra {since.day}. {MONTHS_NB[since.month - 1]} {since.year}" if since else ""
        since_en = f" from {since.day} {MONTHS_EN[since.month - 1]} {since.year}" if since else ""
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
        raise cell_error(
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
            raise cell_error(
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
        raise cell_error(
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
            month = MONTHS.get((match["m"] or match["m2"]).casefold(), 0)
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
    splits: dict[str, tuple[str, ...]] = {}
    for municipality, number in graph.subject_objects(KG.municipalityNumber):
        county = graph.value(municipality, KG.county)
        later = sorted(
            str(n)
            for successor in graph.objects(municipality, DCTERMS.isReplacedBy)
            for n in graph.objects(successor, KG.municipalityNumber)
        )
        if county is not None:
            known[str(number)] = _first_label(graph, municipality)
            counties[str(number)] = _first_label(graph, county)
        elif len(later) > 1:
            splits[str(number)] = tuple(later)
        elif later:
            successors[str(number)] = later[0]
            since = _replacement_date(graph, municipality)
            if since is not None:
                replaced_on[str(number)] = since
    return MunicipalityRegister(known, successors, counties, replaced_on, splits)
