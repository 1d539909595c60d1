"""The way back: link datasets harvested into Felles datakatalog to ours.

Why: a municipality's spreadsheet can say a dataset is "in Felles datakatalog", but
only the catalogue itself knows. ``kommunegraf import-dcat`` reads a DCAT-AP-NO
catalogue (a file, or a URL such as an export from data.norge.no) and links each of
its datasets to the dataset in the graph that has the same identifier (its
``dct:identifier``, or its IRI), or failing that the same publisher (organisation
number) and title.

How a link is stored: in a named graph of its own per source,
``<base>graph/felles-datakatalog/{source}``, which a new import of the same source
replaces atomically and which never mixes with a municipality's own data. For each
match it holds ``<ours> prov:alternateOf <theirs>`` (two descriptions of the same
dataset), ``<ours> kg:inFellesDatakatalog true`` (so every query that asks that
question, e.g. the canned query ``datasets-not-in-felles-datakatalog``, now answers
from the catalogue rather than from what was typed in), and the harvested record's
identifier, title and publisher. PROV metadata says where the graph came from.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV, RDF, XSD

from loaders.namespaces import KG, bind_prefixes
from loaders.provenance import source_metadata
from loaders.rdf_source import SourceError, parse_untrusted

LIMIT_BYTES = 50 * 1024 * 1024
"""Largest catalogue read: the national catalogue of data.norge.no is well below this."""
TIMEOUT_SECONDS = 60.0
ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8"
_MEDIA_FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
}
_SUFFIX_FORMATS = {
    ".ttl": "turtle",
    ".rdf": "xml",
    ".xml": "xml",
    ".owl": "xml",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".nt": "nt",
}
_ORGNR = re.compile(r"(?<![0-9])([0-9]{9})/?$")

OURS_QUERY = """
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?dataset ?identifier ?title ?orgnr WHERE {
  ?dataset a kg:Dataset .
  OPTIONAL { ?dataset dct:identifier ?identifier }
  OPTIONAL { ?dataset rdfs:label ?title }
  OPTIONAL { ?dataset dct:publisher/kg:organisationNumber ?orgnr }
}
"""


class ImportSourceError(Exception):
    """The catalogue cannot be read or parsed; the message is Norwegian, then English."""

    def __init__(self, nb: str, en: str, *, unreadable: bool) -> None:
        super().__init__(f"{nb} / {en}")
        self.unreadable = unreadable
        """True: the file or URL could not be fetched (usage); False: not valid RDF."""


@dataclass(frozen=True)
class Ours:
    """One of our datasets, with what a harvested record is matched on."""

    dataset: str
    identifiers: frozenset[str]
    titles: frozenset[str]
    organisation_number: str | None


@dataclass
class ImportResult:
    graph_iri: str
    harvested: int
    links: list[tuple[str, str, str]] = field(default_factory=list)
    """(our dataset, harvested dataset, how: "identifier" or "publisher+title")."""
    unmatched: list[str] = field(default_factory=list)
    graph: Graph = field(default_factory=Graph)


def _fold(text: str) -> str:
    """Titles compare without regard to case or spacing.

    >>> _fold("  Barnehage-REGISTER ") == _fold("barnehage-register")
    True
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())


def ours_from_rows(rows: list[dict[str, str]]) -> list[Ours]:
    """Group the rows of ``OURS_QUERY`` by dataset."""
    grouped: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for row in rows:
        ids, titles, orgnrs = grouped.setdefault(row["dataset"], (set(), set(), set()))
        ids.add(row["dataset"])
        if "identifier" in row:
            ids.add(row["identifier"].strip())
        if "title" in row:
            titles.add(_fold(row["title"]))
        if "orgnr" in row:
            orgnrs.add(row["orgnr"])
    return [
        Ours(iri, frozenset(ids), frozenset(titles), min(orgnrs) if orgnrs else None)
        for iri, (ids, titles, orgnrs) in sorted(grouped.items())
    ]


def import_graph_iri(source: str, base_iri: str) -> str:
    """The named graph of one imported catalogue, from its file name or URL.

    >>> import_graph_iri("https://data.norge.no/api/catalogs/123?x=1", "http://x.test/")
    'http://x.test/graph/felles-datakatalog/data-norge-no-api-catalogs-123-x-1'
    >>> import_graph_iri("/tmp/Arendal katalog.ttl", "http://x.test/")
    'http://x.test/graph/felles-datakatalog/arendal-katalog'
    """
    name = re.sub(r"^https?://(www\.)?", "", source) if _is_url(source) else Path(source).stem
    name = name.casefold().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:120] or "katalog"
    return f"{base_iri}graph/felles-datakatalog/{slug}"


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _fetch(url: str) -> tuple[bytes, str | None]:
    try:
        with (
            httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True) as client,
            client.stream("GET", url, headers={"Accept": ACCEPT}) as response,
        ):
            if response.status_code != 200:
                raise ImportSourceError(
                    f"{url} svarte {response.status_code}",
                    f"{url} answered {response.status_code}",
                    unreadable=True,
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > LIMIT_BYTES:
                    raise ImportSourceError(
                        f"{url} er større enn {LIMIT_BYTES} byte",
                        f"{url} is larger than {LIMIT_BYTES} bytes",
                        unreadable=True,
                    )
                chunks.append(chunk)
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            return b"".join(chunks), _MEDIA_FORMATS.get(media)
    except httpx.HTTPError as error:
        raise ImportSourceError(
            f"kan ikke hente {url}: {error}", f"cannot fetch {url}: {error}", unreadable=True
        ) from None


def read_catalogue(source: str) -> tuple[Graph, bytes]:
    """Parse the catalogue at ``source`` (a path or an http(s) URL)."""
    if _is_url(source):
        data, rdf_format = _fetch(source)
        rdf_format = rdf_format or _SUFFIX_FORMATS.get(Path(source.split("?")[0]).suffix.lower())
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > LIMIT_BYTES:
                raise ImportSourceError(
                    f"{source} er større enn {LIMIT_BYTES} byte",
                    f"{source} is larger than {LIMIT_BYTES} bytes",
                    unreadable=True,
                )
            data = path.read_bytes()
        except OSError as error:
            raise ImportSourceError(
                f"kan ikke lese {source}: {error.strerror}",
                f"cannot read {source}: {error.strerror}",
                unreadable=True,
            ) from None
        rdf_format = _SUFFIX_FORMATS.get(path.suffix.lower())
    tried = [rdf_format] if rdf_format else ["turtle", "xml", "json-ld"]
    problems = []
    for candidate in tried:
        try:
            return parse_untrusted(data, candidate), data
        except SourceError as error:  # refused, not unparseable: trying others won't help
            raise ImportSourceError(*str(error).split(" / ", 1), unreadable=False) from None
        except Exception as error:  # every rdflib parser raises its own kind
            problems.append(f"{candidate}: {error}")
    raise ImportSourceError(
        f"{source} er ikke gyldig RDF (Turtle, RDF/XML eller JSON-LD): " + "; ".join(problems),
        f"{source} is not valid RDF (Turtle, RDF/XML or JSON-LD): " + "; ".join(problems),
        unreadable=False,
    )


def _publisher_number(harvested: Graph, dataset: URIRef) -> str | None:
    """The organisation number of the harvested dataset's (or its catalogue's) publisher."""
    publishers = list(harvested.objects(dataset, DCTERMS.publisher))
    for catalogue in harvested.subjects(DCAT.dataset, dataset):
        publishers += list(harvested.objects(catalogue, DCTERMS.publisher))
    for publisher in publishers:
        for identifier in harvested.objects(publisher, DCTERMS.identifier):
            digits = re.sub(r"\s", "", str(identifier))
            if re.fullmatch(r"[0-9]{9}", digits):
                return digits
        found = _ORGNR.search(str(publisher))
        if found:
            return found.group(1)
    return None


def link(harvested: Graph, ours: list[Ours], graph_iri: str) -> ImportResult:
    """Match every harvested dcat:Dataset to ours; build the graph that records the links."""
    by_identifier: dict[str, list[Ours]] = {}
    by_publisher_title: dict[tuple[str, str], list[Ours]] = {}
    for candidate in ours:
        for identifier in candidate.identifiers:
            by_identifier.setdefault(identifier, []).append(candidate)
        if candidate.organisation_number:
            for title in candidate.titles:
                key = (candidate.organisation_number, title)
                by_publisher_title.setdefault(key, []).append(candidate)
    datasets = sorted(
        (d for d in harvested.subjects(RDF.type, DCAT.Dataset) if isinstance(d, URIRef)), key=str
    )
    result = ImportResult(graph_iri, len(datasets))
    out = bind_prefixes(Graph())
    for theirs in datasets:
        orgnr = _publisher_number(harvested, theirs)
        identifiers = {str(theirs)} | {
            str(i).strip() for i in harvested.objects(theirs, DCTERMS.identifier)
        }
        found = {c.dataset: c for i in identifiers for c in by_identifier.get(i, [])}
        how = "identifier"
        if len(found) > 1 and orgnr is not None:
            found = {k: c for k, c in found.items() if c.organisation_number == orgnr}
        if not found and orgnr is not None:
            how = "publisher+title"
            titles = {_fold(str(t)) for t in harvested.objects(theirs, DCTERMS.title)}
            found = {c.dataset: c for t in titles for c in by_publisher_title.get((orgnr, t), [])}
        if len(found) != 1:
            result.unmatched.append(str(theirs))
            continue
        (dataset,) = found
        result.links.append((dataset, str(theirs), how))
        mine = URIRef(dataset)
        out.add((mine, PROV.alternateOf, theirs))
        out.add((mine, KG.inFellesDatakatalog, Literal(True, datatype=XSD.boolean)))
        out.add((theirs, RDF.type, DCAT.Dataset))
        for prop in (DCTERMS.identifier, DCTERMS.title, DCTERMS.publisher):
            for value in harvested.objects(theirs, prop):
                out.add((theirs, prop, value))
    result.graph = out
    return result


def imported_graph(result: ImportResult, source: str, data: bytes) -> Graph:
    """The links plus PROV metadata on where they came from, ready to replace the graph."""
    return result.graph + source_metadata(result.graph_iri, source, data, len(result.graph))
