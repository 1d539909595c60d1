"""The national demo (loaders/demo) through the real loaders, out as DCAT-AP-NO.

Affordable in CI: the demo's shared catalogue and a sample of municipality
workbooks (the first, the largest, and one from the middle), not all 357 (about
3.5 s per workbook through the loaders). The municipalities' organisation numbers
are the real ones of the reference data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef
from rdflib.namespace import RDF

from loaders.namespaces import DEFAULT_BASE_IRI, KG
from service.exports.dcat import build_catalogues
from service.exports.official_shapes import DCAT_AP_NO, violations
from service.store.embedded import KnowledgeStore
from service.store.sources import check_sources, load_reference, load_sources
from tests.service.in_process import datasets as read_datasets

demo = pytest.importorskip("loaders.demo")
generate = pytest.importorskip("loaders.demo.generate")

BASE = DEFAULT_BASE_IRI


def _sample() -> list[Path]:
    sources: list[Path] = demo.demo_sources()
    shared = [p for p in sources if p.name.startswith("felles")]
    municipal = [p for p in sources if p.name.startswith("kommune-")]
    if not shared or len(municipal) < 3:
        pytest.skip("the demo data has not been generated")
    largest = max(municipal, key=lambda p: p.stat().st_size)
    return [*shared, *dict.fromkeys([municipal[0], largest, municipal[len(municipal) // 2]])]


@pytest.fixture(scope="module")
def demo_store() -> tuple[KnowledgeStore, list[str]]:
    sample = _sample()
    store = KnowledgeStore(None)
    load_reference(store, BASE)
    results = check_sources(sample, BASE)
    assert all(r.report.conforms for r in results), [r.path.name for r in results]
    load_sources(store, results)
    numbers = [p.name.split("-")[1] for p in sample if p.name.startswith("kommune-")]
    return store, numbers


def test_every_sampled_demo_catalogue_conforms(
    demo_store: tuple[KnowledgeStore, list[str]],
) -> None:
    store, numbers = demo_store
    source = read_datasets(store, None, BASE)
    catalogue = build_catalogues(source.graph, source.blockers, BASE)
    assert violations(catalogue, DCAT_AP_NO) == []
    blocked = {URIRef(b.dataset) for b in source.blockers}
    published = set(catalogue.objects(None, URIRef("http://www.w3.org/ns/dcat#dataset")))
    datasets = set(source.graph.subjects(RDF.type, KG.Dataset))
    # Each demo dataset is either in a conforming catalogue or listed with its reason.
    assert datasets == published | blocked and not published & blocked
    assert published, "the sample should publish something"
    for number in numbers:
        kommune = URIRef(f"{BASE}id/kommune/{number}")
        has_catalogue = (URIRef(f"{BASE}catalog/{number}"), None, None) in catalogue
        own = {d for d in datasets if (d, URIRef("http://purl.org/dc/terms/publisher"), kommune)
               in source.graph}  # fmt: skip
        assert has_catalogue == bool(own - blocked)
