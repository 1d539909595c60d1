"""The upload page and API, and catalogue proposals: invisible until an admin approves."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.access.tokens import TokenFile
from tests.conftest import BACKENDS, stop_server
from tests.service.access import (
    ADMIN,
    HASVIK,
    Access,
    start_access_server,
    usage,
    workbook,
)
from tests.service.client import Answer, bearer, call

RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
NEW_VENDOR = ["Hasvik Havnedata AS", "", "https://havnedata.example"]
NEW_APPLICATION = ["Havneregister", "Hasvik Havnedata AS", "Annet", "Kaier og anløp", ""]


@pytest.fixture(scope="module", params=BACKENDS)
def access(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Access]:
    folder = tmp_path_factory.mktemp("upload")
    running = start_access_server(request.param, folder)
    try:
        catalogue = workbook(folder, "katalog.xlsx", [])  # the admin's shared catalogue
        assert running.upload(catalogue, ADMIN).status == 200
        yield running
    finally:
        stop_server(running.server)


def _proposing_workbook(folder: Path) -> Path:
    import openpyxl

    path = workbook(
        folder, "hasvik-havn.xlsx", [usage("5616 Hasvik", "Havneregister")], catalogue=False
    )
    book = openpyxl.load_workbook(path)
    book["Leverandører"].append(NEW_VENDOR)
    book["Applikasjoner"].append(NEW_APPLICATION)
    book.save(path)
    return path


def test_a_proposal_is_invisible_in_the_catalogue_until_approved(
    access: Access, tmp_path: Path
) -> None:
    application = f"{access.base}id/applikasjon/havneregister"
    known = f"ASK {{ <{application}> a <https://w3id.org/kommunegraf/ontology#Application> }}"
    answer = access.upload(_proposing_workbook(tmp_path), access.tokens["hasvik"])
    assert answer.status == 200, answer.text
    result = json.loads(answer.body)
    assert result["loaded"] and result["proposed_triples"] > 0
    # Its phases, for bench/upload.py: the write's among them, timed where it ran
    phases = [part.split(";dur=")[0] for part in answer.headers["server-timing"].split(", ")]
    assert {"check", "changes", "write", "audit_before", "audit_after"} <= set(phases)
    assert not access.ask(known)
    catalogue = f"{access.base}graph/catalogue"
    assert call(access.url, "GET", "/store", params={"graph": catalogue}).status == 404
    # Hasvik's usage is loaded; only the shared entries wait
    usage_iri = f"{access.base}id/bruk/{HASVIK}/havneregister"
    assert access.ask(f"ASK {{ <{usage_iri}> ?p ?o }}")

    pending = json.loads(call(access.url, "GET", "/proposals").body)
    mine = [p for p in pending if application in p["subjects"]]
    assert len(mine) == 1 and mine[0]["proposer"] == "Hasvik systemeier"
    identifier = mine[0]["id"]

    refused = call(
        access.url,
        "POST",
        f"/proposals/{identifier}/approve",
        headers=bearer(access.tokens["hasvik"]),
    )
    assert refused.status == 403
    assert not access.ask(known)

    approved = call(access.url, "POST", f"/proposals/{identifier}/approve", headers=bearer(ADMIN))
    assert approved.status == 200, approved.text
    assert access.ask(known)
    assert access.ask(f"ASK {{ GRAPH <{catalogue}> {{ <{application}> ?p ?o }} }}")
    assert all(
        p["id"] != identifier for p in json.loads(call(access.url, "GET", "/proposals").body)
    )
    again = call(access.url, "POST", f"/proposals/{identifier}/approve", headers=bearer(ADMIN))
    assert again.status == 404


def test_a_rejected_proposal_never_enters_the_catalogue(access: Access, tmp_path: Path) -> None:
    path = _proposing_workbook(tmp_path)
    import openpyxl

    book = openpyxl.load_workbook(path)
    book["Applikasjoner"]["A3"] = "Havneregister Pluss"
    book["Systemportefølje"]["B3"] = "Havneregister Pluss"
    book.save(path)
    assert access.upload(path, access.tokens["hasvik"]).status == 200
    application = f"{access.base}id/applikasjon/havneregister-pluss"
    pending = json.loads(call(access.url, "GET", "/proposals").body)
    identifier = next(p["id"] for p in pending if application in p["subjects"])
    answer = call(access.url, "POST", f"/proposals/{identifier}/reject", headers=bearer(ADMIN))
    assert answer.status == 200, answer.text
    assert not access.ask(f"ASK {{ <{application}> a ?type }}")


def test_dry_run_checks_and_loads_nothing(access: Access, tmp_path: Path) -> None:
    path = workbook(tmp_path, "proeve.xlsx", [usage("5616 Hasvik")])
    answer = access.upload(path, access.tokens["hasvik"], dry_run=True)
    assert answer.status == 200, answer.text
    assert not json.loads(answer.body)["loaded"]
    assert "write;" not in answer.headers["server-timing"]
    assert access.size(access.graph(HASVIK, "proeve")) == 0


def test_an_invalid_workbook_loads_nothing(access: Access, tmp_path: Path) -> None:
    path = workbook(tmp_path, "feil.xlsx", [["5616 Hasvik", "Finnes Ikke", "", "", "", "", ""]])
    answer = access.upload(path, access.tokens["hasvik"])
    assert answer.status == 422
    assert access.size(access.graph(HASVIK, "feil")) == 0


def test_not_a_spreadsheet_is_a_clear_400(access: Access, tmp_path: Path) -> None:
    path = tmp_path / "data.ttl"
    path.write_text("<urn:a> <urn:b> <urn:c> .\n")
    answer = access.upload(path, access.tokens["hasvik"])
    assert answer.status == 400
    assert "regneark" in answer.text and "spreadsheet" in answer.text


def _multipart(fields: dict[str, str], file: Path | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    if file is not None:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + file.read_bytes()
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _form(access: Access, fields: dict[str, str], file: Path | None = None) -> Answer:
    body, media = _multipart(fields, file)
    return call(access.url, "POST", "/upload/form", body=body, headers={"Content-Type": media})


def test_the_page_checks_first_then_loads_and_shows_the_audit_trail(
    access: Access, tmp_path: Path
) -> None:
    page = call(access.url, "GET", "/upload")
    assert page.status == 200 and 'type="password"' in page.text

    path = workbook(tmp_path, "side.xlsx", [usage("5616 Hasvik")], catalogue=False)
    token = access.tokens["hasvik"]
    checked = _form(access, {"token": token}, path)
    assert checked.status == 200, checked.text
    assert "Hasvik systemeier" in checked.text and "5616" in checked.text
    assert token not in checked.text
    assert access.size(access.graph(HASVIK, "side")) == 0  # shown, not loaded
    pending = re.search(r'name="pending" value="([^"]+)"', checked.text)
    assert pending is not None

    loaded = _form(access, {"pending": pending.group(1)})
    assert loaded.status == 200, loaded.text
    assert access.size(access.graph(HASVIK, "side")) > 0
    assert "side.xlsx" in loaded.text  # the audit entry of this load
    assert _form(access, {"pending": pending.group(1)}).status == 400  # used once


def test_the_page_refuses_a_wrong_token_and_shows_errors_before_loading(
    access: Access, tmp_path: Path
) -> None:
    path = workbook(tmp_path, "alta-i-hasvik.xlsx", [usage("5601 Alta")], catalogue=False)
    assert _form(access, {"token": "wrong"}, path).status == 403
    assert _form(access, {"token": ""}, path).status == 401
    checked = _form(access, {"token": access.tokens["hasvik"]}, path)
    assert checked.status == 422
    assert "5601" in checked.text and 'name="pending"' not in checked.text


def test_a_token_revoked_between_check_and_load_cannot_load(access: Access, tmp_path: Path) -> None:
    tokens = TokenFile(access.token_file)
    token, entry = tokens.create("Kortvarig", "municipality", (HASVIK,))
    path = workbook(tmp_path, "kort.xlsx", [usage("5616 Hasvik")], catalogue=False)
    checked = _form(access, {"token": token}, path)
    pending = re.search(r'name="pending" value="([^"]+)"', checked.text)
    assert checked.status == 200 and pending is not None
    tokens.revoke(entry.digest[:12])
    refused = _form(access, {"pending": pending.group(1)})
    assert refused.status == 403
    assert "trukket tilbake" in refused.text and "revoked" in refused.text
    assert access.size(access.graph(HASVIK, "kort")) == 0


def test_regression_an_upload_is_never_checked_against_stale_names(
    access: Access, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A query worker keeps the stored names between uploads and reads again only the
    graphs a write changed (``service.store.names.stored_names``): a name one upload
    loaded resolves in the next, and a vendor a SPARQL update deleted (a write that
    does not say which graphs it changed) is unknown to the next upload."""
    if request.node.callspec.params["access"] != "embedded":
        pytest.skip("a remote store's names are read afresh for every upload")
    import openpyxl

    path = workbook(tmp_path, "fyr.xlsx", [], catalogue=False)
    book = openpyxl.load_workbook(path)
    book["Leverandører"].append(["Fyr Data AS", "", "https://fyr.example"])
    book["Applikasjoner"].append(["Fyrregister", "Fyr Data AS", "Annet", "Fyr og merker", ""])
    book.save(path)
    assert access.upload(path, ADMIN).status == 200  # the workers kept names before it

    fyr = [usage("5616 Hasvik", "Fyrregister")]
    uses = workbook(tmp_path, "fyr-bruk.xlsx", fyr, catalogue=False)
    answer = access.upload(uses, access.tokens["hasvik"], dry_run=True)
    assert answer.status == 200, answer.text

    vendor = access.select(f'SELECT ?v WHERE {{ ?v <{RDFS_LABEL}> "Fyr Data AS" }}')[0]["v"]
    deleted = access.update(f"DELETE WHERE {{ GRAPH ?g {{ <{vendor}> ?p ?o }} }}", ADMIN)
    assert deleted.status in (200, 204), deleted.text
    book = openpyxl.load_workbook(path)
    book["Leverandører"].delete_rows(3)
    book["Applikasjoner"]["A3"] = "Fyrregister 2"
    book.save(path)
    answer = access.upload(path, ADMIN, dry_run=True)
    assert answer.status == 422
    assert "«Fyr Data AS» er ikke kjent" in answer.text


def test_ntriples_as_stored_is_as_stored() -> None:
    """The changes of an upload read its triples as the store keeps them: from the check's
    N-Triples (``ntriples_as_stored``) the same set as through an rdflib graph
    (``as_stored``): canonical numbers, plain and tagged strings, dates."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import XSD

    from service.access.uploads import as_stored, ntriples_as_stored
    from service.store.embedded import ntriples

    s, p = URIRef("http://x.test/id/s"), URIRef("http://x.test/p")
    triples = {
        (s, p, Literal("872000", datatype=XSD.decimal)),
        (s, p, Literal("07", datatype=XSD.nonNegativeInteger)),
        (s, p, Literal("2024-01-31", datatype=XSD.date)),
        (s, p, Literal('Bærum "kommune"\n')),
        (s, p, Literal("Bærum", lang="nb")),
        (s, p, URIRef("http://x.test/id/o")),
    }
    assert ntriples_as_stored(ntriples(sorted(triples))) == as_stored(triples)


def test_regression_changes_of_ntriples_terms_are_rdflibs() -> None:
    """An upload's changes compare N-Triples terms (``compare_lines``), not rdflib ones:
    the same answer as ``compare`` of the same N-Triples read as rdflib terms, where the
    two differ: typed literals rdflib rewrites ("1"^^xsd:double reads "1.0", "TRUE" and
    "true" booleans are equal, " 5 " integers "5"), language tags, blank nodes (a fresh
    one per answer, never equal across sides, as rdflib's parser makes them), helper
    nodes ``<record>#x``, records added, removed, changed and unchanged."""
    import pyoxigraph as ox
    from rdflib import URIRef

    from loaders.changes import compare, compare_lines
    from loaders.oxigraph_terms import comparable_lines, rdflib_triples

    kg, xsd = "https://w3id.org/kommunegraf/ontology#", "http://www.w3.org/2001/XMLSchema#"
    use = "http://x.test/id/bruk/4203/"
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

    def record(name: str, *rest: str) -> str:
        lines = [
            f"<{use}{name}> <{rdf}type> <{kg}ApplicationUsage> .",
            f'<{use}{name}> <http://www.w3.org/2000/01/rdf-schema#label> "{name}"@nb .',
        ]
        return "\n".join(lines + [f"<{use}{name}> {line} ." for line in rest])

    same = record("same", f'<{kg}annualCost> "872000.0"^^<{xsd}decimal>', "<urn:p> _:b")
    before = "\n".join(
        [
            same,
            record("gone"),
            record(
                "edit",
                f'<{kg}numberOfUsers> " 5 "^^<{xsd}integer>',
                f'<{kg}annualCost> "1"^^<{xsd}double>',
                f'<{kg}softwareVersion> "TRUE"^^<{xsd}boolean>',
                f'<{kg}dataLocation> "Norge"@nb',
                '<http://purl.org/dc/terms/description> "før \\"sitat\\"\\n"@nb-NO',
                f"<{kg}hosting> <{use}edit#h>",
            ),
            f'<{use}edit#h> <urn:p> "x" .',
            '_:n <urn:p> "1"^^<http://www.w3.org/2001/XMLSchema#double> .',
        ]
    )
    after = "\n".join(
        [
            same,
            record("new", f'<{kg}annualCost> "2.5E0"^^<{xsd}double>'),
            record(
                "edit",
                f'<{kg}numberOfUsers> "5"^^<{xsd}integer>',
                f'<{kg}annualCost> "2.5E0"^^<{xsd}double>',
                f'<{kg}softwareVersion> "true"^^<{xsd}boolean>',
                f'<{kg}dataLocation> "Norge"@en',
                '<http://purl.org/dc/terms/description> "etter"@nb-no',
                f"<{kg}hosting> <{use}edit#h>",
            ),
            f'<{use}edit#h> <urn:p> "y" .',
            '_:n <urn:p> "1"^^<http://www.w3.org/2001/XMLSchema#double> .',
        ]
    )

    def read(text: str) -> list[ox.Quad]:
        store = ox.Store()
        store.load(text.encode(), ox.RdfFormat.N_TRIPLES)
        return list(store)

    rows = {URIRef(f"{use}new"): ("Systemportefølje", 7), URIRef(f"{use}edit"): ("S", 3)}
    current, new_side = read(before), read(after)
    old = compare(
        rdflib_triples(current), rdflib_triples(new_side), rdflib_triples(current), rows
    ).as_json()
    new = compare_lines(
        comparable_lines(current),
        comparable_lines(new_side),
        comparable_lines(current),
        rows,
    ).as_json()
    assert new == old
    assert (old["added"], old["removed"], old["changed"]) == (1, 1, 3)
    assert [(r["old"], r["new"]) for r in old["rows"] if r["kind"] == "changed"] == [
        (['før "sitat"\n'], ["etter"]),
        (["1.0"], ["2.5"]),
        (["Norge"], ["Norge"]),
    ]
    assert old["triples"] == {"added": 9, "removed": 8, "unchanged": 8}
