"""The bundled reference data: complete, real and consistent with the shapes."""

from __future__ import annotations

import io
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from loaders.namespaces import DEFAULT_BASE_IRI, KG
from loaders.reference import reference_graph, reference_sources
from loaders.reference.build import read_municipalities as read_csv
from loaders.reference.build import (
    read_organisation_numbers,
    read_pre_2020,
    render,
    successors,
)
from loaders.validation import validate
from service.store.embedded import KnowledgeStore, open_store
from service.store.sources import load_reference
from tests.conftest import SHARED

BASE = DEFAULT_BASE_IRI


def _municipality(number: str) -> URIRef:
    return URIRef(f"{BASE}id/kommune/{number}")


def test_357_current_municipalities_and_15_counties(reference: Graph) -> None:
    current = set(reference.subjects(KG.county, None))
    assert len(current) == 357
    assert all((m, RDF.type, KG.Municipality) in reference for m in current)
    assert len(set(reference.subjects(RDF.type, KG.County))) == 15
    assert len({reference.value(m, KG.county) for m in current}) == 15


def test_every_municipality_number_is_unique(reference: Graph) -> None:
    numbers = list(reference.objects(None, KG.municipalityNumber))
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("3005", "3301", "Drammen"),  # Viken → Buskerud
        ("3018", "3114", "Våler"),  # the Våler in Østfold, not the one in Innlandet
        ("3803", "3905", "Tønsberg"),  # Vestfold og Telemark → Vestfold
        ("3806", "4001", "Porsgrunn"),  # Vestfold og Telemark → Telemark
        ("5401", "5501", "Tromsø"),  # Troms og Finnmark → Troms
        ("5433", "5616", "Hasvik"),  # Troms og Finnmark → Finnmark
        ("1507", "1508", "Ålesund"),  # Haram split off in 2024
    ],
)
def test_old_2020_number_resolves_to_2024_successor(
    reference: Graph, old: str, new: str, name: str
) -> None:
    former = _municipality(old)
    assert reference.value(former, DCTERMS.isReplacedBy) == _municipality(new)
    assert (_municipality(new), DCTERMS.replaces, former) in reference
    assert reference.value(former, KG.county) is None
    assert name in str(reference.value(former, RDFS.label))
    assert name in str(reference.value(_municipality(new), RDFS.label))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("1201", ("4601",)),  # Bergen, renumbered in 2020
        ("0104", ("3103",)),  # Moss: 0104 → 3002 (2020) → 3103 (2024), chained
        ("1613", ("5055", "5056", "5059")),  # Snillfjord, split between three
        ("1850", ("1806", "1875")),  # Tysfjord, split between Narvik and Hamarøy
    ],
)
def test_numbers_before_2020_point_at_todays_municipalities(
    reference: Graph, old: str, new: tuple[str, ...]
) -> None:
    later = set(reference.objects(_municipality(old), DCTERMS.isReplacedBy))
    assert later == {_municipality(n) for n in new}


def test_a_number_before_2020_is_a_warning_and_a_split_one_asks_which(
    reference: Graph,
) -> None:
    from loaders.cells import CellError
    from loaders.cells.municipalities import municipality_register

    register = municipality_register(reference)
    number, warning = register.parse("1201")  # type: ignore[misc]
    assert number == "4601" and warning is not None and "4601 Bergen" in warning.message_nb
    with pytest.raises(CellError) as split:
        register.parse("1613")
    assert "5055 Heim" in split.value.message_nb and "5059 Orkland" in split.value.message_en


def test_every_former_number_points_at_a_current_municipality(reference: Graph) -> None:
    for former, successor in reference.subject_objects(DCTERMS.isReplacedBy):
        assert reference.value(successor, KG.county) is not None, former


def test_bundled_file_is_what_the_build_makes_from_shared_data(tmp_path: Path) -> None:
    if not (SHARED / "data" / "kommuner-2024.csv").exists():
        pytest.skip("../shared is not beside this checkout")
    current = read_csv(SHARED / "data" / "kommuner-2024.csv")
    former = read_csv(SHARED / "data" / "kommuner-2020.csv")
    orgnrs = read_organisation_numbers(SHARED / "data" / "organisasjonsnummer-kommuner-2020.csv")
    pre_2020 = read_pre_2020(SHARED / "data" / "kommunenummer-2013-2020.csv")
    bundled = next(s.path for s in reference_sources() if s.name == "municipalities")
    assert bundled.read_text(encoding="utf-8") == render(current, former, orgnrs, pre_2020)


def test_every_organisation_number_of_the_2020_table_is_on_its_2024_municipality(
    reference: Graph,
) -> None:
    if not (SHARED / "data" / "organisasjonsnummer-kommuner-2020.csv").exists():
        pytest.skip("../shared is not beside this checkout")
    table = read_organisation_numbers(SHARED / "data" / "organisasjonsnummer-kommuner-2020.csv")
    assert len(table) == 356
    found = {
        str(reference.value(m, KG.municipalityNumber)): str(orgnr)
        for m, orgnr in reference.subject_objects(KG.organisationNumber)
        if (m, RDF.type, KG.Municipality) in reference
    }
    assert sorted(found.values()) == sorted(table.values())
    assert all(reference.value(_municipality(n), KG.county) is not None for n in found)
    # Only the number changed: the same legal entity, the same organisation number.
    assert found["3301"] == table["3005"]  # Drammen
    assert found["5616"] == table["5433"]  # Hasvik
    assert found["1508"] == table["1507"]  # Ålesund, the continuing municipality
    assert found["0301"] == table["0301"] == "958935420"  # Oslo
    assert "1580" not in found  # Haram, re-established in 2024, is not in the table


def test_organisation_numbers_refuse_a_wrong_check_digit(tmp_path: Path) -> None:
    table = tmp_path / "orgnr.csv"
    table.write_text(
        "organisasjonsnummer,navn_i_enhetsregisteret,kommunenummer_2020,kommunenavn\n"
        "958935421,OSLO KOMMUNE,0301,Oslo\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"kontrollsiffer|check digit"):
        read_organisation_numbers(table)


def test_successors_refuses_an_ambiguous_match() -> None:
    from loaders.reference.build import Municipality

    with pytest.raises(ValueError, match="no single successor"):
        successors(
            [Municipality("3099", "Nowhere")],
            [Municipality("3101", "Somewhere", "31")],
        )


def test_reference_data_conforms_to_the_shapes(reference: Graph) -> None:
    report = validate(reference)
    assert report.errors == [], "\n".join(
        f"{p.focus_node} {p.path} {p.value}: {p.message_en}" for p in report.errors[:20]
    )


LOS_WORD = "https://psi.norge.no/los/ord/"
SKOS_IN_SCHEME = URIRef("http://www.w3.org/2004/02/skos/core#inScheme")


def test_statutory_services_link_their_kommune_los_word(reference: Graph) -> None:
    """Issue 19: the services are linked to the municipal services LOS names (its "ord"
    scheme, from KS's Kommune-LOS) where a word exists, and the list grew toward them;
    every word is one of that scheme, every service has a legal basis that is an act or
    a section of one."""
    thematic = URIRef("http://data.europa.eu/m8g/thematicArea")
    legal = URIRef("http://data.europa.eu/m8g/hasLegalResource")
    words_scheme = URIRef("https://psi.norge.no/los/ontologi/ord")
    services = set(reference.subjects(RDF.type, KG.StatutoryService))
    linked = {
        service: {w for w in reference.objects(service, thematic) if str(w).startswith(LOS_WORD)}
        for service in services
    }
    for service, words in linked.items():
        for word in words:
            assert (word, SKOS_IN_SCHEME, words_scheme) in reference, (service, word)
        for basis in reference.objects(service, legal):
            assert (basis, RDF.type, KG.LegalBasis) in reference, (service, basis)
    assert len(services) >= 121
    assert sum(1 for words in linked.values() if words) >= 102
    hjemmesykepleie = URIRef(f"{BASE}id/tjeneste/helsetjenester-i-hjemmet")
    assert URIRef(LOS_WORD + "hjemmesykepleie") in linked[hjemmesykepleie]
    # Every service has a LOS theme as well: its service area (vendor-concentration) is
    # the top-level theme above it, and a word alone would give it none.
    themes_scheme = URIRef("https://psi.norge.no/los/ontologi/tema")
    for service in services:
        assert any(
            (theme, SKOS_IN_SCHEME, themes_scheme) in reference
            for theme in reference.objects(service, thematic)
        ), service


def test_statutory_services_added_from_kommune_los_point_at_a_section(reference: Graph) -> None:
    """The services added in issue 19's second round each rest on a section (not only an
    act), and link the Kommune-LOS word they were added for."""
    legal = URIRef("http://data.europa.eu/m8g/hasLegalResource")
    thematic = URIRef("http://data.europa.eu/m8g/thematicArea")
    part_of = URIRef("http://data.europa.eu/eli/ontology#is_part_of")
    added = {
        "avkjorsel-kommunal-veg": ("veglova-40", "privat-vei"),
        "graving-i-kommunal-veg": ("veglova-32", "gravemelding"),
        "gebyr-byggesak": ("plan-og-bygningsloven-33-1", "gebyr-for-byggesak"),
        "egenandel-helse-og-omsorg": ("helse-og-omsorgstjenesteloven-11-2", "egenbetaling"),
        "bostotte": ("bustottelova-7", "bostotte"),
        "kulturtilbud": ("kulturlova-4", "kulturtilbud"),
        "bandtvang": ("hundeloven-6", "dyrehold"),
        "lokal-luftkvalitet": ("forurensningsforskriften-7-23", "luftkvalitet"),
        "veterinaervakt": ("dyrehelsepersonelloven-3-a", "veterinar"),
        "motorferdsel-i-utmark": ("motorferdselloven-6", "motorferdsel-i-utmark"),
    }
    for service, (section, word) in added.items():
        subject = URIRef(f"{BASE}id/tjeneste/{service}")
        basis = URIRef(f"{BASE}id/hjemmel/{section}")
        assert basis in set(reference.objects(subject, legal)), service
        act = reference.value(basis, part_of)
        assert act is not None and (act, RDF.type, KG.LegalBasis) in reference, section
        assert URIRef(LOS_WORD + word) in set(reference.objects(subject, thematic)), service


class _GraphsOnly:
    """A writer that takes rdflib graphs only (a remote store): ``load_reference``'s
    rdflib path, the reference for its pyoxigraph one."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store

    def replace_graph(self, graph_iri: str, data: Graph) -> None:
        self.store.replace_graph(graph_iri, data)


def _lines(store: KnowledgeStore) -> set[str]:
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.N_QUADS)
    # Blank nodes get fresh labels, and the provenance says when it was loaded.
    return {
        line
        for line in out.getvalue().decode().splitlines()
        if "_:" not in line and "generatedAtTime" not in line
    }


def test_reference_data_parsed_by_pyoxigraph_is_what_rdflib_read() -> None:
    with open_store(None) as fast, open_store(None) as reference:
        load_reference(fast, DEFAULT_BASE_IRI)
        load_reference(_GraphsOnly(reference), DEFAULT_BASE_IRI)
        assert len(fast) == len(reference) > 15_000
        assert _lines(fast) == _lines(reference)


def test_the_reference_graph_from_pyoxigraph_is_what_rdflib_parses() -> None:
    parsed = Graph()
    for source in reference_sources():
        parsed.parse(source.path, format=source.rdf_format, publicID=DEFAULT_BASE_IRI)
    built = reference_graph(DEFAULT_BASE_IRI)
    assert len(built) == len(parsed)
    assert _ground(built) == _ground(parsed)


def _ground(graph: Graph) -> set[tuple[object, ...]]:
    return {t for t in graph if not any(isinstance(term, BNode) for term in t)}
