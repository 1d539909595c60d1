"""The national demo (loaders/demo): generated, committed, loaded through the real path.

The whole demo is loaded once per session (the ``demo_store`` fixture: a real
``kommunegraf serve`` on an empty store); everything here reads that store or
loads a few of its workbooks again.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import pytest

from loaders.demo import CATALOGUE_FILE, DATA_DIR, demo_sources
from loaders.demo.generate import GENERATED_ON, Demo, build, workbook_bytes
from loaders.demo.regions import REGIONS
from loaders.namespaces import DEFAULT_BASE_IRI, KG
from service.settings import Settings
from service.store import demo_load
from service.store.demo_load import load_demo
from service.store.embedded import open_store
from service.store.sources import (
    check_sources,
    defines_shared_names,
    load_sources,
    source_graph_iri,
)
from tests.cli import kommunegraf
from tests.conftest import start_server, stop_server

PREFIXES = """PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX vcard: <http://www.w3.org/2006/vcard/ns#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""


@pytest.fixture(scope="module")
def demo(demo_store: Path) -> Iterator[ox.Store]:
    store = ox.Store.read_only(str(demo_store))
    yield store
    del store


def _rows(store: ox.Store, query: str) -> list[dict[str, str]]:
    results = store.query(PREFIXES + query, use_default_graph_as_union=True)
    assert isinstance(results, ox.QuerySolutions)
    names = [v.value for v in results.variables]
    return [{n: s[n].value for n in names if s[n] is not None} for s in results]


@cache
def _built(scale: int = 1) -> Demo:
    """The generated demo, made once per scale for the tests that read it (seconds each)."""
    return build(scale=scale)


def test_the_committed_workbooks_are_what_the_generator_writes() -> None:
    demo = _built()
    assert len(demo.workbooks) == 357
    committed = {p.name for p in demo_sources()}
    assert committed == {CATALOGUE_FILE} | {w.file_name for w in demo.workbooks.values()}
    for workbook in [demo.catalogue, demo.workbooks["5601"], demo.workbooks["0301"]]:
        assert workbook_bytes(workbook) == (DATA_DIR / workbook.file_name).read_bytes(), (
            f"{workbook.file_name} is out of date: run python -m loaders.demo.generate"
        )


def test_only_the_catalogue_is_a_shared_source() -> None:
    shared = [p.name for p in demo_sources() if defines_shared_names(p)]
    assert shared == [CATALOGUE_FILE]
    assert demo_sources()[0].name == CATALOGUE_FILE


def test_every_demo_workbook_is_its_own_graph(demo: ox.Store, demo_store: Path) -> None:
    graphs = {g.value for g in demo.named_graphs()}
    wanted = {source_graph_iri(p, _base(demo)) for p in demo_sources()}
    assert wanted <= graphs
    assert len(wanted) == 358


def _base(store: ox.Store) -> str:
    """The base IRI the test server loaded the demo with (its port is free-picked)."""
    row = _rows(store, "SELECT ?m WHERE { ?m kg:municipalityNumber '0301' ; kg:county ?c }")
    return row[0]["m"].removesuffix("id/kommune/0301")


def test_the_regions_have_their_real_members(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?name (COUNT(?m) AS ?n) WHERE {
             ?r a kg:Region ; rdfs:label ?name ; org:hasMember ?m } GROUP BY ?name""",
    )
    assert {r["name"]: int(r["n"]) for r in rows} == {r.name: len(r.members) for r in REGIONS}


def _members(demo: ox.Store, region: str) -> list[str]:
    rows = _rows(
        demo,
        f"""SELECT ?nr WHERE {{ ?r rdfs:label "{region}" ; org:hasMember ?m .
             ?m kg:municipalityNumber ?nr }}""",
    )
    return sorted(r["nr"] for r in rows)


def test_regression_cooperations_checked_against_their_own_pages(demo: ox.Store) -> None:
    """Issue 19: Vest-Finnmark Rådet (its current name) has seven members, Porsanger
    was missing; eKommune Sunnmøre is four municipalities, not the fourteen of the
    regional council; Værnesregionen includes Malvik; Snåsa's membership of IKT Indre
    Namdal is unconfirmed, and the data say so; the council of Nome and Midt-Telemark
    has its current name."""
    # Alta, Hammerfest, Loppa, Hasvik, Måsøy, Nordkapp, Porsanger
    assert _members(demo, "Vest-Finnmark Rådet") == [
        "5601", "5603", "5614", "5616", "5618", "5620", "5622"
    ]  # fmt: skip
    # Ålesund, Sula, Giske, Fjord
    assert _members(demo, "eKommune Sunnmøre") == ["1508", "1531", "1532", "1578"]
    assert "5031" in _members(demo, "Værnesregionen")  # Malvik
    assert _members(demo, "Nome og Midt-Telemark interkommunale politiske råd") == ["4018", "4020"]
    assert _members(demo, "Midt-Telemarkrådet") == _members(demo, "Vest-Finnmark regionråd") == []
    described = _rows(
        demo, 'SELECT ?d WHERE { ?r rdfs:label "IKT Indre Namdal" ; dct:description ?d }'
    )
    assert "Snåsa er ikke bekreftet" in described[0]["d"]


def test_vest_finnmark_members_share_one_case_archive_system(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?nr ?app WHERE {
             ?r rdfs:label "Vest-Finnmark Rådet" ; org:hasMember ?m .
             ?m kg:municipalityNumber ?nr .
             ?u kg:usedBy ?m ; kg:application ?a ; kg:hosting ?hosting .
             ?a kg:applicationCategory kg:CategoryCaseArchive ; rdfs:label ?app }""",
    )
    assert len({r["nr"] for r in rows}) == 7
    assert len({r["app"] for r in rows}) == 1, rows


def test_every_municipality_has_a_portfolio_of_30_to_150_systems(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?m (COUNT(?u) AS ?n) WHERE {
             ?m kg:county ?c . OPTIONAL { ?u kg:usedBy ?m } } GROUP BY ?m""",
    )
    sizes = [int(r["n"]) for r in rows]
    assert len(sizes) == 357
    assert min(sizes) >= 30 and max(sizes) <= 150
    assert max(sizes) >= 140, "the largest municipalities should have large portfolios"


def test_some_personal_datasets_lack_a_legal_basis(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?d ?kind WHERE {
             ?d a kg:Dataset ; kg:personalData ?kind .
             FILTER(?kind != kg:NoPersonalData)
             FILTER NOT EXISTS { ?d kg:legalBasisForProcessing ?basis } }""",
    )
    assert len(rows) >= 50
    assert any(r["kind"].endswith("SensitivePersonalData") for r in rows)
    with_basis = _rows(demo, "SELECT ?d WHERE { ?d kg:legalBasisForProcessing ?b } LIMIT 1")
    assert with_basis


def test_some_contracts_end_within_a_year_of_the_generation_date(demo: ox.Store) -> None:
    soon = GENERATED_ON + datetime.timedelta(days=365)
    rows = _rows(
        demo,
        f"""SELECT (COUNT(?c) AS ?n) WHERE {{ ?c a kg:Contract ; <https://schema.org/endDate> ?end .
              FILTER(?end >= "{GENERATED_ON}"^^xsd:date && ?end < "{soon}"^^xsd:date) }}""",
    )
    total = _rows(demo, "SELECT (COUNT(?c) AS ?n) WHERE { ?c a kg:Contract }")
    assert 0 < int(rows[0]["n"]) < int(total[0]["n"]) / 2
    # Issue 22: contracts are records of their own; no usage has a contract end date.
    assert not _rows(demo, "SELECT ?u WHERE { ?u kg:contractEndDate ?end } LIMIT 1")


def test_every_municipality_has_labelled_contracts_and_dated_lifecycles(demo: ox.Store) -> None:
    """Issue 22: contracts as records and dated lifecycles, for every municipality.

    Each count in a subquery of its own: two OPTIONALs side by side joined every contract
    of a municipality with every dated usage before counting (a minute and a half)."""
    rows = _rows(
        demo,
        """PREFIX schema: <https://schema.org/>
        SELECT ?m ?contracts ?dated WHERE {
          ?m a kg:Municipality . FILTER EXISTS { ?any kg:usedBy ?m }  # today's, with a portfolio
          OPTIONAL { SELECT ?m (COUNT(DISTINCT ?c) AS ?contracts) WHERE {
            ?c kg:contractingAuthority ?m ; schema:endDate ?end ;
               dct:description "Oppdiktet demokontrakt (demodata)."@nb } GROUP BY ?m }
          OPTIONAL { SELECT ?m (COUNT(DISTINCT ?u) AS ?dated) WHERE {
            ?u kg:usedBy ?m ; kg:inUseDate ?from } GROUP BY ?m }
        }""",
    )
    assert len(rows) == 357
    assert all(int(r.get("contracts", 0)) > 0 and int(r.get("dated", 0)) > 0 for r in rows)
    gaps = _rows(
        demo,
        f"""SELECT (COUNT(?late) AS ?late) (COUNT(?orphan) AS ?orphan) WHERE {{
          {{ ?late kg:lifecycleStatus kg:LifecyclePhasingOut ; kg:retirementDate ?r .
             FILTER(?r < "{GENERATED_ON}"^^xsd:date) }}
          UNION
          {{ ?orphan kg:lifecycleStatus kg:LifecyclePhasingOut .
             FILTER NOT EXISTS {{ ?orphan kg:plannedSuccessor ?next }} }}
        }}""",
    )
    assert int(gaps[0]["late"]) > 0 and int(gaps[0]["orphan"]) > 0


def test_a_joint_procurement_gives_the_members_one_term(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """PREFIX schema: <https://schema.org/>
        SELECT ?region ?app (COUNT(DISTINCT ?m) AS ?members) (COUNT(DISTINCT ?end) AS ?ends)
        WHERE { ?c kg:procuredJointlyBy ?region ; kg:covers ?app ;
                   kg:contractingAuthority ?m ; schema:endDate ?end .
                ?region org:hasMember ?m }
        GROUP BY ?region ?app""",
    )
    assert any(int(r["members"]) > 1 for r in rows)
    assert all(r["ends"] == "1" for r in rows)


_THEMES = (
    "https://psi.norge.no/los/tema/",
    "http://publications.europa.eu/resource/authority/data-theme/",
)


def test_some_datasets_are_ready_for_felles_datakatalog(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?d ?theme WHERE {
             ?d kg:inFellesDatakatalog true ; dcat:landingPage ?page ; dcat:theme ?theme ;
                dcat:contactPoint/vcard:hasEmail ?mail ; dcat:distribution/dcat:accessURL ?url .
           }""",
    )
    assert len({r["d"] for r in rows}) >= 100
    assert all(r["theme"].startswith(_THEMES) for r in rows)
    assert any(r["theme"].startswith(_THEMES[1]) for r in rows)


def test_some_statutory_services_have_no_supporting_system(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT (COUNT(*) AS ?gaps) WHERE {
             ?m kg:county ?c . VALUES ?id { "barnevern" "kulturskole" "legevakt" }
             ?s dct:identifier ?id ; a kg:StatutoryService .
             FILTER NOT EXISTS { ?u kg:usedBy ?m ; kg:supportsService ?s } }""",
    )
    assert int(rows[0]["gaps"]) > 0


def test_integrations_reach_national_components_and_other_systems(demo: ox.Store) -> None:
    rows = _rows(
        demo,
        """SELECT ?kind (COUNT(?i) AS ?n) WHERE {
             ?i a kg:Integration ; kg:integrationTarget ?t . ?t a ?kind
             VALUES ?kind { kg:NationalComponent kg:ApplicationUsage } } GROUP BY ?kind""",
    )
    counts = {r["kind"].rsplit("#", 1)[-1]: int(r["n"]) for r in rows}
    assert counts.get("NationalComponent", 0) > 1000 and counts.get("ApplicationUsage", 0) > 1000


def _source_triples(store: Path, graphs: list[str]) -> dict[str, set[str]]:
    """Each graph's triples, without the load's own time stamps and blank nodes."""
    reader = ox.Store.read_only(str(store))
    found = {}
    for graph in graphs:
        quads = reader.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        found[graph] = {
            f"{q.subject} {q.predicate} {q.object}"
            for q in quads
            if not isinstance(q.subject, ox.BlankNode)
            and not isinstance(q.object, ox.BlankNode)
            and "generatedAtTime" not in q.predicate.value
        }
    del reader
    return found


def test_loading_demo_workbooks_again_changes_nothing(demo_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(demo_store, copy)
    sources = [demo_sources()[0], DATA_DIR / "kommune-5601-alta.xlsx"]
    base = _base_of_folder(copy)
    graphs = [source_graph_iri(p, base) for p in sources]
    before = _source_triples(copy, graphs)
    reader = ox.Store.read_only(str(copy))
    named = {g.value for g in reader.named_graphs()}
    del reader
    done = subprocess.run(
        [sys.executable, "-m", "service", "load", *map(str, sources), "--store", str(copy)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "KOMMUNEGRAF_BASE_IRI": base},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _source_triples(copy, graphs) == before
    assert all(len(triples) > 100 for triples in before.values())
    reader = ox.Store.read_only(str(copy))
    after = {g.value for g in reader.named_graphs()}
    del reader
    assert after - named <= {base + "graph/audit"}


def _base_of_folder(store: Path) -> str:
    reader = ox.Store.read_only(str(store))
    try:
        return _base(reader)
    finally:
        del reader


def test_a_batch_checks_the_catalogue_first_and_the_rest_in_parallel() -> None:
    municipal = [DATA_DIR / "kommune-5616-hasvik.xlsx", DATA_DIR / "kommune-4036-vinje.xlsx"]
    catalogue = DATA_DIR / CATALOGUE_FILE
    # The catalogue last: the municipality workbooks name its applications anyway.
    results = check_sources([*municipal, catalogue], DEFAULT_BASE_IRI, workers=2)
    assert [r.path for r in results] == [*municipal, catalogue]
    assert all(r.report.conforms for r in results), [r.report.to_text() for r in results]
    alone = check_sources(municipal, DEFAULT_BASE_IRI, workers=1)
    assert not any(r.report.conforms for r in alone), "without the catalogue names are unknown"
    assert any("ikke kjent som Applikasjon" in i.message_nb for i in alone[0].report.errors)


def test_a_first_start_writes_while_it_checks_the_same_quads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In bulk (a first start) each chunk is written as soon as it is checked; the store
    ends up with exactly what writing everything after the check gives."""
    paths = [
        DATA_DIR / CATALOGUE_FILE,
        DATA_DIR / "kommune-5616-hasvik.xlsx",
        DATA_DIR / "kommune-4036-vinje.xlsx",
    ]
    monkeypatch.setattr(demo_load, "TRANSACTION_BYTES", 1)  # a write after every source
    steps: list[tuple[str, int]] = []
    with open_store(None) as streamed, open_store(None) as after:
        results = load_demo(
            streamed,
            DEFAULT_BASE_IRI,
            1,
            starting=lambda *step: steps.append(step),
            bulk=True,
            paths=paths,
        )
        load_sources(after, results)
        assert steps == [("checking", 3), ("writing", 0)]  # nothing left to write at the end
        assert streamed.graphs() == after.graphs() and len(streamed) == len(after) > 1000


def test_a_first_start_writes_nothing_of_a_demo_that_does_not_validate() -> None:
    hasvik = DATA_DIR / "kommune-5616-hasvik.xlsx"  # without the catalogue: unknown names
    with open_store(None) as store:
        with pytest.raises(RuntimeError, match="does not validate"):
            load_demo(store, DEFAULT_BASE_IRI, 1, bulk=True, paths=[hasvik])
        assert store.graphs() == []


def test_the_demo_setting() -> None:
    assert Settings().demo is True
    assert Settings.from_env({"KOMMUNEGRAF_DEMO": "false"}).demo is False


def test_serve_no_demo_starts_with_reference_data_only() -> None:
    running = start_server(":memory:", "--no-demo", env={"KOMMUNEGRAF_DEMO": "true"})
    try:
        query = "ASK { GRAPH ?g { ?s ?p ?o } FILTER(CONTAINS(STR(?g), '/graph/source/')) }"
        request = urllib.request.Request(
            running.url + "/sparql?" + urllib.parse.urlencode({"query": query}),
            headers={"Accept": "application/sparql-results+json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.load(response)["boolean"] is False
    finally:
        stop_server(running)


def test_scale_multiplies_usages_and_datasets_and_still_validates(tmp_path: Path) -> None:
    single, double = _built(1), build(scale=2)
    for cls in (KG.ApplicationUsage, KG.Dataset):
        one = sum(len(w.rows[cls]) for w in single.workbooks.values())
        two = sum(len(w.rows[cls]) for w in double.workbooks.values())
        # The largest portfolios run out of distinct products a little before 2x.
        assert 1.9 * one <= two <= 2 * one
    paths = []
    for workbook in (double.catalogue, double.workbooks["5601"]):
        path = tmp_path / workbook.file_name
        path.write_bytes(workbook_bytes(workbook))
        paths.append(path)
    results = check_sources(paths, DEFAULT_BASE_IRI, workers=1)
    assert all(r.report.conforms for r in results), [r.report.to_text() for r in results]


def test_validating_a_batch_shows_progress_and_checks_each_file() -> None:
    """A batch takes minutes on the national demo: the CLI shows how far it is."""
    files = [DATA_DIR / "felles-katalog.xlsx", DATA_DIR / "kommune-5616-hasvik.xlsx"]
    done = kommunegraf("validate", *map(str, files), timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Kontrollerer / checking" in done.stderr
    assert "kommune-5616-hasvik.xlsx: " in done.stdout and "gyldig / valid" in done.stdout
