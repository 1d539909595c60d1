"""``kommunegraf export`` and ``kommunegraf import-dcat``, run as the real command."""

from __future__ import annotations

import functools
import json
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rdflib import Graph

from service.exports.official_shapes import CPSV_AP_NO, DCAT_AP_NO, violations
from tests.cli import kommunegraf

DATA = Path(__file__).parent / "catalog_data"
BASE = "http://kommune.test/"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return kommunegraf(*args, env={"KOMMUNEGRAF_BASE_IRI": BASE})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An on-disk store with the reference data and the made-up fixture, loaded by the CLI."""
    folder = str(tmp_path_factory.mktemp("catalogue") / "store")
    loaded = run("load", str(DATA / "fixture.ttl"), "--store", folder)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    return folder


def test_export_dcat_writes_a_conforming_catalogue_and_lists_what_is_left_out(
    store: str, tmp_path: Path
) -> None:
    output = tmp_path / "arendal.ttl"
    done = run("export", "dcat", "--kommune", "4203", "-o", str(output), "--store", store)
    assert done.returncode == 0, done.stderr
    assert "Vegregister" in done.stdout and "theme is missing" in done.stdout
    catalogue = Graph().parse(output, format="turtle")
    assert violations(catalogue, DCAT_AP_NO) == []
    assert f"{BASE}catalog/4203" in {str(s) for s in catalogue.subjects()}


def test_export_cpsv_as_json_ld(store: str, tmp_path: Path) -> None:
    output = tmp_path / "services.jsonld"
    done = run("export", "cpsv", "--kommune", "4203", "-o", str(output), "--store", store)
    assert done.returncode == 0, done.stderr
    services = Graph().parse(output, format="json-ld")
    assert violations(services, CPSV_AP_NO) == []


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--kommune", "1580"], 1, "organisasjonsnummer"),
        (["--kommune", "43"], 2, "fire siffer"),
        (["--kommune", "9999"], 2, "Ukjent kommunenummer"),
    ],
)
def test_export_refuses_what_cannot_be_published(
    store: str, tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    output = tmp_path / "out.ttl"
    done = run("export", "dcat", *args, "-o", str(output), "--store", store)
    assert done.returncode == code, done.stdout + done.stderr
    assert says in done.stderr
    assert not output.exists()


def test_export_needs_a_known_file_type(store: str, tmp_path: Path) -> None:
    done = run("export", "dcat", "-o", str(tmp_path / "out.csv"), "--store", store)
    assert done.returncode == 2 and ".ttl" in done.stderr


def test_import_dcat_makes_not_yet_published_exact(store: str, tmp_path: Path) -> None:
    before = run("query", "datasets-not-in-felles-datakatalog", "--param", "kommune=4203",
                 "--format", "csv", "--store", store)  # fmt: skip
    assert before.returncode == 0, before.stderr
    assert "Barnehageregister" in before.stdout
    # What Felles datakatalog harvested from us: our own export.
    exported = tmp_path / "harvested.ttl"
    assert run("export", "dcat", "-o", str(exported), "--store", store).returncode == 0
    done = run("import-dcat", str(exported), "--store", store)
    assert done.returncode == 0, done.stderr
    assert "2 koblet" in done.stdout and "2 linked" in done.stdout
    after = run("query", "datasets-not-in-felles-datakatalog", "--param", "kommune=4203",
                "--format", "csv", "--store", store)  # fmt: skip
    assert "Barnehageregister" not in after.stdout and "Postjournal" not in after.stdout
    assert "Vegregister" in after.stdout


def test_the_official_example_catalogue_imports_without_error(store: str) -> None:
    done = run("import-dcat", str(DATA / "DCAT-AP-NO2.0-examples.ttl"), "--store", store)
    assert done.returncode == 0, done.stderr
    assert "1 datasett lest" in done.stdout and "0 linked, 1 unmatched" in done.stdout


def test_regression_import_dcat_was_not_in_the_audit_trail(store: str) -> None:
    """import-dcat replaced its graph without an audit event; it writes through the
    Auditor now, like an upload: announced, then recorded with what it changed."""
    done = run("import-dcat", str(DATA / "DCAT-AP-NO2.0-examples.ttl"), "--store", store)
    assert done.returncode == 0, done.stderr
    lines = Path(f"{store}-audit.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    imports = [e for e in events if e.get("action") == "import-dcat"]
    assert {e["id"] for e in imports if e.get("state") == "intent"} <= {
        e["id"] for e in imports if "state" not in e
    }
    recorded = [e for e in imports if "state" not in e]
    assert recorded and recorded[-1]["file_name"].endswith("DCAT-AP-NO2.0-examples.ttl")
    assert "/graph/felles-datakatalog/" in recorded[-1]["changes"][0]["graph"]
    assert recorded[-1]["changes"][0]["added"] > 0


def test_import_dcat_rejects_what_is_not_a_catalogue(store: str, tmp_path: Path) -> None:
    garbage = tmp_path / "katalog.ttl"
    garbage.write_text("this is <not turtle", encoding="utf-8")
    invalid = run("import-dcat", str(garbage), "--store", store)
    assert invalid.returncode == 1 and "ikke gyldig RDF" in invalid.stderr
    missing = run("import-dcat", str(tmp_path / "absent.ttl"), "--store", store)
    assert missing.returncode == 2 and "kan ikke lese" in missing.stderr


def test_import_dcat_reads_a_url(store: str) -> None:
    """Over real HTTP: a local web server hands out the official example as Turtle."""
    handler = functools.partial(_TurtleHandler, directory=str(DATA))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/DCAT-AP-NO2.0-examples.ttl"
            done = run("import-dcat", url, "--store", store)
            missing = run("import-dcat", url.replace("examples", "absent"), "--store", store)
        finally:
            server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "1 datasett lest" in done.stdout
    assert "graph/felles-datakatalog/127-0-0-1" in done.stdout
    assert missing.returncode == 2 and "404" in missing.stderr


class _TurtleHandler(SimpleHTTPRequestHandler):
    extensions_map = {".ttl": "text/turtle"}  # noqa: RUF012 - the base class's own attribute

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test output is the command's, not the server's."""
