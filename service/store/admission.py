"""Admission control in front of the query workers: who runs next, and who is told to wait.

Why: a deadline bounds how long one query runs, not how long the next one waits. The
load test of issue 16 (50 clients against the national demo) had a one-line query wait
12.4 s behind heavy queries and pages queued for the three workers, and the queue
could grow without bound. Here:

- **Two lanes.** A query is *cheap* when its shape ran fast recently (``CostBook``),
  or, never seen, when its text looks cheap (``looks_cheap``: ASK, or a LIMIT without
  ordering, grouping or aggregates). ``reserved`` workers are kept for cheap queries:
  general queries hold at most ``size - reserved`` workers, so a cheap query finds a
  worker even when heavy ones fill the rest. Cheap queries may take any free worker the
  general lane does not claim: it comes first on the workers not kept.
- **A budget in the cheap lane.** A cheap query that has used ``CHEAP_BUDGET`` seconds
  of CPU (not of waiting for a core on a busy machine) was misjudged: the pool kills its
  worker (workers stay killable) and runs it again in the general lane; its shape is
  remembered as heavy, and its client may not use the cheap lane for ``BAR_SECONDS``.
  So a client that dresses heavy queries up as cheap costs the reserved worker at most
  one budget per bar.
- **Fair, and the cheapest first.** Each client (its address, or the name of a valid
  token) has its own queue in each lane, and each query waits with what it is expected
  to cost (its shape's recent CPU seconds, ``CostBook.expected``). A lane is served in
  self-clocked fair queueing (Golestani 1994): a query's tag is its client's previous
  tag (or the lane's clock, the tag last served, if that is later) plus its cost, and
  a free worker goes to the smallest tag. So a one-row lookup is served before the
  queries of 0.3 s that queued before it, a client's second query counts after its
  first, and nobody waits for ever: the clock passes every tag. Before, a lane was
  served in turn by client, which with one query per client was first come first
  served: after a write emptied the answer cache, the load test's probe (0.3 ms)
  waited 11 s behind 33 canned queries of up to 2 s each in the cheap lane, and the
  reload's own lookups 7-23 s each.
- **Bounded.** At most ``queue_limit`` queries wait in a lane, at most
  ``client_limit`` of them from one client, and none joins a lane where it would wait
  more than ``MAX_WAIT`` seconds (expected from recent run times). Past that the
  query is refused at once with 429 (the client holds its share) or 503 (the lane is
  full of others' fair shares), with ``Retry-After``; when the lane is full, the client
  holding most of it loses its newest waiting query, not the newcomer.

Deadlines are unchanged: they count from the moment a worker takes the query.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections import Counter, OrderedDict, deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache

from service.errors import QueryError

SERVICE = "service"
"""The client of the queries the service asks on its own (catalogues, start-up): served
after every waiting request's, since nobody waits for them."""
CLIENT: ContextVar[str] = ContextVar("kommunegraf_query_client", default=SERVICE)
"""Who a query is run for: set per HTTP request (``service.web.admission``); queries
the service asks on its own share the client ``SERVICE``."""

ANONYMOUS = "addr:"
"""The clients known only by address. Only they are refused or evicted when a lane is
full: a token holder's write (an upload, an update) and the service's own work queue
instead, fairly, since a token is accountable and its use audited."""
CHEAP_SECONDS = 0.5
"""A shape whose recent cost (moving average of CPU seconds) is under this is cheap."""
CHEAP_BUDGET = 1.5
"""CPU seconds a query may use in the cheap lane before it is taken for heavy."""
BAR_SECONDS = 60.0
"""How long a client whose cheap query overran stays out of the cheap lane."""
MAX_WAIT = 10.0
"""A lane is full when a query joining it would wait longer than this (expected from
recent run times), or when ``queue_limit`` queries wait in it."""
_SHAPE_TEXT_LIMIT = 4096
"""Longer texts are never cheap and not remembered (reading them costs)."""
_SHAPES_KEPT = 4096
_LIMIT_MAX = 1000


class AdmissionRefusedError(QueryError):
    """Too many queries waiting: refused at once, with when to come back."""

    def __init__(self, status: int, retry_after: int, waiting: int) -> None:
        if status == 429:
            nb = f"Du har allerede {waiting} spørringer i kø. Vent litt og prøv igjen."
            en = f"You already have {waiting} queries waiting. Wait and try again."
        else:
            nb = "Tjenesten har for mange spørringer i kø. Prøv igjen om litt."
            en = "The service has too many queries waiting. Try again shortly."
        super().__init__(
            status,
            nb,
            en,
            f"Prøv igjen om {retry_after} s. / Retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


# --- what a query is likely to cost ------------------------------------------------

_IRI = re.compile(r"<[^<>\s]*>")
_STRING = re.compile(
    r"\"\"\".*?\"\"\"|'''.*?'''|\"(?:[^\"\\\n\r]|\\.)*\"|'(?:[^'\\\n\r]|\\.)*'", re.S
)
_COMMENT = re.compile(r"#[^\n\r]*")
_VALUES = re.compile(r"\bVALUES\s*([?$]\w+|\([^()]*\))\s*\{[^{}]*\}", re.I)
"""An inline data block: how many rows it has does not make another shape."""
_LIMIT = re.compile(r"\bLIMIT\s+(\d+)\s*(?:OFFSET\s+\d+\s*)?$")
_COSTLY = re.compile(
    r"\b(?:ORDER|GROUP|HAVING|DISTINCT|REDUCED|COUNT|SUM|AVG|MIN|MAX|SAMPLE|GROUP_CONCAT|"
    r"SERVICE|OPTIONAL|UNION|MINUS|EXISTS|REGEX|REPLACE|LOAD|CONSTRUCT|DESCRIBE)\b"
)


def _plain(text: str) -> str:
    r"""The text without IRIs, strings and comments, spaces collapsed, and each VALUES
    block's rows left out.

    >>> _plain(" ASK\u2003{\u00a0?s\t?p\x0b<urn:x> } # c\n")
    'ASK { ?s ?p <> }'
    """
    text = _STRING.sub('""', _IRI.sub("<>", text))
    text = _VALUES.sub(lambda block: f"VALUES {block.group(1)} {{}}", _COMMENT.sub(" ", text))
    # str.split() splits at the same (Unicode) whitespace as \s and drops it at both ends:
    # the same text as collapsing \s+ and stripping, five times faster (issue 21: every
    # client text that is new to the shape cache is read here, in the server process).
    return " ".join(text.split())


def shape(text: str, own: bool = False) -> str | None:
    """What queries that differ only in their IRIs, strings and VALUES rows share (None:
    a client's text too long to read).

    Pages and canned queries ask the same shape for every municipality; their cost is
    learnt once for all of them. ``own``: a text the service wrote (a page's lookup of
    the labels of 400 IRIs is 30 kB), read whatever its length.

    >>> shape('SELECT * { <urn:a> ?p "x" }') == shape('SELECT  * { <urn:b> ?p "y" }')
    True
    >>> shape("SELECT ?l { VALUES ?x { <urn:a> } ?x ?p ?l }") == shape(
    ...     "SELECT ?l { VALUES ?x { <urn:b> <urn:c> } ?x ?p ?l }")
    True
    """
    if len(text) <= _SHAPE_TEXT_LIMIT:
        return _short_shape(text)
    return _digest(text) if own else None


@lru_cache(maxsize=1024)
def _short_shape(text: str) -> str:
    # Remembered (lru_cache) for the texts asked most: every query needs its shape
    # twice, and reading it (five regular expressions and a hash) was a visible part of
    # the server process's time on a light query (bench/README.md). Long texts are not
    # remembered: each page's lookups name other IRIs, and a thousand of them would hold
    # tens of megabytes.
    return _digest(text)


def _digest(text: str) -> str:
    return hashlib.blake2b(_plain(text).encode(), digest_size=12).hexdigest()


def looks_cheap(text: str) -> bool:
    """A never-seen query that very likely answers at once: ASK, or SELECT … LIMIT n.

    Only a lane is chosen by this, never what runs: one misjudged is stopped at
    ``CHEAP_BUDGET`` and run again in the general lane.

    >>> looks_cheap("PREFIX kg: <x#> SELECT ?m WHERE { ?m a kg:Municipality } LIMIT 1")
    True
    >>> looks_cheap("SELECT ?m WHERE { ?m a ?t } ORDER BY ?m LIMIT 1")
    False
    >>> looks_cheap("SELECT * { ?a ?b ?c . ?d ?e ?f }")
    False
    >>> looks_cheap("ASK {}")
    True
    """
    if len(text) > _SHAPE_TEXT_LIMIT:
        return False
    plain = _plain(text).upper()
    if _COSTLY.search(plain) or plain.count("SELECT") > 1 or plain.count("{") > 3:
        return False
    body = plain.replace("SELECT *", "SELECT").replace("^^", "")
    if any(op in body for op in "*+|^/"):  # property paths
        return False
    if re.search(r"\bASK\b", plain) and "SELECT" not in plain:
        return True
    limit = _LIMIT.search(plain)
    return "SELECT" in plain and limit is not None and int(limit.group(1)) <= _LIMIT_MAX


UNKNOWN_COST = {True: 0.05, False: CHEAP_BUDGET}
"""The cost a query of a shape never seen (or a request that is not a query: an upload's
check, an update's rehearsal) waits with, per lane (cheap: True). In the cheap lane,
what a text that looks cheap (``looks_cheap``: ASK, a LIMIT without ordering or
aggregates) usually costs, a lookup of a few rows: after the lookups known to cost
less, before the canned queries known to cost more (the load test's probe, new at the
start, waited 1.1 s behind them as the most a cheap query may cost). One that is not
cheap is stopped at ``CHEAP_BUDGET`` and its client barred, as before. In the general
lane, that budget: a writer's lookups and checks do not wait behind the heavy queries
known to take longer."""


@dataclass
class CostBook:
    """Recent run times per query shape (a moving average), and clients barred from
    the cheap lane; bounded, the least recently used shapes are forgotten."""

    shapes: OrderedDict[str, float] = field(default_factory=OrderedDict)
    barred: dict[str, float] = field(default_factory=dict)

    def cheap(self, text: str, client: str, own: bool = False, bounded: bool = False) -> bool:
        """Whether a query goes to the cheap lane; ``own``: the service wrote its text
        (see ``shape``); ``bounded``: a lookup of the service's own that is cheap by
        construction (``service.store.reads.Bounded``), cheap until its shape is known.
        A page's lookups have no LIMIT: queued for a general worker the first time,
        behind heavy queries, they were refused, so their cost was never learnt."""
        until = self.barred.get(client)
        if until is not None:
            if time.monotonic() < until:
                return False
            del self.barred[client]
        key = shape(text, own)
        if key is None:
            return False
        seconds = self.shapes.get(key)
        if seconds is None:
            return (bounded and own) or looks_cheap(text)
        self.shapes.move_to_end(key)
        return seconds < CHEAP_SECONDS

    def expected(self, text: str, own: bool = False) -> float | None:
        """The recent cost of ``text``'s shape (seconds), None if not known."""
        key = shape(text, own)
        return None if key is None else self.shapes.get(key)

    def ran(self, text: str, seconds: float, own: bool = False) -> None:
        key = shape(text, own)
        if key is None:
            return
        before = self.shapes.pop(key, None)
        self.shapes[key] = seconds if before is None else 0.7 * before + 0.3 * seconds
        while len(self.shapes) > _SHAPES_KEPT:
            self.shapes.popitem(last=False)

    def overran(self, text: str, client: str | None = None, own: bool = False) -> None:
        """A query ran past its budget or deadline: its shape is heavy; the client of a
        cheap-lane query is barred from that lane for a while."""
        key = shape(text, own)
        if key is not None:
            self.shapes.pop(key, None)
            self.shapes[key] = CHEAP_BUDGET
        if client is None:
            return
        self.barred[client] = time.monotonic() + BAR_SECONDS
        if len(self.barred) > _SHAPES_KEPT:
            now = time.monotonic()
            self.barred = {c: t for c, t in self.barred.items() if t > now}


# --- who runs next ---------------------------------------------------------------------


@dataclass(eq=False)
class _Ticket:
    client: str
    cheap: bool
    granted: asyncio.Future[None]
    tag: float = 0.0
    """Its place in the lane's order (``_Lane.tag``): smallest first."""


@dataclass
class _Lane:
    """One lane's waiting queries: a queue per client, served in the order of their
    tags (self-clocked fair queueing, see the module's docstring)."""

    clients: OrderedDict[str, deque[_Ticket]] = field(default_factory=OrderedDict)
    waiting: int = 0
    clock: float = 0.0
    """The tag of the query served last."""

    def tag(self, client: str, cost: float) -> float:
        """The tag a query of ``client`` expected to cost ``cost`` seconds gets now."""
        queue = self.clients.get(client)
        return max(self.clock, queue[-1].tag if queue else 0.0) + max(0.0, cost)

    def add(self, ticket: _Ticket) -> None:
        self.clients.setdefault(ticket.client, deque()).append(ticket)
        self.waiting += 1

    def remove(self, ticket: _Ticket) -> None:
        queue = self.clients.get(ticket.client)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            self.waiting -= 1
            if not queue:
                del self.clients[ticket.client]

    def next(
        self, running: Counter[str], served: dict[str, int], cap: int | None = None
    ) -> _Ticket | None:
        """The waiting query with the smallest tag (the service's own after every
        client's); of equal tags, the client with the fewest queries running first, then
        the one served longest ago (or never). Clients known only by address that have
        ``cap`` queries running wait."""
        eligible = [
            c
            for c in self.clients
            if cap is None or not c.startswith(ANONYMOUS) or running[c] < cap
        ]
        if not eligible:
            return None
        client = min(
            eligible,
            key=lambda c: (c == SERVICE, self.clients[c][0].tag, running[c], served.get(c, -1)),
        )
        queue = self.clients[client]
        ticket = queue.popleft()
        self.waiting -= 1
        if not queue:
            del self.clients[client]
        self.clock = max(self.clock, ticket.tag)
        return ticket

    def ahead(self, tag: float) -> int:
        """Clients' queries waiting that go before a query tagged ``tag``."""
        return sum(
            1
            for client, queue in self.clients.items()
            if client != SERVICE
            for ticket in queue
            if ticket.tag <= tag
        )

    def of(self, client: str) -> int:
        return len(self.clients.get(client, ()))

    def largest(self, prefix: str) -> tuple[str, int]:
        """The client starting with ``prefix`` with the most queries waiting."""
        client = max(
            self.clients, key=lambda c: len(self.clients[c]) if c.startswith(prefix) else -1
        )
        return client, len(self.clients[client]) if client.startswith(prefix) else 0


@dataclass
class Admission:
    """Worker slots handed out by lane, fairly between clients, with bounded queues."""

    size: int
    reserved: int = 1
    """Slots general queries may never take (at most ``size - 1``)."""
    queue_limit: int = 64
    """Queries that may wait in each lane."""
    client_limit: int = 32
    """Of those, queries of one client."""
    client_running: int | None = None
    """Queries of one client (known only by address) running at once; None: no cap.
    The remote store needs one: a query sent there runs on until that server stops it,
    however soon the client is told it timed out."""
    costs: CostBook = field(default_factory=CostBook)
    _free: int = 0
    _general_running: int = 0
    _running: Counter[str] = field(default_factory=Counter)
    _served: dict[str, int] = field(default_factory=dict)
    """When each client present (running or waiting) was last given a slot (a count)."""
    _grants: int = 0
    _lanes: dict[bool, _Lane] = field(default_factory=dict)
    _seconds: dict[bool, float] = field(default_factory=lambda: {True: 0.05, False: 1.0})
    """Moving average of a query's run time in each lane: the expected wait, Retry-After."""
    refused: int = 0
    """Queries refused at once (for metrics and tests)."""
    replacing: int = 0
    """Workers being replaced (killed, their successor still starting): slots nobody
    gets until ``restore``."""

    def __post_init__(self) -> None:
        self.reserved = max(0, min(self.reserved, self.size - 1))
        self._free = self.size
        self._lanes = {True: _Lane(), False: _Lane()}

    def waiting(self, cheap: bool | None = None) -> int:
        if cheap is None:
            return sum(lane.waiting for lane in self._lanes.values())
        return self._lanes[cheap].waiting

    def _expected_wait(self, cheap: bool, tag: float | None = None) -> float:
        """Seconds a query joining the lane now would wait, roughly.

        For a query tagged ``tag``, only the clients' queries served before it count
        (smaller tags); the service's own queries go last. A lone user whose page asks
        five things at once while the service's catalogue build waits is not behind the
        build (that refused the municipality page with 429 after an upload), and a light
        query is not refused because heavier ones fill the lane."""
        lane = self._lanes[cheap]
        ahead = lane.waiting if tag is None else lane.ahead(tag)
        slots = self.size if cheap else max(1, self.size - self.reserved)
        return self._seconds[cheap] * (ahead + 1) / slots

    def _retry_after(self, cheap: bool) -> int:
        return max(1, min(60, math.ceil(self._expected_wait(cheap))))

    async def enter(self, client: str, cheap: bool, cost: float | None = None) -> None:
        """Wait for a worker slot in the lane, in the order of what the queries waiting
        are expected to cost (``cost``: seconds, None: not known, ``UNKNOWN_COST``);
        raises AdmissionRefusedError at once."""
        lane = self._lanes[cheap]
        mine = lane.of(client)
        if mine >= self.client_limit:
            self.refused += 1
            raise AdmissionRefusedError(429, self._retry_after(cheap), mine)
        tag = lane.tag(client, UNKNOWN_COST[cheap] if cost is None else cost)
        full = lane.waiting >= self.queue_limit or (
            lane.waiting > 0 and self._expected_wait(cheap, tag) > MAX_WAIT
        )
        if full and client.startswith(ANONYMOUS):
            hog, held = lane.largest(ANONYMOUS)
            if hog == client or held <= mine + 1:
                self.refused += 1
                status = 429 if mine else 503
                raise AdmissionRefusedError(status, self._retry_after(cheap), mine)
            evicted = lane.clients[hog][-1]  # the hog's newest: it has waited least
            lane.remove(evicted)
            self.refused += 1
            evicted.granted.set_exception(
                AdmissionRefusedError(429, self._retry_after(cheap), held)
            )
        ticket = _Ticket(client, cheap, asyncio.get_running_loop().create_future(), tag)
        lane.add(ticket)
        self._dispatch()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            # The client went away. Granted meanwhile: give the slot back.
            if ticket.granted.done() and not ticket.granted.cancelled():
                if ticket.granted.exception() is None:
                    self.leave(client, cheap)
            else:
                lane.remove(ticket)
            raise

    def leave(self, client: str, cheap: bool, seconds: float | None = None) -> None:
        """Give a slot back (after the worker is idle again, or replaced)."""
        self._free += 1
        self._running[client] -= 1
        if self._running[client] <= 0:
            del self._running[client]
            if not any(client in lane.clients for lane in self._lanes.values()):
                self._served.pop(client, None)  # gone quiet: no history kept
        if not cheap:
            self._general_running -= 1
        if seconds is not None:
            self._seconds[cheap] = 0.8 * self._seconds[cheap] + 0.2 * seconds
        self._dispatch()

    def withdraw(self) -> None:
        """One worker fewer until ``restore`` (it was killed; its successor is starting).

        The general lane gives it up first: it may hold ``size - reserved - replacing``
        workers, so the worker kept for cheap queries is the last one missing."""
        self.replacing += 1
        self._free -= 1

    def restore(self) -> None:
        """The successor of a withdrawn worker is idle: its slot can be granted again."""
        self.replacing -= 1
        self._free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        cap = self.client_running
        while self._free > 0:
            # The workers not kept for cheap queries go to the general lane first. Before,
            # cheap queries (which may take any free worker) took them whenever one
            # waited: under the load test's stream of cheap queries the general lane had
            # one worker of three, nearly every page was refused, and an upload's check
            # waited behind clients' queries for minutes.
            ticket = None
            if self._general_running < self.size - self.reserved - self.replacing:
                ticket = self._lanes[False].next(self._running, self._served, cap)
            if ticket is None:
                ticket = self._lanes[True].next(self._running, self._served, cap)
            if ticket is None:
                return
            if ticket.granted.done():
                continue  # cancelled: its task is leaving the queue
            self._free -= 1
            self._running[ticket.client] += 1
            self._grants += 1
            self._served[ticket.client] = self._grants
            if not ticket.cheap:
                self._general_running += 1
            ticket.granted.set_result(None)
