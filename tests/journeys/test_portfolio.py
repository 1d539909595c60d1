"""Issue 22, a living portfolio, on the national demo through HTTP.

Contracts and dated lifecycles (the demo has them for every municipality), the
roadmap pages, the deadline feed parsed with ``icalendar``, the Atom feed checked
against RFC 4287's required elements, the canned queries, and the round trip of a
pre-filled workbook: unchanged it changes nothing; one edited cell is one change with
its old and new value.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from icalendar import Calendar
from lxml import etree
from rdflib import URIRef

from loaders.demo.generate import GENERATED_ON
from loaders.demo.regions import REGIONS
from loaders.mapping import slug
from loaders.spreadsheet import read_spreadsheet
from service.access.tokens import TokenFile
from service.exports.portfolio import add_months
from service.store.sources import reference_context
from tests.cli import kommunegraf
from tests.journeys.conftest import ARENDAL
from tests.service.access import ADMIN, Access
from tests.service.client import Answer, bearer, call

ALTA = "5601"
DEMO_DATA = Path(__file__).resolve().parents[2] / "loaders" / "demo" / "data"
VEST_FINNMARK = next(slug(r.name) for r in REGIONS if "Alta" in r.members)
"""Alta's cooperation, by the short name of its IRI (as the demo names it)."""
TODAY = GENERATED_ON.isoformat()
ATOM = "{http://www.w3.org/2005/Atom}"
PREFIXES = """PREFIX kg: <https://w3id.org/kommunegraf/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
PREFIX org: <http://www.w3.org/ns/org#>
"""


def _get(access: Access, path: str, accept: str = "*/*", timeout: float = 120) -> Answer:
    return call(access.url, "GET", path, headers={"Accept": accept}, timeout=timeout)


def _count(access: Access, where: str) -> int:
    rows = access.select(PREFIXES + f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
    return int(rows[0]["n"])


# -- the roadmap ------------------------------------------------------------------------


def test_municipality_roadmap_draws_every_system_and_lists_every_contract(
    demo_base: str,
    national: Access,
) -> None:
    page = _get(national, f"/kommune/{ARENDAL}/veikart?today={TODAY}", "text/html")
    assert page.status == 200, page.text
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", page.text, re.S)
    assert svg is not None
    assert '<title id="veikart-tittel">' in svg.group(0) and "<desc" in svg.group(0)
    assert f"i dag / today {TODAY}" in svg.group(0)
    usages = _count(national, f"?u kg:usedBy <{demo_base}id/kommune/{ARENDAL}>")
    contracts = _count(national, f"?c kg:contractingAuthority <{demo_base}id/kommune/{ARENDAL}>")
    assert usages > 30 and contracts > 10
    assert page.text.count(f'href="/id/kontrakt/{ARENDAL}/') == contracts
    assert page.text.count(f'href="/id/bruk/{ARENDAL}/') == usages
    # Issue 22: a system's contract end is that of the contract covering it (a usage has
    # none of its own), drawn on its lifecycle bar.
    covered = _count(
        national,
        f"""?u kg:usedBy <{demo_base}id/kommune/{ARENDAL}> ; kg:application ?a .
            FILTER EXISTS {{ ?c kg:contractingAuthority <{demo_base}id/kommune/{ARENDAL}> ;
                                kg:covers ?a }}""",
    )
    assert covered > 10
    assert svg.group(0).count("avtalen løper ut / contract ends") == covered
    etree.fromstring(svg.group(0).encode())  # well-formed XML


def test_region_roadmap_shows_members_contracts_ending_together(
    demo_base: str, national: Access
) -> None:
    page = _get(national, f"/region/{VEST_FINNMARK}/veikart?today={TODAY}", "text/html")
    assert page.status == 200, page.text
    members = _count(
        national,
        f"<{demo_base}id/region/{VEST_FINNMARK}> org:hasMember ?m . ?c kg:contractingAuthority ?m",
    )
    assert page.text.count('href="/id/kontrakt/') == members
    # A joint procurement: the members' contracts end together, so the page names it.
    section = page.text.split('id="felles"', 1)[1].split("<h2", 1)[0]
    assert "<li><strong>" in section, section[:500]


def test_unknown_municipality_or_region_is_a_clear_404(national: Access) -> None:
    assert _get(national, "/kommune/9999/veikart").status == 404
    answer = _get(national, "/region/finnes-ikke/frister.ics")
    assert answer.status == 404 and "region" in answer.text
    assert _get(national, f"/kommune/{ARENDAL}/veikart?today=i-morgen").status == 400


# -- deadlines (iCalendar) ------------------------------------------------------------------


def test_deadline_feed_parses_and_holds_contract_ends_and_notice_deadlines(
    demo_base: str,
    national: Access,
) -> None:
    answer = _get(national, f"/kommune/{ARENDAL}/frister.ics")
    assert answer.status == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.body)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    events = list(calendar.walk("VEVENT"))
    for event in events:  # RFC 5545 3.6.1: UID and DTSTAMP required, DTSTART for us
        assert event["UID"] and event["DTSTAMP"] and event["DTSTART"]
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    contracts = national.select(
        PREFIXES
        + f"""SELECT ?c ?end ?notice WHERE {{
          ?c kg:contractingAuthority <{demo_base}id/kommune/{ARENDAL}> ;
             schema:endDate ?end ; kg:noticePeriodMonths ?notice }}"""
    )
    assert contracts
    by_uid = {str(e["UID"]): e for e in events}
    for row in contracts:
        end = datetime.date.fromisoformat(row["end"])
        assert by_uid[row["c"] + "#slutt"].decoded("DTSTART") == end
        deadline = by_uid[row["c"] + "#oppsigelsesfrist"].decoded("DTSTART")
        assert deadline == add_months(end, -int(row["notice"]))
    kinds = {uid.rsplit("#", 1)[1] for uid in uids}
    assert {"slutt", "oppsigelsesfrist", "utfasing", "risikovurdering"} <= kinds, kinds


def test_region_deadline_feed_covers_every_member(demo_base: str, national: Access) -> None:
    answer = _get(national, f"/region/{VEST_FINNMARK}/frister.ics")
    assert answer.status == 200, answer.text
    events = list(Calendar.from_ical(answer.body).walk("VEVENT"))
    owners = {
        str(e["UID"]).split("/id/kontrakt/")[1][:4] for e in events if "/kontrakt/" in str(e["UID"])
    }
    members = {
        row["n"]
        for row in national.select(
            PREFIXES
            + f"""SELECT ?n WHERE {{ <{demo_base}id/region/{VEST_FINNMARK}> org:hasMember ?m .
                  ?m kg:municipalityNumber ?n . ?c kg:contractingAuthority ?m }}"""
        )
    }
    assert owners == members and len(members) > 1


# -- canned queries ---------------------------------------------------------------------------


def _query(national: Access, name: str, **params: str) -> list[dict[str, str]]:
    answer = call(
        national.url,
        "GET",
        f"/queries/{name}",
        params=params,
        headers={"Accept": "application/sparql-results+json"},
        timeout=120,
    )
    assert answer.status == 200, answer.text
    rows = json.loads(answer.body)["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in rows]


def test_contracts_ending_by_region_with_notice_deadlines(national: Access) -> None:
    rows = _query(
        national, "contracts-ending-by-region", region=VEST_FINNMARK, months="24", today=TODAY
    )
    assert rows
    limit = add_months(GENERATED_ON, 24)
    for row in rows:
        end = datetime.date.fromisoformat(row["endDate"])
        assert GENERATED_ON <= end <= limit
        assert datetime.date.fromisoformat(row["noticeDeadline"]) <= end
    joint = [r for r in rows if r["joint"] == "true"]
    assert joint and len({r["kommune"] for r in joint}) > 1


def test_systems_past_planned_phase_out_and_retiring_without_successor(national: Access) -> None:
    late = _query(national, "past-planned-phase-out", today=TODAY)
    assert late
    for row in late:
        dates = [row.get("retirementDate"), row.get("phaseOutDate")]
        assert any(d and d < TODAY for d in dates), row
    orphans = _query(national, "retiring-without-successor", kommune=ALTA)
    everywhere = _query(national, "retiring-without-successor")
    assert len(everywhere) > len(orphans)
    for row in orphans:
        assert row["kommune"].endswith(f"/{ALTA}")
        successor = "<https://w3id.org/kommunegraf/ontology#plannedSuccessor>"
        assert not national.ask(f"ASK {{ <{row['usage']}> {successor} ?s }}")


# -- the round trip, and the change feed -------------------------------------------------


@pytest.fixture(scope="module")
def arendal_workbook(national: Access) -> Iterator[tuple[str, bytes]]:
    current = _get(national, f"/template?kommune={ARENDAL}", timeout=300)
    assert current.status == 200, current.text
    name = current.headers["content-disposition"].split('filename="')[1].rstrip('"')
    yield name, current.body


def _upload(national: Access, token: str, name: str, body: bytes, dry: bool = False) -> Answer:
    path = f"/upload?name={name}" + ("&dry_run=true" if dry else "")
    return call(national.url, "POST", path, body=body, headers=bearer(token), timeout=300)


def _dry_run(national: Access, name: str, body: bytes) -> dict[str, object]:
    answer = _upload(national, national.tokens["arendal"], name, body, dry=True)
    assert answer.status == 200, answer.text
    changes: dict[str, object] = json.loads(answer.body)["changes"]
    return changes


@pytest.fixture(scope="module")
def arendal_unchanged(national: Access, arendal_workbook: tuple[str, bytes]) -> dict[str, Any]:
    """The dry run's answer for the pre-filled workbook sent back unchanged."""
    name, body = arendal_workbook
    answer = _upload(national, national.tokens["arendal"], name, body, dry=True)
    assert answer.status == 200, answer.text
    found: dict[str, Any] = json.loads(answer.body)
    return found


def test_regression_unchanged_workbook_reported_provenance_as_removed_triples(
    demo_base: str, arendal_unchanged: dict[str, Any]
) -> None:
    """Sent back unchanged, the workbook changes not one triple of the data. (The dry run
    counted the description of the administrator's source graph it takes over, its load
    activity and agent, as 6 triples "removed": provenance every load writes anew.) The
    description is counted apart, as what the load writes beside the data."""
    assert arendal_unchanged["supersedes"] == [f"{demo_base}graph/source/kommune-4203-arendal"]
    triples = arendal_unchanged["changes"]["triples"]
    assert triples == {"added": 0, "removed": 0, "unchanged": arendal_unchanged["triples"]}
    assert arendal_unchanged["provenance_triples"] > 0


def test_round_trip_unchanged_is_no_change_one_cell_is_one_change(
    national: Access, arendal_workbook: tuple[str, bytes], arendal_unchanged: dict[str, Any]
) -> None:
    name, body = arendal_workbook
    unchanged = arendal_unchanged["changes"]
    assert (unchanged["added"], unchanged["removed"], unchanged["changed"]) == (0, 0, 0)
    assert unchanged["rows"] == []

    edited, old, new = _one_cell_edited(body)
    changes = _dry_run(national, name, edited)
    assert (changes["added"], changes["removed"], changes["changed"]) == (0, 0, 1), changes
    rows = changes["rows"]
    assert isinstance(rows, list)
    (row,) = rows
    assert row["kind"] == "changed" and row["sheet"] == "Kontrakter" and row["row"] == 3
    assert row["column_nb"] == "Oppsigelsestid (måneder)"
    assert row["old"] == [str(old)] and row["new"] == [str(new)]


def _one_cell_edited(body: bytes) -> tuple[bytes, int, int]:
    """The workbook with the notice period of the first contract three months longer."""
    book = openpyxl.load_workbook(io.BytesIO(body))
    sheet = book["Kontrakter"]
    headers = [c.value for c in sheet[1]]
    column = headers.index("Oppsigelsestid (måneder)") + 1
    old = int(sheet.cell(3, column).value or 0)
    sheet.cell(3, column).value = old + 3
    edited = io.BytesIO()
    book.save(edited)
    return edited.getvalue(), old, old + 3


def _multipart(fields: dict[str, str], name: str, data: bytes) -> tuple[bytes, str]:
    """A browser's form: the fields first (the token before the file), then the file."""
    boundary = "kommunegraf-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _visible(html: str) -> str:
    """The text a reader of the page's language sees: the other language's muted
    alternative, the tags and repeated white space taken out."""
    html = re.sub(r'<span lang="\w+" class="alt">.*?</span>', "", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",").replace(" .", ".")


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("nb", ("Dette endres", "0 nye rader, 0 fjernede rader, 1 endrede celler", "endret")),
        ("en", ("What changes", "0 new rows, 0 removed rows, 1 changed cells", "changed")),
    ],
)
def test_upload_page_previews_the_change_before_loading(
    demo_base: str,
    national: Access,
    arendal_workbook: tuple[str, bytes],
    lang: str,
    words: tuple[str, str, str],
) -> None:
    """The upload page shows what the file would change (counts, and the row behind
    them with its column, old and new value) before its load button, in both languages;
    the check loads nothing."""
    name, body = arendal_workbook
    data, old, new = _one_cell_edited(body)
    form, media = _multipart({"token": national.tokens["arendal"]}, name, data)
    page = call(
        national.url,
        "POST",
        f"/upload/form?lang={lang}",
        body=form,
        headers={"Content-Type": media},
        timeout=300,
    )
    assert page.status == 200, page.text[-2000:]
    assert f'<html lang="{lang}"' in page.text
    section = page.text.split('class="changes"', 1)[1].split("</section>", 1)[0]
    heading, counts, kind = words
    assert heading in _visible(section) and counts in _visible(section), section[:1500]
    # Arendal's rows were loaded by an administrator: the page says their graph is taken over.
    assert f"{demo_base}graph/source/{name.removesuffix('.xlsx')}" in section
    (row,) = re.findall(r"<tr>\s*<td>.*?</tr>", section.split("<tbody>", 1)[1], re.S)
    cells = [_visible(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
    column = "Oppsigelsestid (måneder)" if lang == "nb" else "Notice period (months)"
    assert cells[0] == kind and cells[2] == column and cells[3:] == [str(old), str(new)], cells
    assert "(Kontrakter" in cells[1]
    assert 'name="pending"' in page.text  # the load button comes after the preview
    unchanged = _dry_run(national, name, body)  # nothing was loaded by the check
    assert (unchanged["added"], unchanged["removed"], unchanged["changed"]) == (0, 0, 0)


def test_regression_validate_endpoint_reported_no_change_for_every_file(
    national: Access, arendal_workbook: tuple[str, bytes], tmp_path: Path
) -> None:
    """``kommunegraf validate --endpoint URL``: the counts, and the row behind them with
    its column, old and new value, as the upload's dry run reports them. (It compared an
    empty graph, the checked result's, so every file reported no change.)"""
    name, body = arendal_workbook
    unchanged = tmp_path / name
    unchanged.write_bytes(body)
    checked = kommunegraf("validate", str(unchanged), "--endpoint", national.url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    summary = f"{name}: endringer / changes: 0 nye / added, 0 fjernet / removed, 0 endret / changed"
    assert summary in checked.stdout, checked.stdout[-2000:]

    data, old, new = _one_cell_edited(body)
    edited = tmp_path / "edited" / name
    edited.parent.mkdir()
    edited.write_bytes(data)
    checked = kommunegraf("validate", str(edited), "--endpoint", national.url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert summary.replace("0 endret", "1 endret") in checked.stdout, checked.stdout[-2000:]
    lines = [line for line in checked.stdout.splitlines() if "→" in line]
    assert len(lines) == 1 and lines[0].endswith(f": Oppsigelsestid (måneder): {old} → {new}")
    assert f"/id/kontrakt/{ARENDAL}/" in lines[0]


def _atom_problems(feed: etree._Element) -> list[str]:
    """RFC 4287's required elements: the feed's id, title, updated (once each), an
    author on the feed or on every entry; each entry's id, title, updated, and content
    or an alternate link."""
    problems = []
    for tag in ("id", "title", "updated"):
        if len(feed.findall(ATOM + tag)) != 1:
            problems.append(f"feed {tag}")
    entries = feed.findall(ATOM + "entry")
    if feed.find(ATOM + "author") is None and any(e.find(ATOM + "author") is None for e in entries):
        problems.append("author")
    for entry in entries:
        for tag in ("id", "title", "updated"):
            if len(entry.findall(ATOM + tag)) != 1:
                problems.append(f"entry {tag}")
        alternate = [
            link
            for link in entry.findall(ATOM + "link")
            if link.get("rel", "alternate") == "alternate"
        ]
        if entry.find(ATOM + "content") is None and not alternate:
            problems.append("entry content or alternate link")
    for stamp in feed.iter(ATOM + "updated"):
        datetime.datetime.fromisoformat(stamp.text or "")  # RFC 3339 date-time
    return problems


def test_a_load_appears_in_the_change_feed_of_the_municipality_and_its_region(
    national: Access, arendal_workbook: tuple[str, bytes]
) -> None:
    name, body = arendal_workbook
    loaded = _upload(national, national.tokens["arendal"], name, body)
    assert loaded.status == 200, loaded.text
    # What the check counted is what the load wrote: the data, and beside it the graph's
    # description of itself (the new graph was empty before).
    summary = json.loads(loaded.body)
    written = {c["graph"]: c for c in summary["audit"]["changes"]}[summary["graph"]]
    assert written["added"] == summary["triples"] + summary["provenance_triples"], summary
    answer = _get(national, f"/kommune/{ARENDAL}/endringer.atom")
    assert answer.status == 200 and "atom+xml" in answer.headers["content-type"]
    feed = etree.fromstring(answer.body)
    assert feed.tag == ATOM + "feed" and not _atom_problems(feed)
    entries = feed.findall(ATOM + "entry")
    assert any(name in (e.findtext(ATOM + "content") or "") for e in entries)
    assert any(
        "municipality" in (e.findtext(ATOM + "author/" + ATOM + "name") or "") for e in entries
    )

    alta = TokenFile(national.token_file).create("Alta systemeier", "municipality", (ALTA,))[0]
    alta_book = _get(national, f"/template?kommune={ALTA}", timeout=300)
    alta_name = alta_book.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert _upload(national, alta, alta_name, alta_book.body).status == 200
    region = etree.fromstring(_get(national, f"/region/{VEST_FINNMARK}/endringer.atom").body)
    assert not _atom_problems(region)
    contents = [e.findtext(ATOM + "content") or "" for e in region.findall(ATOM + "entry")]
    assert any(alta_name in c for c in contents) and not any(name in c for c in contents)


# -- one record in the browser form, and its history --------------------------------------


def _form_post(national: Access, fields: dict[str, str]) -> Answer:
    return call(
        national.url,
        "POST",
        "/rediger",
        body=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=300,
    )


def test_edit_one_contract_in_the_form_with_preview_and_history(
    demo_base: str, national: Access
) -> None:
    contract = national.select(
        PREFIXES
        + f"""SELECT ?c ?notice WHERE {{
          ?c kg:contractingAuthority <{demo_base}id/kommune/{ARENDAL}> ;
             kg:noticePeriodMonths ?notice }} ORDER BY ?c LIMIT 1"""
    )[0]
    iri, old = contract["c"], int(contract["notice"])
    form = _get(national, "/rediger?iri=" + urllib.parse.quote(iri, safe=""), "text/html")
    assert form.status == 200, form.text
    labels = dict(re.findall(r'<label for="(c\d+)">([^<*]+)', form.text))
    values = dict(re.findall(r'<input id="(c\d+)" name="c\d+"[^>]*?value="([^"]*)"', form.text))
    notice = next(k for k, v in labels.items() if v.strip() == "Oppsigelsestid (måneder)")
    assert values[notice] == str(old)
    assert form.text.count('type="date"') == 3  # start, end, end with options
    fields = {**values, "iri": iri, "token": national.tokens["arendal"], notice: str(old + 1)}
    stored = f"ASK {{ <{iri}> <https://w3id.org/kommunegraf/ontology#noticePeriodMonths> {old} }}"

    wrong = _form_post(national, {**fields, "token": "feil-nokkel-0123456789abcdef"})
    assert wrong.status in (401, 403) and national.ask(stored)

    preview = _form_post(national, {**fields, "action": "preview"})
    assert preview.status == 200, preview.text
    column = r"<td>Oppsigelsestid \(måneder\) <span lang=\"en\" class=\"alt\">/ Notice period"
    assert re.search(column, preview.text) and national.ask(stored)
    assert re.search(rf"<td>{old}</td>\s*<td>{old + 1}</td>", preview.text)

    saved = _form_post(national, {**fields, "action": "save"})
    assert saved.status == 200 and "Lagret" in saved.text, saved.text[-2000:]
    # Stored in the municipality's own graph, which took over the records (see
    # test_editing_an_admin_loaded_usage_replaces_its_value).
    assert national.ask(stored.replace(f" {old} }}", f" {old + 1} }}"))
    assert not national.ask(stored)
    page = _get(national, "/" + iri[len(demo_base) :], "text/html")
    history = page.text.split('id="endringer"', 1)[1].split("</section>", 1)[0]
    assert f"Oppsigelsestid (måneder): {old} → {old + 1}" in history
    assert "municipality (Arendal systemeier)" in history


# -- a municipality edits what an administrator loaded ----------------------------------------

UTSIRA = "1151"
VERSION = "https://schema.org/softwareVersion"


def _form_fields(page: str) -> dict[str, str]:
    """Every field of the edit form as a browser would send it: inputs and selects."""
    fields = dict(re.findall(r'<input id="(c\d+)" name="c\d+"[^>]*?value="([^"]*)"', page))
    for name, options in re.findall(
        r'<select id="(c\d+)" name="c\d+"[^>]*>(.*?)</select>', page, re.S
    ):
        chosen = re.search(r"<option(?: value=\"\")? selected>([^<]*)</option>", options)
        fields[name] = "" if chosen is None or chosen.group(1) == "–" else chosen.group(1)
    return fields


def _row_of(base: str, name: str, body: bytes, record: str) -> tuple[str, int]:
    """The (sheet, row) the loader reads ``record`` from, in a downloaded workbook."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, name)
        path.write_bytes(body)
        place = read_spreadsheet(path, base, reference_context(base)).rows[URIRef(record)]
    return place[0], place[1]


def test_editing_an_admin_loaded_usage_replaces_its_value(demo_base: str, national: Access) -> None:
    """The demo is loaded by an administrator (graph/source/kommune-1151-utsira). The
    municipality's first edit in the form takes the records over into its own graph, in
    one audited write: one value everywhere, one change in the history, and the workbook
    downloaded after it changes nothing; the administrator's reload of the old file is
    refused instead of undoing the edit."""
    token = TokenFile(national.token_file).create("Utsira systemeier", "municipality", (UTSIRA,))[0]
    source = f"{demo_base}graph/source/kommune-1151-utsira"
    usage = national.select(
        PREFIXES
        + f"""SELECT ?u ?v WHERE {{ GRAPH <{source}> {{
          ?u kg:usedBy <{demo_base}id/kommune/{UTSIRA}> ; <{VERSION}> ?v }} }}
          ORDER BY ?u LIMIT 1"""
    )[0]
    iri, old = usage["u"], usage["v"]
    new = f"{old}-redigert"
    form = _get(national, "/rediger?iri=" + urllib.parse.quote(iri, safe=""), "text/html")
    assert form.status == 200, form.text
    labels = dict(re.findall(r'<label for="(c\d+)">([^<*]+)', form.text))
    version = next(k for k, v in labels.items() if v.strip() == "Versjon")
    fields = {**_form_fields(form.text), "iri": iri, "token": token, version: new}
    assert fields[version] == new and _form_fields(form.text)[version] == old

    preview = _form_post(national, {**fields, "action": "preview"})
    assert preview.status == 200, preview.text
    assert re.search(rf"<td>{re.escape(old)}</td>\s*<td>{re.escape(new)}</td>", preview.text)
    saved = _form_post(national, {**fields, "action": "save"})
    assert saved.status == 200 and "Lagret" in saved.text, saved.text[-2000:]

    # SPARQL: one value, held by the municipality's graph; the source graph is gone whole.
    values = national.select(f"SELECT ?v WHERE {{ <{iri}> <{VERSION}> ?v }}")
    assert [row["v"] for row in values] == [new]
    assert not national.ask(f"ASK {{ GRAPH <{source}> {{ ?s ?p ?o }} }}")
    owner = f"{demo_base}graph/kommune/{UTSIRA}/kommune-1151-utsira"
    assert national.ask(f"ASK {{ GRAPH <{owner}> {{ <{iri}> <{VERSION}> {json.dumps(new)} }} }}")

    # The page: the new value, and a history of exactly this one change, by whom.
    page = _get(national, "/" + iri[len(demo_base) :], "text/html")
    assert page.status == 200
    facts, history = page.text.split('id="endringer"', 1)
    history = history.split("</section>", 1)[0]
    assert f">{new}<" in facts and f">{old}<" not in facts
    assert history.count("→") == 1 and f"Versjon: {old} → {new}" in history, history
    assert "municipality (Utsira systemeier)" in history

    # The audit trail: one event, both graphs' changes counted.
    (event,) = [e for e in national.events() if e.actor == "Utsira systemeier"]
    changed = {c.graph: c for c in event.changes}
    assert changed[source].removed > 0 and changed[source].added == 0
    assert changed[owner].added > 0

    # The workbook downloaded now holds the new value in the usage's row and, sent back
    # unchanged, changes nothing.
    current = _get(national, f"/template?kommune={UTSIRA}", timeout=300)
    name = current.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name == "kommune-1151-utsira.xlsx"
    sheet, row = _row_of(demo_base, name, current.body, iri)
    book = openpyxl.load_workbook(io.BytesIO(current.body))
    headers = [c.value for c in book[sheet][1]]
    assert book[sheet].cell(row, headers.index("Versjon") + 1).value == new
    answer = _upload(national, token, name, current.body, dry=True)
    assert answer.status == 200, answer.text
    dry = json.loads(answer.body)
    assert dry["supersedes"] == []
    changes = dry["changes"]
    assert (changes["added"], changes["removed"], changes["changed"]) == (0, 0, 0), changes

    # The administrator's reload of the old source file would undo the edit: refused.
    original = (DEMO_DATA / name).read_bytes()
    reload = _upload(national, ADMIN, name, original, dry=True)
    assert reload.status == 422, reload.text
    assert owner in reload.text and f"/template?kommune={UTSIRA}" in reload.text
