"""The bounded load test: many clients, a mix of reads, and a reload in the middle.

``python -m bench.loadtest`` (full: 50 clients for 60 s) or ``--small`` (10 clients
for 15 s). Loopback only. Not part of the test suite (too slow); it measures and
records, it asserts nothing about speed.

What runs, against one real ``kommunegraf serve``:

- the clients, each a loop of requests drawn from a fixed mix with a fixed seed:
  SPARQL (the bench's light and heavy queries), canned queries (``/queries/...``,
  every query whose required parameters are a kommunenummer), pages (``/``,
  ``/id/kommune/NNNN``, ``/sok``), and counts of the reloaded graph;
- one client that now and then sends a query that must hit the deadline (a
  cartesian product): those 503s are the deliberate timeouts, counted apart;
- a reload of one municipality's workbook (``POST /upload`` with the write
  token) half-way through: a made-up workbook with 10 usages is loaded before the
  run, one with 20 replaces it in the middle.

- hostile requests mixed into every client's draw (``hostile``): the attacks of
  issue 16 that cost the service before — a 404 with an 8,000-character name (did
  you mean), an RDF/XML body with nested entities, a SPARQL chain of 3,000
  ``MINUS``, a 5 MB form with a wrong token, a made-up HTTP method, U+FFFE in an
  IRI parameter; each must be refused (4xx), never 5xx or no answer;
- a probe that asks a simple query (one municipality, ``LIMIT 1``) four times a
  second throughout, whose answer times say whether the service kept answering
  under all of it (the goal: every answer under 1 s). It runs in a process of its
  own, so the load generator's own work is not counted as the server's.

Each client sends from its own loopback address (127.0.x.y; all of 127/8 is this
machine), as separate machines would: the service shares its query workers fairly
between clients, and tells them apart by address. ``--one-address`` sends everything
from 127.0.0.1, as one client. Load refused by admission control (429/503 with
Retry-After) is counted apart from errors, and the client waits as Retry-After says
before its next request, as real clients do.

Whatever happens, the results are written: a reload that fails or never answers is
recorded with the service's answer, and the probe's p50/p95/p99/max are in every report.

The data is the national demo (``--data demo``, the default of a full run: the
store the tests cache for the same inputs, copied, or built the same way) or the
synthetic bench data (``--data synthetic``, the default of ``--small``).

Reported: requests/s, p50/p99 per kind, errors (anything but 2xx, apart from the
deliberate timeouts), and whether the reload was atomic for readers: every count
of the reloaded graph a reader saw is the old count or the new one, counts from
requests sent after the reload answered are all new, and counts from requests
answered before it was sent are all old.

The workbooks are synthetic and made up ("Lasttest-system NN" by a real vendor
name); the municipality and the reference data are real.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import random
import shutil
import time
import urllib.parse
from collections import Counter, defaultdict
from contextlib import AsyncExitStack, suppress
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pyoxigraph as ox

from bench.dataset import generate
from bench.loadgen import _percentile, busy_cores, cpu_sample
from bench.peers import Kommunegraf
from bench.report import write_result
from loaders.template import write_template
from service.sparql.canned import canned_queries
from tests.security.conftest import ENTITY_BOMB

BENCH = Path(__file__).resolve().parent
TOKEN = "loadtest-token-0123456789abcdef0"  # noqa: S105 - a token for a throw-away loopback server
MUNICIPALITY = "4203"
"""Arendal: the municipality whose workbook is reloaded."""
WORKBOOK_NAME = "lasttest-portefolje.xlsx"
OLD_USAGES = 10
NEW_USAGES = 20
SPARQL_ACCEPT = "application/sparql-results+json"
CARTESIAN = "SELECT (COUNT(*) AS ?c) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
"""Runs for minutes on any real data: the deliberate timeout."""

MIX = {
    "sparql-light": 30,
    "sparql-heavy": 4,
    "canned": 26,
    "page": 25,
    "reloaded-count": 15,
    "hostile": 6,
}
"""Relative weights of the request kinds each client draws from."""


PROBE = (
    "PREFIX kg: <https://w3id.org/kommunegraf/ontology#>\n"
    "SELECT ?m WHERE { ?m a kg:Municipality } LIMIT 1"
)
"""The simple query the probe asks throughout."""
PROBE_EVERY = 0.25
PROBE_GOAL_MS = 1000.0

_LONG_NAME = "".join(chr(ord("a") + (n * 7) % 26) for n in range(8000))
_MINUS_CHAIN = "SELECT * WHERE { ?s ?p ?o " + "MINUS { ?s ?p ?o } " * 3000 + "}"
_BOUNDARY = "loadtest-boundary"
_WRONG_TOKEN_FORM = (
    f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="token"\r\n\r\n'
    f'{"w" * 40}\r\n--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
    'filename="stor.csv"\r\nContent-Type: text/csv\r\n\r\n'
).encode() + b"a;b\r\n" * (1024 * 1024)
HOSTILE = (
    "did-you-mean",
    "entity-bomb",
    "minus-chain",
    "wrong-token-form",
    "made-up-method",
    "noncharacter-iri",
)
"""The attacks of issue 16 that a client can send without a token (the entity bomb
goes with the admin token: it attacks the parser, which runs only for writers)."""


class ReloadedGraphStore(Kommunegraf):
    """The bench's kommunegraf peer, with a write token so the reload can be sent."""

    def __init__(self, work: Path, query_workers: int, query_timeout: float) -> None:
        super().__init__(work, query_workers, query_timeout)
        self.key = "kommunegraf-loadtest"
        self.base_iri: str | None = None
        """The base the store's data was loaded with, when it is not the default."""

    def env(self) -> dict[str, str]:
        base = {"KOMMUNEGRAF_BASE_IRI": self.base_iri} if self.base_iri else {}
        return {**super().env(), "KOMMUNEGRAF_TOKEN": TOKEN, **base}


def national_demo(target: Path, built: Path | None = None) -> tuple[int, str]:
    """Put a copy of the national demo store at ``target``; returns its quads and the
    base IRI it was loaded with (the tests' server's, which the server here must use).

    The tests build that store once per change of its inputs and cache it
    (``tests/conftest.py``): the cached build for these inputs is copied, or built
    first the same way (a few minutes) and cached for the tests too. ``built``: a store
    built before (an earlier cache entry: the data is the same unless the loaders
    changed), copied instead.
    """
    from tests.conftest import cached_demo_store

    cached = built or cached_demo_store()
    for leftover in target.parent.glob(target.name + "*"):  # store, snapshots, audit log
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    shutil.copytree(cached, target)
    store = ox.Store.read_only(str(target))
    try:
        found = store.query(
            "SELECT ?m WHERE { ?m a <https://w3id.org/kommunegraf/ontology#Municipality> } LIMIT 1",
            use_default_graph_as_union=True,
        )
        assert isinstance(found, ox.QuerySolutions)
        municipality = next(iter(found))["m"]
        assert isinstance(municipality, ox.NamedNode)
        return len(store), municipality.value.split("id/kommune/")[0]
    finally:
        del store


# --- the workbook that is reloaded ----------------------------------------------------


def write_workbook(folder: Path, usages: int) -> Path:
    """A filled template: one real vendor, ``usages`` made-up systems used by Arendal."""
    template = folder / "mal.xlsx"
    if not template.exists():
        write_template(template)
    book = openpyxl.load_workbook(template)
    book["Leverandører"].append(["Visma Software AS", "974760673", "https://www.visma.no"])
    for n in range(usages):
        name = f"Lasttest-system {n:02d}"
        book["Applikasjoner"].append(
            [name, "Visma Software AS", "Sak/arkiv", "Oppdiktet system for lasttesten", ""]
        )
        book["Systemportefølje"].append(
            [MUNICIPALITY, name, f"1.{n}", "SaaS / sky", "I bruk", "Lasttest", str(10 + n)]
        )
    target = folder / f"workbook-{usages}.xlsx"
    book.save(target)
    return target


# --- one run ----------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    started: float
    ended: float
    status: int
    """0 when no HTTP answer came (connection error, client timeout); -1 when a count's
    answer could not be read."""
    count: int | None = None
    """For reloaded-count: the triples of the reloaded graph the reader saw."""
    target: str = ""
    """The path requested, and the client error if no answer came (for the error detail)."""
    shed: bool = False
    """Refused at once by admission control: 429 or 503 with Retry-After."""
    retry_after: float = 0.0
    """The Retry-After the answer asked for (seconds), 0 if none."""


@dataclass
class Plan:
    base: str
    light: str
    heavy: str
    canned: list[tuple[str, bool]]
    """Canned query names, and whether each takes a kommune parameter."""
    municipalities: list[str]
    graph: str
    samples: list[Sample] = field(default_factory=list)
    reload: dict[str, Any] = field(default_factory=dict)


def _count_query(graph: str) -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"


def _request(plan: Plan, kind: str, rng: random.Random) -> tuple[str, str, dict[str, str], bytes]:
    """Method, path, headers and body of one request of ``kind``."""
    query_headers = {"Content-Type": "application/sparql-query", "Accept": SPARQL_ACCEPT}
    if kind == "sparql-light":
        return "POST", "/sparql", query_headers, plan.light.encode()
    if kind == "sparql-heavy":
        return "POST", "/sparql", query_headers, plan.heavy.encode()
    if kind == "reloaded-count":
        return "POST", "/sparql", query_headers, _count_query(plan.graph).encode()
    if kind == "deliberate-timeout":
        return "POST", "/sparql", query_headers, CARTESIAN.encode()
    if kind == "hostile":
        attack = rng.choice(HOSTILE)
        method, path, headers, body = _hostile(attack)
        return method, path, {**headers, "X-Request-ID": attack}, body  # named in the log
    if kind == "canned":
        name, takes_kommune = rng.choice(plan.canned)
        params = {"kommune": rng.choice(plan.municipalities)} if takes_kommune else {}
        path = f"/queries/{name}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        return "GET", path, {"Accept": SPARQL_ACCEPT}, b""
    page = rng.choice(["home", "municipality", "search"])
    html = {"Accept": "text/html"}
    if page == "home":
        return "GET", "/", html, b""
    if page == "municipality":
        return "GET", f"/id/kommune/{rng.choice(plan.municipalities)}", html, b""
    return (
        "GET",
        "/sok?" + urllib.parse.urlencode({"q": rng.choice(["Ber", "sak", "Vest"])}),
        html,
        b"",
    )


def _hostile(attack: str) -> tuple[str, str, dict[str, str], bytes]:
    """Method, path, headers and body of one attack (see ``HOSTILE``)."""
    if attack == "did-you-mean":
        return "GET", f"/id/kommune/{_LONG_NAME}", {"Accept": "text/html"}, b""
    if attack == "entity-bomb":
        graph = urllib.parse.quote("http://example.org/loadtest/xml", safe="")
        headers = {"Content-Type": "application/rdf+xml", "Authorization": f"Bearer {TOKEN}"}
        return "PUT", f"/store?graph={graph}", headers, ENTITY_BOMB
    if attack == "minus-chain":
        headers = {"Content-Type": "application/sparql-query", "Accept": SPARQL_ACCEPT}
        return "POST", "/sparql", headers, _MINUS_CHAIN.encode()
    if attack == "wrong-token-form":
        media = {"Content-Type": f"multipart/form-data; boundary={_BOUNDARY}"}
        return "POST", "/upload/form", media, _WRONG_TOKEN_FORM
    if attack == "made-up-method":
        return "XMETHOD", "/", {}, b""
    iri = urllib.parse.quote("http://example.org/x\ufffe", safe="")
    return "GET", f"/sparql?query=ASK%7B%7D&default-graph-uri={iri}", {}, b""


async def _send(
    client: httpx.AsyncClient, plan: Plan, kind: str, rng: random.Random, clock: float
) -> Sample:
    method, path, headers, body = _request(plan, kind, rng)
    started = time.perf_counter() - clock
    count = None
    shed = False
    retry_after = 0.0
    target = headers.get("X-Request-ID") or path.split("?")[0]
    try:
        response = await client.request(method, path, headers=headers, content=body or None)
        status = response.status_code
        shed = status in (429, 503) and "retry-after" in response.headers
        if shed:
            try:
                retry_after = max(0.0, float(response.headers["retry-after"]))
            except ValueError:
                retry_after = 1.0  # an HTTP date: not sent by kommunegraf
        if kind == "reloaded-count" and status == 200:
            count = int(response.json()["results"]["bindings"][0]["n"]["value"])
    except httpx.HTTPError as error:
        status = 0
        target += f" ({type(error).__name__})"
    except (ValueError, LookupError) as error:  # a 200 whose body is not the count
        status = -1
        target += f" ({type(error).__name__})"
    ended = time.perf_counter() - clock
    return Sample(kind, started, ended, status, count, target, shed, retry_after)


async def _wait_as_told(sample: Sample, plan: Plan, clock: float, end: float) -> None:
    """Wait as a 429/503's Retry-After says, as real clients do; past the run's end (while
    the reload is still awaited) at most 5 s, so the run ends soon after it answers."""
    if sample.retry_after > 0:
        left = end - (time.perf_counter() - clock)
        await asyncio.sleep(min(sample.retry_after, max(left, 5.0)))


def _running(plan: Plan, clock: float, end: float) -> bool:
    """Until ``end``, and on until a few seconds after the reload answered (≤ 10 minutes)."""
    now = time.perf_counter() - clock
    answered = plan.reload.get("answered_s")
    return now < end or (now < 600 and (answered is None or now < answered + 5))


async def _client(
    client: httpx.AsyncClient, plan: Plan, seed: int, clock: float, end: float
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    kinds = list(MIX)
    weights = list(MIX.values())
    while _running(plan, clock, end):
        kind = rng.choices(kinds, weights)[0]
        sample = await _send(client, plan, kind, rng, clock)
        plan.samples.append(sample)
        await _wait_as_told(sample, plan, clock, end)


async def _reader(client: httpx.AsyncClient, plan: Plan, clock: float, end: float) -> None:
    """Counts the reloaded graph back to back, so every phase of the reload is read."""
    rng = random.Random(1)  # noqa: S311
    while _running(plan, clock, end):
        sample = await _send(client, plan, "reloaded-count", rng, clock)
        plan.samples.append(sample)
        await _wait_as_told(sample, plan, clock, end)


def _probe(base: str, address: str, clock: float, stop: Any, out: Connection) -> None:
    """The simple query, every ``PROBE_EVERY`` seconds, on a connection of its own, in a
    process of its own (until ``stop`` is set); sends back (started, ended, status) each.

    Why a process: in the load generator's process the probe's answer waited for the
    event loop that handles the 50 clients' answers, and that wait was counted as the
    server's. ``time.perf_counter`` is the system's monotonic clock, the same in both."""
    samples: list[tuple[float, float, int]] = []
    headers = {"Content-Type": "application/sparql-query", "Accept": SPARQL_ACCEPT}
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=base, timeout=120, transport=transport) as client:
        while not stop.is_set():
            started = time.perf_counter() - clock
            try:
                status = client.post("/sparql", content=PROBE.encode(), headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            samples.append((started, time.perf_counter() - clock, status))
            stop.wait(PROBE_EVERY)
    out.send(samples)
    out.close()


async def _deliberate(
    client: httpx.AsyncClient, plan: Plan, every: float, clock: float, end: float
) -> None:
    rng = random.Random(0)  # noqa: S311
    while time.perf_counter() - clock + every < end:
        await asyncio.sleep(every)
        plan.samples.append(await _send(client, plan, "deliberate-timeout", rng, clock))


async def _reload(
    client: httpx.AsyncClient, plan: Plan, workbook: Path, at: float, clock: float
) -> None:
    await asyncio.sleep(at)
    sent = time.perf_counter() - clock
    try:
        response = await client.post(
            "/upload?" + urllib.parse.urlencode({"name": WORKBOOK_NAME}),
            content=workbook.read_bytes(),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=300,
        )
    except httpx.HTTPError as error:  # recorded, not fatal: the rest of the run still counts
        plan.reload = {
            "sent_s": round(sent, 3),
            "answered_s": round(time.perf_counter() - clock, 3),
            "status": 0,
            "error": type(error).__name__,
        }
        return
    answer: dict[str, Any] = {}
    with suppress(ValueError):
        answer = response.json() if response.status_code < 500 else {}
    plan.reload = {
        "sent_s": round(sent, 3),
        "answered_s": round(time.perf_counter() - clock, 3),
        "status": response.status_code,
        "loaded": answer.get("loaded"),
    }
    if response.status_code != 200 or not answer.get("loaded"):
        plan.reload["error"] = response.text[:500]  # the service's own words


async def _upload(base: str, workbook: Path) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        response = await client.post(
            "/upload?" + urllib.parse.urlencode({"name": WORKBOOK_NAME}),
            content=workbook.read_bytes(),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        summary: dict[str, Any] = response.json()
        if response.status_code != 200 or not summary.get("loaded"):
            raise RuntimeError(f"not loaded ({response.status_code}): {str(summary)[:2000]}")
        return summary


async def _count(base: str, graph: str) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        response = await client.post(
            "/sparql",
            content=_count_query(graph).encode(),
            headers={"Content-Type": "application/sparql-query", "Accept": SPARQL_ACCEPT},
        )
        response.raise_for_status()
        return int(response.json()["results"]["bindings"][0]["n"]["value"])


async def _count_after(base: str, graph: str, old: int) -> int:
    """The graph's size once the load is over; tried a few times (a busy service may shed
    the first ask), and the old size if it never answers, so the run is still recorded."""
    for attempt in range(5):
        try:
            return await _count(base, graph)
        except httpx.HTTPError as error:
            print(f"counting after the run: {error!r}; again …", flush=True)
            await asyncio.sleep(2 * (attempt + 1))
    return old


def _address(n: int) -> str:
    """The loopback address of client ``n`` (all of 127/8 is this machine)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


async def run_load(
    plan: Plan,
    *,
    clients: int,
    duration: float,
    new_workbook: Path,
    deliberate_every: float,
    one_address: bool = False,
) -> float:
    """Run the clients, the deliberate timeouts and the reload; the seconds it took.

    Each client sends from its own loopback address, as separate machines would (the
    service shares its workers fairly between addresses); the probe from 127.0.0.2.
    ``one_address``: everything from 127.0.0.1, as one client would.
    """
    async with AsyncExitStack() as stack:

        async def connect(address: str) -> httpx.AsyncClient:
            transport = httpx.AsyncHTTPTransport(
                local_address="127.0.0.1" if one_address else address
            )
            return await stack.enter_async_context(
                httpx.AsyncClient(base_url=plan.base, timeout=120, transport=transport)
            )

        shared = await connect("127.0.0.1")
        own = [await connect(_address(seed)) for seed in range(clients)]
        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        receiver, sender = context.Pipe(duplex=False)
        clock = time.perf_counter()
        address = "127.0.0.1" if one_address else "127.0.0.2"
        prober = context.Process(
            target=_probe, args=(plan.base, address, clock, stop, sender), daemon=True
        )
        prober.start()
        sender.close()
        try:
            await asyncio.gather(
                *(_client(own[seed], plan, seed, clock, duration) for seed in range(clients)),
                _deliberate(shared, plan, deliberate_every, clock, duration),
                _reader(shared, plan, clock, duration),
                _reload(shared, plan, new_workbook, duration / 2, clock),
            )
        finally:
            stop.set()
            probes = await asyncio.to_thread(receiver.recv)
            prober.join(timeout=30)
        target = "/sparql"
        plan.samples += [Sample("probe", a, b, status, None, target) for a, b, status in probes]
        return time.perf_counter() - clock


# --- the report --------------------------------------------------------------------------


def _timing(samples: list[Sample], seconds: float) -> dict[str, Any]:
    latencies = sorted((s.ended - s.started) * 1000 for s in samples)
    statuses = Counter(s.status for s in samples)
    return {
        "requests": len(samples),
        "rps": round(len(samples) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(_percentile(latencies, 50), 1),
        "p99_ms": round(_percentile(latencies, 99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def atomicity(plan: Plan, old: int, new: int) -> dict[str, Any]:
    """What the readers of the reloaded graph saw, against the before and after counts."""
    seen = [s for s in plan.samples if s.kind == "reloaded-count" and s.count is not None]
    sent, answered = plan.reload.get("sent_s", 0.0), plan.reload.get("answered_s", 0.0)
    mixed = sorted({s.count for s in seen if s.count is not None and s.count not in (old, new)})
    stale = [s for s in seen if s.started > answered and s.count != new]
    early = [s for s in seen if s.ended < sent and s.count != old]
    return {
        "old_count": old,
        "new_count": new,
        "reads": len(seen),
        "counts_seen": dict(Counter(str(s.count) for s in seen)),
        "reads_during_reload": sum(1 for s in seen if s.ended >= sent and s.started <= answered),
        "mixed_counts": mixed,
        "stale_after_reload": len(stale),
        "new_before_reload": len(early),
        "both_seen": old in {s.count for s in seen} and new in {s.count for s in seen},
        "atomic": not mixed and not stale and not early and old != new,
    }


def summarise(plan: Plan, seconds: float, old: int, new: int) -> dict[str, Any]:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in plan.samples:
        by_kind[sample.kind].append(sample)
    regular = [s for s in plan.samples if s.kind not in ("deliberate-timeout", "hostile")]
    deliberate = by_kind.get("deliberate-timeout", [])
    shed = [s for s in regular if s.shed]
    errors = [s for s in regular if not 200 <= s.status < 300 and not s.shed]
    hostile = by_kind.get("hostile", [])
    probes = by_kind.get("probe", [])
    probe_ms = [(s.ended - s.started) * 1000 for s in probes]
    return {
        "overall": _timing(regular, seconds),
        "by_kind": {kind: _timing(samples, seconds) for kind, samples in sorted(by_kind.items())},
        "errors": len(errors),
        "shed": len(shed),
        "shed_by_kind": dict(Counter(f"{s.kind} {s.status}" for s in shed)),
        "error_detail": dict(Counter(f"{s.target} {s.status}" for s in errors)),
        "deliberate_timeouts": {
            "sent": len(deliberate),
            "answered_503": sum(1 for s in deliberate if s.status == 503),
            "other": dict(Counter(str(s.status) for s in deliberate if s.status != 503)),
        },
        "reload": plan.reload,
        "atomicity": atomicity(plan, old, new),
        "hostile": {
            "sent": len(hostile),
            "by_attack": dict(Counter(f"{s.target} {s.status}" for s in hostile)),
            "refused_4xx": sum(1 for s in hostile if 400 <= s.status < 500),
            "shed": sum(1 for s in hostile if s.shed and s.status == 503),
            "failed": sum(1 for s in hostile if not 400 <= s.status < 500 and not s.shed),
        },
        "probe": {
            "sent": len(probes),
            "p50_ms": round(_percentile(sorted(probe_ms), 50), 1) if probe_ms else None,
            "p95_ms": round(_percentile(sorted(probe_ms), 95), 1) if probe_ms else None,
            "max_ms": round(max(probe_ms), 1) if probe_ms else None,
            "p99_ms": round(_percentile(sorted(probe_ms), 99), 1) if probe_ms else None,
            "over_goal": sum(1 for ms in probe_ms if ms >= PROBE_GOAL_MS),
            "slow": [
                {"sent_s": round(s.started, 2), "ms": round((s.ended - s.started) * 1000)}
                for s in probes
                if (s.ended - s.started) * 1000 >= PROBE_GOAL_MS
            ],
            "reload_window_s": [plan.reload.get("sent_s"), plan.reload.get("answered_s")],
            # Every answer (sent at, ms, status): where in the run, and so around which of
            # the reload's writes, each slow one came.
            "timeline": [
                [round(s.started, 2), round((s.ended - s.started) * 1000, 1), s.status]
                for s in probes
            ],
            "not_ok": sum(1 for s in probes if s.status != 200),
            "goal_ms": PROBE_GOAL_MS,
        },
    }


def _verdict(atomic: dict[str, Any]) -> str:
    if atomic["atomic"]:
        return "yes"
    if atomic["old_count"] == atomic["new_count"]:
        return "not shown (the graph did not change: the reload was not loaded)"
    return "NO"


def markdown(results: dict[str, Any]) -> str:
    summary = results["summary"]
    setup = results["setup"]
    atomic = summary["atomicity"]
    probe = summary["probe"]
    hostile = summary["hostile"]
    lines = [
        f"# Lasttest / load test — {results['date']}",
        "",
        f"{setup['clients']} clients for {setup['duration_s']:g} s (until reads after the "
        f"reload were seen: {setup['window_s']:g} s in all) against one "
        f"`kommunegraf serve` (loopback, {setup['query_workers']} query workers, "
        f"deadline {setup['query_timeout_s']:g} s; admission control: "
        f"{setup.get('admission', 'none')}) on {setup['data']} "
        f"({setup['quads']:,} quads). Machine: "
        f"{setup['cpus']} CPUs; busy cores during the run, all processes: "
        f"{setup['busy_cores']} (the load generator runs on the same machine); clients: "
        f"{setup.get('addresses', 'all from 127.0.0.1')}; load average "
        f"before {' '.join(setup.get('load_average_before', []))}, after "
        f"{' '.join(setup['load_average_after'])}.",
        "",
        "| kind | requests | requests/s | p50 ms | p99 ms | max ms | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    rows = [("**all but deliberate timeouts**", summary["overall"])]
    rows += list(summary["by_kind"].items())
    for kind, timing in rows:
        statuses = ", ".join(f"{k}: {v}" for k, v in timing["statuses"].items())
        lines.append(
            f"| {kind} | {timing['requests']} | {timing['rps']} | {timing['p50_ms']} | "
            f"{timing['p99_ms']} | {timing['max_ms']} | {statuses} |"
        )
    deliberate = summary["deliberate_timeouts"]
    lines += [
        "",
        f"**Errors** (anything but 2xx, deliberate timeouts and shed load apart): "
        f"{summary['errors']}" + (f" — {summary['error_detail']}" if summary["errors"] else ""),
        "",
        f"**Shed** (refused at once by admission control, 429/503 with Retry-After; the "
        f"clients wait as told before their next request): {summary.get('shed', 0)}"
        + (f" — {summary['shed_by_kind']}" if summary.get("shed") else ""),
        "",
        f"**Deliberate timeouts**: {deliberate['sent']} sent, {deliberate['answered_503']} "
        f"stopped at the deadline with 503"
        + (f", other answers {deliberate['other']}" if deliberate["other"] else "")
        + ".",
        "",
        f"**Reload** of {setup['municipality']}'s workbook ({OLD_USAGES} → {NEW_USAGES} usages) "
        f"sent at {summary['reload'].get('sent_s')} s, answered at "
        f"{summary['reload'].get('answered_s')} s with {summary['reload'].get('status')}"
        + (
            f" — **not loaded**: {summary['reload']['error']!r}"
            if summary["reload"].get("error")
            else ""
        )
        + ".",
        "",
        f"**Probe** (`{PROBE.splitlines()[-1]}` every {PROBE_EVERY:g} s on its own "
        f"connection, from a process of its own): {probe['sent']} answers, p50 "
        f"{probe.get('p50_ms')} ms, p95 "
        f"{probe.get('p95_ms')} ms, p99 {probe['p99_ms']} ms, max {probe['max_ms']} ms; "
        f"{probe['over_goal']} at or over {PROBE_GOAL_MS:g} ms, "
        f"{probe['not_ok']} not 200. **Under {PROBE_GOAL_MS:g} ms throughout: "
        f"{'yes' if not probe['over_goal'] and not probe['not_ok'] else 'NO'}.**",
        "",
        f"**Hostile requests** mixed in: {hostile['sent']} sent, {hostile['refused_4xx']} "
        f"refused with 4xx, {hostile.get('shed', 0)} shed by admission control (503 with "
        f"Retry-After), {hostile['failed']} otherwise — {hostile['by_attack']}.",
        "",
        f"**Atomic for readers: {_verdict(atomic)}"
        + ("" if atomic["both_seen"] else " (but readers did not see both states)")
        + ".** "
        f"{atomic['reads']} reads of the graph's size; old {atomic['old_count']} triples, "
        f"new {atomic['new_count']}; counts seen {atomic['counts_seen']}; "
        f"{atomic['reads_during_reload']} reads overlapped the reload; "
        f"counts that were neither: {atomic['mixed_counts'] or 'none'}; old counts after the "
        f"reload answered: {atomic['stale_after_reload']}; new counts before it was sent: "
        f"{atomic['new_before_reload']}.",
        "",
    ]
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest",
        description="Bounded load test of kommunegraf: many clients, a mix of reads, "
        "and a reload of one municipality's workbook in the middle.",
    )
    parser.add_argument("--small", action="store_true", help="10 clients for 15 s")
    parser.add_argument("--clients", type=int, help="concurrent clients [50]")
    parser.add_argument("--duration", type=float, help="seconds [60]")
    parser.add_argument("--triples", type=int, help="size of the synthetic data [150000]")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--query-workers",
        type=int,
        default=(os.cpu_count() or 2) + 1,
        help="query worker processes [nproc + 1: the deliberate timeouts hold one at times]",
    )
    parser.add_argument(
        "--query-timeout", type=float, default=30.0, help="deadline, s [30, the service's default]"
    )
    parser.add_argument(
        "--deliberate-every",
        type=float,
        help="seconds between deliberate timeouts [a third of the duration]",
    )
    parser.add_argument(
        "--data",
        choices=("demo", "synthetic"),
        help="the national demo, or the synthetic bench data [demo; synthetic with --small]",
    )
    parser.add_argument(
        "--one-address",
        action="store_true",
        help="every client from 127.0.0.1, as one client [each its own loopback address]",
    )
    parser.add_argument(
        "--demo-store",
        type=Path,
        help="a national demo store built before, copied [the tests' cache for this code]",
    )
    parser.add_argument("--work-dir", type=Path, default=BENCH / "work")
    parser.add_argument("--results-dir", type=Path)
    args = parser.parse_args(argv)
    args.clients = args.clients or (10 if args.small else 50)
    args.duration = args.duration or (15.0 if args.small else 60.0)
    args.triples = args.triples or (115_000 if args.small else 150_000)
    args.deliberate_every = args.deliberate_every or args.duration / 3
    args.data = args.data or ("synthetic" if args.small else "demo")
    if args.results_dir is None:
        args.results_dir = args.work_dir / "results" if args.small else BENCH / "results"
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    work = args.work_dir / "loadtest"
    work.mkdir(parents=True, exist_ok=True)
    old_workbook = write_workbook(work, OLD_USAGES)
    new_workbook = write_workbook(work, NEW_USAGES)
    peer = ReloadedGraphStore(work / "server", args.query_workers, args.query_timeout)
    if args.data == "demo":
        print("data: the national demo …", flush=True)
        quads, peer.base_iri = national_demo(peer.store, args.demo_store)
        data = "the national demo (loaders/demo: real municipalities, made-up portfolios)"
    else:
        print(f"data: {args.triples:,} triples (seed {args.seed}) …", flush=True)
        dataset = generate(args.work_dir / "data", seed=args.seed, target_triples=args.triples)
        peer.load(dataset)
        quads = dataset.info.quads
        data = "the synthetic bench data (made up, see bench/README.md)"
    peer.start()
    try:
        base = f"http://127.0.0.1:{peer.port}"
        if not base.startswith("http://127.0.0.1:"):
            raise SystemExit("the load test only runs against this machine")
        loaded = asyncio.run(_upload(base, old_workbook))
        graph = str(loaded["graph"])
        old = asyncio.run(_count(base, graph))
        bench_queries = BENCH / "queries"
        kommune_queries = [
            (name, any(p.type == "kommunenummer" for p in query.parameters))
            for name, query in sorted(canned_queries().items())
            if all(p.type == "kommunenummer" for p in query.parameters if p.required)
        ]
        municipalities = [MUNICIPALITY, "0301", "4601", "5001", "3201", "1108", "5616", "3301"]
        plan = Plan(
            base=base,
            light=(bench_queries / "light.rq").read_text(encoding="utf-8"),
            heavy=(bench_queries / "heavy.rq").read_text(encoding="utf-8"),
            canned=kommune_queries,
            municipalities=municipalities,
            graph=graph,
        )
        print(
            f"running: {args.clients} clients for {args.duration:g} s; reload of <{graph}> "
            f"({old} triples) in the middle …",
            flush=True,
        )
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        before = cpu_sample()
        seconds = asyncio.run(
            run_load(
                plan,
                clients=args.clients,
                duration=args.duration,
                new_workbook=new_workbook,
                deliberate_every=args.deliberate_every,
                one_address=args.one_address,
            )
        )
        busy = busy_cores(before, cpu_sample())
        new = asyncio.run(_count_after(base, graph, old))
        usage = peer.usage()
    finally:
        peer.stop()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "setup": {
            "clients": args.clients,
            "duration_s": args.duration,
            "window_s": round(seconds, 1),
            "query_workers": args.query_workers,
            "query_timeout_s": args.query_timeout,
            "deliberate_every_s": args.deliberate_every,
            "quads": quads,
            "data": data,
            "seed": args.seed,
            "municipality": MUNICIPALITY,
            "canned_queries": [name for name, _ in plan.canned],
            "mix": MIX,
            "cpus": len(os.sched_getaffinity(0)),
            "busy_cores": busy,
            "load_average_before": load_before,
            "load_average_after": Path("/proc/loadavg").read_text().split()[:3],
            "admission": "defaults: 1 worker kept for cheap queries, 64 waiting per lane",
            "addresses": "all from 127.0.0.1"
            if args.one_address
            else "each client from its own loopback address, the probe from 127.0.0.2",
            "server": asdict(usage),
        },
        "summary": summarise(plan, seconds, old, new),
    }
    write_result(results, "loadtest", markdown, folder=args.results_dir, keep_earlier=True)
    summary = results["summary"]
    atomic = summary["atomicity"]["atomic"] and summary["atomicity"]["both_seen"]
    return 0 if summary["errors"] == 0 and atomic else 1


if __name__ == "__main__":
    raise SystemExit(main())
