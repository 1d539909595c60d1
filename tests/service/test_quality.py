"""Metadata quality (dcatno-mqa) of one dataset, worked out by hand from Digdir's score file."""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, RDFS

from loaders.namespaces import KG, VCARD
from service.exports.quality import MQA, assess, maximum, metrics

BASE = "http://kg.test/"
KOMMUNE = URIRef(BASE + "id/kommune/4203")
DATASET = URIRef(BASE + "id/datasett/4203/barnehager")
DISTRIBUTION = URIRef(f"{DATASET}#distribution-1")
EU = "http://publications.europa.eu/resource/authority/"


def _source(file_type: str = "CSV") -> Graph:
    """The graph the export reads: a published dataset with some fields left empty."""
    graph = Graph()
    graph.add((KOMMUNE, RDF.type, KG.Municipality))
    graph.add((KOMMUNE, KG.organisationNumber, Literal("940493021")))
    graph.add((DATASET, RDF.type, KG.Dataset))
    graph.add((DATASET, RDFS.label, Literal("Barnehager", lang="nb")))
    graph.add((DATASET, DCTERMS.publisher, KOMMUNE))
    graph.add((DATASET, DCTERMS.accessRights, URIRef(EU + "access-right/PUBLIC")))
    graph.add((DATASET, DCAT.theme, URIRef("https://psi.norge.no/los/tema/barnehage")))
    graph.add((DATASET, DCAT.keyword, Literal("barnehage", lang="nb")))
    point = URIRef(f"{DATASET}#contactPoint-1")
    graph.add((DATASET, DCAT.contactPoint, point))
    graph.add((point, VCARD.hasEmail, URIRef("mailto:postmottak@arendal.kommune.no")))
    graph.add((DATASET, DCAT.distribution, DISTRIBUTION))
    graph.add((DISTRIBUTION, DCAT.accessURL, URIRef("https://arendal.example/barnehager")))
    graph.add((DISTRIBUTION, DCTERMS.format, URIRef(EU + "file-type/" + file_type)))
    graph.add((DISTRIBUTION, DCTERMS.license, URIRef(EU + "licence/NLOD_2_0")))
    return graph


def test_one_datasets_score_worked_out_by_hand() -> None:
    [quality] = assess(_source(), blocked=set())
    # From dcatno-mqa-vocabulary-default-score-values.ttl, metric by metric:
    #   findability       theme 30 + keyword 30 + spatial 0 + temporal 0          =  60
    #   accessibility     download URL 0; the two status codes are not checked    =   0
    #   interoperability  DCAT-AP compliance 30 + format 20 + media type 10
    #                     + vocabulary alignment 10 + non-proprietary 20
    #                     + machine-interpretable 20; format match and syntax
    #                     are not checked                                         = 110
    #   reusability       licence 20 + known licence 10 + access rights 10
    #                     + its vocabulary 5 + contact point 20 + publisher 10    =  75
    #   contextuality     rights, byte size, issued, modified: none               =   0
    assert quality.total == 60 + 0 + 110 + 75 + 0 == 245
    assert quality.maximum == maximum() == 435
    assert quality.maximum_checked == 435 - (50 + 30 + 15 + 15) == 325
    scores = {m.metric.iri: m.score for m in quality.measured}
    assert scores[str(MQA.keywordAvailability)] == 30
    assert scores[str(MQA.downloadUrlAvailability)] == 0
    assert scores[str(MQA.accessUrlStatusCode)] is None
    assert {m.metric.iri for m in quality.missing()} == {
        str(MQA.spatialAvailability),
        str(MQA.temporalAvailability),
        str(MQA.downloadUrlAvailability),
        str(MQA.rightsAvailability),
        str(MQA.byteSizeAvailability),
        str(MQA.dateIssuedAvailability),
        str(MQA.dateModifiedAvailability),
    }


def test_a_pdf_is_not_machine_interpretable_and_a_left_out_dataset_not_compliant() -> None:
    [pdf] = assess(_source("PDF"), blocked=set())
    assert pdf.total == 245 - 20
    [left_out] = assess(_source(), blocked={str(DATASET)})
    assert left_out.total == 245 - 30 and not left_out.published


def test_every_scored_metric_of_the_vocabulary_is_measured() -> None:
    scored = {str(m.iri) for m in metrics()}
    assert len(scored) == 25
    [quality] = assess(_source(), blocked=set())
    assert {m.metric.iri for m in quality.measured} == scored
    assert all(iri.startswith(str(MQA)) for iri in scored)
