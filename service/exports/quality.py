"""Metadata quality as data.norge.no rates it (the dcatno-mqa vocabulary), before publishing.

Why compute it here: Felles datakatalog scores every harvested dataset with these metrics
(findability, accessibility, interoperability, reusability, contextuality) and shows the
score to everyone; a municipality should see the same score, and what to fill in to raise
it, before the harvester comes. The metrics and their scores are read from Digdir's files
(``mqa/``), so a metric is always named by its ``dcatno-mqa`` IRI and scored as they score it.

How each metric is measured on what kommunegraf publishes for a dataset (its DCAT-AP-NO
description, ``service.exports.dcat``):

- dataset metrics (keyword, theme, spatial, temporal, access rights, contact point,
  publisher) are met when the dataset has the property;
- distribution metrics (download URL, format, media type, licence, rights, byte size,
  issued, modified) are met when at least one of its distributions has it; a dataset
  without a distribution meets none of them;
- vocabulary alignment: the format is from the EU file-type table and the media type from
  IANA (the template only offers such values); access rights from the EU table; a known
  licence is one of NLOD 2.0, CC BY 4.0 and CC0 (the EU licence table's entries);
- non-proprietary and machine-interpretable formats follow the EU's lists as piveau uses
  them: XLSX is proprietary; PDF and HTML are not machine-interpretable;
- DCAT-AP compliance: the dataset is published, i.e. it has every property Digdir's
  shapes require (the same rule that keeps it out of the catalogue otherwise,
  ``queries/datasets-not-exportable.rq``; the tests check the catalogue against the shapes);
- metrics that need the network or the file itself (is the access or download URL
  reachable, does the file match its format, is its syntax valid) are **not checked**:
  their score is ``None``, never guessed, and they are left out of the total but not of
  the maximum.

Properties the template has no column for yet (spatial, temporal coverage; rights, byte
size, issued and modified dates of a distribution) are reported as not met, with that said:
data.norge.no will count them as missing too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SKOS
from rdflib.term import Node

from loaders.columns import sheet_for_class
from loaders.namespaces import ACCESS_RIGHT, KG, VCARD
from service.exports.dcat import MEDIA_TYPES

MQA = Namespace("https://data.norge.no/vocabulary/dcatno-mqa#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
MQA_DIR = Path(__file__).parent / "mqa"

NOT_CHECKED = frozenset(
    {MQA.accessUrlStatusCode, MQA.downloadUrlStatusCode, MQA.formatMatch, MQA.syntaxValid}
)
"""Metrics that need the network or the file: reported as not checked."""

PROPRIETARY = frozenset({"XLSX"})
NOT_MACHINE_INTERPRETABLE = frozenset({"PDF", "HTML"})
KNOWN_LICENCES = frozenset(
    f"http://publications.europa.eu/resource/authority/licence/{code}"
    for code in ("NLOD_2_0", "CC_BY_4_0", "CC0")
)
DIMENSIONS = ("findability", "accessibility", "interoperability", "reusability", "contextuality")


@dataclass(frozen=True)
class Metric:
    iri: str
    dimension: str
    """The local name of its dqv:Dimension, e.g. "findability"."""
    maximum: int
    """Its dcatno-mqa:trueScore."""
    definition: str


@cache
def metrics() -> tuple[Metric, ...]:
    """Every metric with a default score, in the order of the score file."""
    vocabulary = Graph().parse(MQA_DIR / "dcatno-mqa-vocabulary.ttl", format="turtle")
    scores = Graph().parse(
        MQA_DIR / "dcatno-mqa-vocabulary-default-score-values.ttl", format="turtle"
    )
    found = []
    for metric, score in scores.subject_objects(MQA.trueScore):
        dimension = vocabulary.value(metric, DQV.inDimension)
        definition = vocabulary.value(metric, SKOS.definition)
        assert dimension is not None, metric
        found.append(
            Metric(
                str(metric),
                str(dimension).rsplit("#", 1)[-1],
                int(str(score)),
                str(definition or ""),
            )
        )
    order = {name: number for number, name in enumerate(DIMENSIONS)}
    return tuple(sorted(found, key=lambda m: (order[m.dimension], m.iri)))


def maximum() -> int:
    """The most a dataset can score (every metric met)."""
    return sum(m.maximum for m in metrics())


@dataclass(frozen=True)
class Measured:
    metric: Metric
    met: bool | None
    """None: not checked."""

    @property
    def score(self) -> int | None:
        if self.met is None:
            return None
        return self.metric.maximum if self.met else 0


@dataclass(frozen=True)
class DatasetQuality:
    dataset: str
    name: str
    kommune: str
    published: bool
    measured: tuple[Measured, ...]

    @property
    def total(self) -> int:
        return sum(m.score or 0 for m in self.measured)

    @property
    def maximum(self) -> int:
        return sum(m.metric.maximum for m in self.measured)

    @property
    def maximum_checked(self) -> int:
        return sum(m.metric.maximum for m in self.measured if m.met is not None)

    def missing(self) -> list[Measured]:
        """The metrics not met, largest score first: what to fill in."""
        return sorted((m for m in self.measured if m.met is False), key=lambda m: -m.metric.maximum)

    def as_json(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "title": self.name,
            "published": self.published,
            "total": self.total,
            "maximum": self.maximum,
            "maximumChecked": self.maximum_checked,
            "metrics": [
                {
                    "metric": m.metric.iri,
                    "dimension": str(MQA) + m.metric.dimension,
                    "value": m.met,
                    "checked": m.met is not None,
                    "score": m.score,
                    "maximum": m.metric.maximum,
                }
                for m in self.measured
            ],
        }


def _distribution_values(source: Graph, dataset: Node, prop: URIRef) -> list[Node]:
    return [
        value
        for distribution in source.objects(dataset, DCAT.distribution)
        if (distribution, DCAT.accessURL, None) in source
        for value in source.objects(distribution, prop)
    ]


def _code(node: Node) -> str:
    return str(node).rsplit("/", 1)[-1]


def measure(source: Graph, dataset: Node, published: bool) -> dict[str, bool | None]:
    """Each metric's value for one dataset of ``source`` (the graph the export reads)."""
    has = source.__contains__
    formats = [_code(f) for f in _distribution_values(source, dataset, DCTERMS.format)]
    licences = [str(x) for x in _distribution_values(source, dataset, DCTERMS.license)]
    media = [f for f in formats if f in MEDIA_TYPES]
    rights = [str(r) for r in source.objects(dataset, DCTERMS.accessRights)]
    kommune = source.value(dataset, DCTERMS.publisher)
    contact = any(
        (point, VCARD.hasEmail, None) in source
        for point in source.objects(dataset, DCAT.contactPoint)
    )
    values: dict[str, bool | None] = {
        MQA.keywordAvailability: has((dataset, DCAT.keyword, None)),
        MQA.categoryAvailability: has((dataset, DCAT.theme, None)),
        MQA.spatialAvailability: has((dataset, DCTERMS.spatial, None)),
        MQA.temporalAvailability: has((dataset, DCTERMS.temporal, None)),
        MQA.downloadUrlAvailability: bool(_distribution_values(source, dataset, DCAT.downloadURL)),
        MQA.formatAvailability: bool(formats),
        MQA.mediaTypeAvailability: bool(media),
        MQA.formatMediaTypeVocabularyAlignment: bool(media),
        MQA.formatMediaTypeNonProprietary: any(f not in PROPRIETARY for f in formats),
        MQA.formatMediaTypeMachineInterpretable: any(
            f not in NOT_MACHINE_INTERPRETABLE for f in formats
        ),
        MQA.dcatApCompliance: published,
        MQA.licenceAvailability: bool(licences),
        MQA.knownLicence: any(x in KNOWN_LICENCES for x in licences),
        MQA.accessRightsAvailability: bool(rights),
        MQA.accessRightsVocabularyAlignment: any(r.startswith(str(ACCESS_RIGHT)) for r in rights),
        MQA.contactPointAvailability: contact,
        MQA.publisherAvailability: kommune is not None
        and has((kommune, KG.organisationNumber, None)),
        MQA.rightsAvailability: bool(_distribution_values(source, dataset, DCTERMS.rights)),
        MQA.byteSizeAvailability: bool(_distribution_values(source, dataset, DCAT.byteSize)),
        MQA.dateIssuedAvailability: bool(_distribution_values(source, dataset, DCTERMS.issued)),
        MQA.dateModifiedAvailability: bool(_distribution_values(source, dataset, DCTERMS.modified)),
    }
    for metric in NOT_CHECKED:
        values[str(metric)] = None
    return {str(key): value for key, value in values.items()}


def _name(source: Graph, dataset: Node) -> str:
    fallback = str(dataset)
    for value in source.objects(dataset, URIRef("http://www.w3.org/2000/01/rdf-schema#label")):
        if isinstance(value, Literal) and value.language == "nb":
            return str(value)
        fallback = str(value)
    return fallback


def assess(source: Graph, blocked: set[str]) -> list[DatasetQuality]:
    """Every dataset of ``source``, measured; ``blocked`` are those left out of the catalogue."""
    known = metrics()
    found = []
    for dataset in source.subjects(RDF.type, KG.Dataset):
        values = measure(source, dataset, str(dataset) not in blocked)
        found.append(
            DatasetQuality(
                str(dataset),
                _name(source, dataset),
                str(source.value(dataset, DCTERMS.publisher) or ""),
                str(dataset) not in blocked,
                tuple(Measured(metric, values[metric.iri]) for metric in known),
            )
        )
    return sorted(found, key=lambda q: (q.kommune, q.name.casefold(), q.dataset))


# What a municipality fills in to meet a metric: the template column (by its path in the
# shapes, so the names are the spreadsheet's), or None when the template has no column.
_COLUMN_PATHS: dict[str, object] = {
    str(MQA.keywordAvailability): DCAT.keyword,
    str(MQA.categoryAvailability): DCAT.theme,
    str(MQA.downloadUrlAvailability): (DCAT.distribution, DCAT.downloadURL),
    str(MQA.formatAvailability): (DCAT.distribution, DCTERMS.format),
    str(MQA.mediaTypeAvailability): (DCAT.distribution, DCTERMS.format),
    str(MQA.formatMediaTypeVocabularyAlignment): (DCAT.distribution, DCTERMS.format),
    str(MQA.formatMediaTypeNonProprietary): (DCAT.distribution, DCTERMS.format),
    str(MQA.formatMediaTypeMachineInterpretable): (DCAT.distribution, DCTERMS.format),
    str(MQA.licenceAvailability): (DCAT.distribution, DCTERMS.license),
    str(MQA.knownLicence): (DCAT.distribution, DCTERMS.license),
    str(MQA.accessRightsAvailability): DCTERMS.accessRights,
    str(MQA.accessRightsVocabularyAlignment): DCTERMS.accessRights,
    str(MQA.contactPointAvailability): (DCAT.contactPoint, VCARD.hasEmail),
}


@dataclass(frozen=True)
class Advice:
    nb: str
    en: str


def advice(metric: Metric) -> Advice:
    """What to fill in for ``metric``, in the words of the spreadsheet."""
    iri = metric.iri
    if iri == str(MQA.publisherAvailability):
        return Advice(
            "Kommunen mangler organisasjonsnummer (arket Kommuner).",
            "The municipality has no organisation number (the Municipalities sheet).",
        )
    if iri == str(MQA.dcatApCompliance):
        return Advice(
            "Fyll ut det DCAT-AP-NO krever (tema, beskrivelse, navn på bokmål), så "
            "publiseres datasettet.",
            "Fill in what DCAT-AP-NO requires (theme, description, a Bokmål name); then "
            "the dataset is published.",
        )
    path = _COLUMN_PATHS.get(iri)
    sheet = sheet_for_class(KG.Dataset)
    columns = [c for c in sheet.columns if c.path == path]
    if not columns:
        return Advice(
            "Malen har ingen kolonne for dette ennå; data.norge.no teller det som manglende.",
            "The template has no column for this yet; data.norge.no counts it as missing.",
        )
    column = columns[0]
    extra_nb = extra_en = ""
    if iri in (
        str(MQA.formatMediaTypeNonProprietary),
        str(MQA.formatMediaTypeMachineInterpretable),
    ):
        extra_nb = " (et åpent, maskinlesbart format som CSV, JSON eller GeoJSON)"
        extra_en = " (an open, machine-readable format such as CSV, JSON or GeoJSON)"
    if column.path in ((DCAT.distribution, DCTERMS.format), (DCAT.distribution, DCTERMS.license)):
        extra_nb += "; distribusjonen trenger også en tilgangsadresse"
        extra_en += "; the distribution needs an access URL too"
    return Advice(
        f"Fyll ut kolonnen «{column.name_nb}» i arket «{sheet.name_nb}»{extra_nb}.",
        f"Fill in the column '{column.name_en}' of the sheet '{sheet.name_en}'{extra_en}.",
    )
