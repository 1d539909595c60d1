"""The users' journeys, end to end on the national demo, through HTTP and the CLI (issue 19).

One test per role, each following its guide in docs/: what the people the service is
for actually do, on national-size data, so that a break there fails CI even when every
feature passes on its small fixture.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import openpyxl
import pyoxigraph as ox
from lxml import etree
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF
from SPARQLWrapper import JSON, SPARQLWrapper

from service.access.audit import AuditLog
from service.store import demo_cache
from tests.cli import kommunegraf
from tests.conftest import START_DEADLINE, free_port, start_server, stop_server
from tests.journeys.conftest import ARENDAL
from tests.service.access import Access
from tests.service.client import Answer, bearer, call


def _get(access: Access, path: str, accept: str = "*/*", timeout: float = 120) -> Answer:
    return call(access.url, "GET", path, headers={"Accept": accept}, timeout=timeout)


# -- newcomer ------------------------------------------------------------------------


def _first_start(store: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``kommunegraf serve`` on an empty store with the demo, as ``make serve`` does."""
    env = {
        **os.environ,
        "KOMMUNEGRAF_DEMO": "true",
        "KOMMUNEGRAF_BASE_IRI": "http://x.test/",
        "KOMMUNEGRAF_DEMO_CACHE": "off",  # a full load: checked, as on a new machine
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--store", str(store)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,  # its own process group, killed as a whole
        )


def _answer(url: str, accept: str = "*/*", deadline: float = START_DEADLINE) -> tuple[int, bytes]:
    """The first answer on ``url`` (any status), waiting for the port to open (a last-resort
    deadline: 60 s, the one before, is within reach of a start on a busy machine)."""
    until = time.monotonic() + deadline
    while True:
        try:
            request = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            assert time.monotonic() < until, f"{url}: the port never opened"
            time.sleep(0.1)


def test_newcomer_sees_the_service_at_once_while_the_demo_loads(tmp_path: Path) -> None:
    """The port opens at once; live is 200, ready is 503 with the load's progress, pages
    say the service is loading; a start killed mid-load is loaded again, never half."""
    store, log, port = tmp_path / "store", tmp_path / "serve.log", free_port()
    url = f"http://127.0.0.1:{port}"
    process = _first_start(store, port, log)
    try:
        assert _answer(url + "/health/live")[0] == 200
        status, body = _answer(url + "/health/ready")
        assert status == 503
        load = json.loads(body)["checks"]["load"]
        assert load["step"] in {"starting", "reference", "checking", "writing"}, load
        status, page = _answer(url + "/", accept="text/html")
        assert status == 503 and b'http-equiv="refresh"' in page, page[:300]
        status, body = _answer(url + "/sparql?query=ASK%7B%7D")
        assert status == 503 and json.loads(body)["status"] == "loading"
        # Wait until the demo's workbooks are being checked, then kill it mid-load.
        until = time.monotonic() + 600
        while json.loads(_answer(url + "/health/ready")[1])["checks"]["load"]["total"] < 300:
            assert time.monotonic() < until, "the load never reached the demo"
            time.sleep(0.5)
        status, body = _answer(url + "/health/ready")
        load = json.loads(body)["checks"]["load"]
        # 358 workbooks; the 357 municipal ones are read after the shared catalogue.
        assert load["total"] in {357, 358} and load["description"]["en"], load
        assert f"of {load['total']}" in json.loads(body)["reason"]["en"]
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # a power cut: the server and its workers
        process.wait(timeout=30)
    # JSON lines when not on a terminal.
    first = log.read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["level"]
    port, log = free_port(), tmp_path / "again.log"
    process = _first_start(store, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        assert _answer(url + "/health/live")[0] == 200
        until = time.monotonic() + START_DEADLINE
        while "tømmes" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < until, log.read_text(encoding="utf-8")[-3000:]
            time.sleep(0.3)
        assert _answer(url + "/health/ready")[0] == 503
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_newcomer_gets_answers_once_ready(national: Access) -> None:
    """After the load: ready, the home page in numbers, a canned query answers."""
    ready = _get(national, "/health/ready")
    assert ready.status == 200, ready.text
    home = _get(national, "/", "text/html")
    assert home.status == 200 and "Arendal" not in home.text[:0]
    answer = _get(national, "/queries", "application/json")
    assert answer.status == 200 and json.loads(answer.body)


# -- system owner (Arendal, 4203; docs/systemeier.md) -----------------------------------


def test_system_owner_updates_last_years_workbook(national: Access, tmp_path: Path) -> None:
    """Download the municipality's current workbook, check it against the running
    service, upload it unchanged (nothing changes), then make the typical mistakes."""
    page = _get(national, f"/id/kommune/{ARENDAL}", "text/html")
    assert page.status == 200 and f"/template?kommune={ARENDAL}" in page.text
    upload_page = _get(national, "/upload", "text/html")
    assert 'href="/template"' in upload_page.text

    blank = _get(national, "/template")
    assert blank.status == 200
    assert "Systemportefølje" in openpyxl.load_workbook(io.BytesIO(blank.body)).sheetnames

    current = _get(national, f"/template?kommune={ARENDAL}", timeout=300)
    assert current.status == 200, current.text
    name = current.headers["content-disposition"].split('filename="')[1].rstrip('"')
    workbook = tmp_path / name
    workbook.write_bytes(current.body)
    rows = openpyxl.load_workbook(workbook)["Systemportefølje"].max_row - 2
    assert rows > 20

    checked = kommunegraf("validate", str(workbook), "--endpoint", national.url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    triples = int(checked.stdout.split(" tripler")[0].rsplit(" ", 1)[1])

    dry = call(
        national.url,
        "POST",
        f"/upload?name={name}&dry_run=true",
        body=workbook.read_bytes(),
        headers=bearer(national.tokens["arendal"]),
        timeout=300,
    )
    assert dry.status == 200, dry.text
    summary = json.loads(dry.body)
    assert summary["conforms"] and not summary["loaded"]
    assert summary["triples"] == triples  # the check's count is the load's count
    # Unchanged, it changes nothing: no record added or removed, no cell changed, and not
    # one triple either way (issue 19's "Done when"); the description of the source graph
    # it takes over (service.access.takeover) is provenance, not data (loaders.provenance).
    changes = summary["changes"]
    assert (changes["added"], changes["removed"], changes["changed"]) == (0, 0, 0), changes
    assert changes["rows"] == [], changes["rows"][:5]
    assert changes["triples"] == {"added": 0, "removed": 0, "unchanged": triples}, changes

    # A new row with a typo in the product's name: one error, with the name it most
    # likely is, and no second error about the row.
    book = openpyxl.load_workbook(workbook)
    sheet = book["Systemportefølje"]
    sheet.append([ARENDAL, "Gerika", None, "SaaS / sky", "I bruk"])
    typo = tmp_path / "typo.xlsx"
    book.save(typo)
    checked = kommunegraf("validate", str(typo), "--endpoint", national.url)
    assert checked.returncode == 1
    errors = [line for line in checked.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 1 and f"B{sheet.max_row}" in errors[0], checked.stdout
    assert "Mente du: Gerica" in checked.stdout, checked.stdout


# -- analyst (docs/analytiker.md) ---------------------------------------------------------


def test_analyst_asks_with_names_not_iris(national: Access) -> None:
    """Short forms (slug, name, kommunenummer) work in the API, the gallery and the CLI;
    an unknown one is a 422 naming the parameter, with names to choose from."""
    base = "/queries/reuse-candidates?region="
    for region in ("kongsbergregionen", "Kongsbergregionen"):
        answer = _get(national, base + region, "application/sparql-results+json")
        assert answer.status == 200, answer.text
        assert json.loads(answer.body)["results"]["bindings"], region
    typo = _get(national, base + "kongsbergregion", "application/sparql-results+json")
    assert typo.status == 422 and "region" in typo.text and "Kongsbergregionen" in typo.text
    unknown = _get(national, base + "https%3A%2F%2Fx.test%2Fid%2Fregion%2Fnone")
    assert unknown.status == 422, unknown.text
    page = _get(
        national, "/sporringer/reuse-candidates?region=kongsbergregionen&run=1", "text/html"
    )
    assert page.status == 200 and "(IRI)" not in page.text
    cli = kommunegraf(
        "query",
        "reuse-candidates",
        "--param",
        "region=Kongsbergregionen",
        "--format",
        "csv",
        "--endpoint",
        national.url,
    )
    assert cli.returncode == 0, cli.stderr
    assert len(cli.stdout.splitlines()) > 1
    old = call(national.url, "GET", "/id/kommune/1201", headers={"Accept": "text/html"})
    assert old.status == 301 and old.headers["location"] == "/id/kommune/4601"


# -- enterprise architect (docs/arkitekt.md, docs/archimate.md) ---------------------------

KG_NS = "https://w3id.org/kommunegraf/ontology#"
PREFIXES = (
    f"PREFIX kg: <{KG_NS}>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "PREFIX org: <http://www.w3.org/ns/org#>\n"
    "PREFIX cv: <http://data.europa.eu/m8g/>\n"
)
ARCHIMATE = "{http://www.opengroup.org/xsd/archimate/3.0/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _rows(access: Access, query: str) -> list[dict[str, str]]:
    """A SELECT through SPARQLWrapper, as the architect's own scripts run it."""
    endpoint = SPARQLWrapper(access.url + "/sparql")
    endpoint.setQuery(PREFIXES + query)
    endpoint.setReturnFormat(JSON)
    result: Any = endpoint.query().convert()
    return [{k: v["value"] for k, v in row.items()} for row in result["results"]["bindings"]]


def test_architect_queries_the_model_and_takes_a_region_to_archi(
    national: Access, demo_base: str, tmp_path: Path
) -> None:
    """The ontology as RDF, SPARQL from Python and the CLI, a region's portfolio as an
    ArchiMate model, the model back to a workbook that the running service accepts, and
    what retiring a system or losing a vendor would hit."""
    ontology = _get(national, "/ontology?format=turtle")
    assert ontology.status == 200
    model = Graph().parse(data=ontology.text, format="turtle")
    usage = URIRef(KG_NS + "ApplicationUsage")
    assert (usage, RDF.type, OWL.Class) in model
    term = _get(national, "/ontology/Municipality", "text/turtle")
    assert term.status == 200
    assert (URIRef(KG_NS + "Municipality"), None, None) in Graph().parse(data=term.text)

    # The standard types without a reasoner, and the region's shared systems.
    classes = _rows(national, "SELECT ?c (COUNT(?x) AS ?n) WHERE { ?x a ?c } GROUP BY ?c")
    counts = {row["c"].removeprefix(KG_NS): int(row["n"]) for row in classes}
    assert counts["Municipality"] >= 357 and counts["ApplicationUsage"] > 10_000
    shared = _rows(
        national,
        """SELECT ?name (COUNT(DISTINCT ?m) AS ?members) WHERE {
             ?r a kg:Region ; rdfs:label "Vest-Finnmark Rådet" ; org:hasMember ?m .
             ?u kg:usedBy ?m ; kg:application/rdfs:label ?name .
           } GROUP BY ?name ORDER BY DESC(?members)""",
    )
    assert int(shared[0]["members"]) == 7, shared[:3]  # the sak/arkiv system they share
    cli = kommunegraf(
        "query",
        PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?s a kg:StatutoryService }",
        "--endpoint",
        national.url,
        "--format",
        "csv",
    )
    assert cli.returncode == 0, cli.stderr
    assert int(cli.stdout.splitlines()[1]) >= 111

    # The region's portfolios as one ArchiMate model, by the region's short name.
    region = "vest-finnmark-radet"
    exchange = _get(national, f"/region/{region}/archimate.xml", timeout=300)
    assert exchange.status == 200, exchange.text[:500]
    root = etree.fromstring(exchange.body)
    components: set[str | None] = {
        e.findtext(ARCHIMATE + "name")
        for e in root.iter(ARCHIMATE + "element")
        if e.get(XSI_TYPE) == "ApplicationComponent"
    }
    systems = _rows(
        national,
        f"""SELECT DISTINCT ?name WHERE {{
              <{demo_base}id/region/{region}> org:hasMember ?m .
              ?u kg:usedBy ?m ; kg:application/rdfs:label ?name }}""",
    )
    # In a region's model a component is one member's use: "Gerica (Hasvik)".
    used = {name.rsplit(" (", 1)[0] for name in components if name}
    assert {row["name"] for row in systems} <= used
    # Back from the model (as edited in Archi) to Hasvik's workbook, checked against the
    # running service: the names resolve in the live catalogue.
    book = call(
        national.url,
        "POST",
        "/archimate/arbeidsbok",
        params={"kommune": "5616"},
        body=exchange.body,
        timeout=300,
    )
    assert book.status == 200, book.text[:500]
    workbook = tmp_path / "hasvik-fra-archi.xlsx"
    workbook.write_bytes(book.body)
    checked = kommunegraf("validate", str(workbook), "--endpoint", national.url)
    assert ": error: " not in checked.stdout, checked.stdout[-3000:]

    # Dependencies and impact on the pages the architect opens.
    page = _get(national, f"/id/kommune/{ARENDAL}", "text/html")
    assert page.status == 200 and "<svg" in page.text
    retire = _get(
        national,
        "/queries/system-retirement?application=Gerica",
        "application/sparql-results+json",
    )
    assert retire.status == 200, retire.text
    assert json.loads(retire.body)["results"]["bindings"]


# -- national body: KS, Digdir (docs/nasjonale.md) -----------------------------------------

DCAT = Namespace("http://www.w3.org/ns/dcat#")
CV = Namespace("http://data.europa.eu/m8g/")
CPSV = Namespace("http://purl.org/vocab/cpsv#")
LOS_WORD = "https://psi.norge.no/los/ord/"
BRREG = "https://data.brreg.no/enhetsregisteret/api/enheter/"


def test_national_body_harvests_the_country_and_links_it(
    national: Access, demo_base: str, tmp_path: Path
) -> None:
    """Harvest every catalogue in one request (then a 304), one municipality's catalogue
    the same over HTTP and from the CLI, its quality before harvesting, the services as
    CPSV-AP-NO linked to ELI acts and Kommune-LOS words, and from a word to the systems
    that support it across the country."""
    first = _get(national, "/catalog", "text/turtle", timeout=300)
    assert first.status == 200, first.text[:500]
    whole = Graph().parse(data=first.text, format="turtle")
    catalogues = set(whole.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogues) > 300
    assert len(set(whole.subjects(RDF.type, DCAT.Dataset))) >= 1000
    publishers = {str(p) for c in catalogues for p in whole.objects(c, DCTERMS.publisher)}
    assert publishers and all(p.startswith(BRREG) for p in publishers), sorted(publishers)[:3]
    again = call(
        national.url,
        "GET",
        "/catalog",
        headers={"Accept": "text/turtle", "If-None-Match": first.headers["etag"]},
    )
    assert again.status == 304

    one = Graph().parse(data=_get(national, f"/catalog/{ARENDAL}", "text/turtle").text)
    exported = tmp_path / f"katalog-{ARENDAL}.ttl"
    cli = kommunegraf(
        "export",
        "dcat",
        "--kommune",
        ARENDAL,
        "-o",
        str(exported),
        "--store",
        str(national.folder / "store"),
        "--base-iri",
        demo_base,
    )
    assert cli.returncode == 0, cli.stderr
    from_file = Graph().parse(exported)
    datasets = set(one.subjects(RDF.type, DCAT.Dataset))
    assert datasets and datasets == set(from_file.subjects(RDF.type, DCAT.Dataset))

    quality = json.loads(_get(national, f"/catalog/{ARENDAL}/kvalitet?format=json").body)
    assert 0 < quality["total"] <= quality["maximum"] and quality["datasets"]

    services = Graph().parse(data=_get(national, f"/services/{ARENDAL}", "text/turtle").text)
    public = set(services.subjects(RDF.type, CPSV.PublicService))
    assert len(public) >= 111
    words = {w for s in public for w in services.objects(s, CV.thematicArea)}
    assert len({w for w in words if str(w).startswith(LOS_WORD)}) >= 60
    acts = {a for s in public for a in services.objects(s, CV.hasLegalResource)}
    assert any(str(a).startswith("https://lovdata.no/eli/lov/") for a in acts)

    # From a Kommune-LOS word to the municipalities whose systems support it.
    reach = _rows(
        national,
        f"""SELECT (COUNT(DISTINCT ?m) AS ?n) WHERE {{
              ?s cv:thematicArea <{LOS_WORD}hjemmesykepleie> .
              ?u kg:supportsService ?s ; kg:usedBy ?m }}""",
    )
    assert int(reach[0]["n"]) > 100
    # A harvester holding an old kommunenummer is sent on.
    moved = call(national.url, "GET", "/catalog/1201", headers={"Accept": "text/turtle"})
    assert moved.status == 301 and moved.headers["location"].endswith("/catalog/4601")


def test_newcomer_starts_again_in_seconds_from_the_checked_copy(
    demo_store: Path, demo_base: str, tmp_path: Path
) -> None:
    """A later first start with the same inputs (a new store folder, a fresh clone on
    the same machine) bulk-loads the copy a full first start saved, instead of checking
    the 358 workbooks again, and serves the same quads."""
    cache = tmp_path / "cache"
    # What a full first start saves (this store was built by one): the whole store.
    reader = ox.Store.read_only(str(demo_store))
    try:
        demo_cache.save(reader, demo_cache.cache_file(cache, demo_base, "sparql"))
        quads = len(reader)
        audit = ox.NamedNode(demo_base + "graph/audit")
        audit_quads = len(list(reader.quads_for_pattern(None, None, None, audit)))
    finally:
        del reader
    server = start_server(
        str(tmp_path / "store"),
        env={
            "KOMMUNEGRAF_DEMO": "true",
            "KOMMUNEGRAF_DEMO_CACHE": str(cache),
            "KOMMUNEGRAF_BASE_IRI": demo_base,
        },
        timeout=300,
    )
    try:
        assert "lastet fra kopien" in server.log_text()
        count = call(
            server.url,
            "GET",
            "/sparql",
            params={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert count.status == 200, count.text
        found = json.loads(count.body)["results"]["bindings"][0]["n"]["value"]
        # The audit graph holds this start's load event instead of the copy's: as many triples.
        assert int(found) == quads
        assert _get_url(server.url + "/health/ready") == 200
    finally:
        stop_server(server)
    # The load from the copy is audited like the full one: one event, the demo's graphs.
    (event,) = AuditLog(tmp_path / "store-audit.jsonl").events()
    assert event.action == "load" and "first start: reference and demo data" in event.detail
    assert len([c for c in event.changes if "/graph/source/" in c.graph]) >= 358
    assert event.added == quads - audit_quads and event.removed == 0
    assert len(list(cache.glob("demo-*.nq.gz"))) == 1  # used, not replaced or deleted


def _get_url(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return int(answer.status)
