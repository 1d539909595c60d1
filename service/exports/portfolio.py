"""A municipality's or a region's portfolio over time: lifecycles, contracts, deadlines.

Why one module: the roadmap page (``/kommune/NNNN/veikart``), the deadline feed
(``/kommune/NNNN/frister.ics``) and their region forms show the same dated facts,
read once, the same way: each usage's dates and planned successor, each contract's
term and notice deadline (end minus notice period), data processing agreements that
expire, and reviews of DPIAs and risk assessments that fall due.

When a review falls due is our convention, said here and on the pages: a risk
assessment (GDPR art. 32) a year after the last one, a DPIA (art. 35(11)) three years
after the last one.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loaders.namespaces import sparql_prologue

Select = Callable[[str], Awaitable[list[dict[str, str]]]]
"""Runs a SELECT through the backend; each row maps a variable to its value."""

RISK_REVIEW_MONTHS = 12
DPIA_REVIEW_MONTHS = 36
NO_SERVICE = "Uten lovpålagt tjeneste"


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` moved by ``months`` (the last day of a shorter month if needed).

    >>> add_months(datetime.date(2027, 3, 31), -1)
    datetime.date(2027, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value[:10]) if value else None


@dataclass(frozen=True)
class Lifecycle:
    usage: str
    municipality: str
    municipality_name: str
    application: str
    service: str
    status: str
    in_use: datetime.date | None
    phase_out: datetime.date | None
    retirement: datetime.date | None
    contract_end: datetime.date | None
    successor: str | None


@dataclass(frozen=True)
class Contract:
    contract: str
    name: str
    municipality: str
    municipality_name: str
    covers: str
    vendor: str
    start: datetime.date | None
    end: datetime.date
    notice_months: int
    option_end: datetime.date | None
    joint: str | None

    @property
    def notice_deadline(self) -> datetime.date:
        """The last day to terminate or extend: the end minus the notice period."""
        return add_months(self.end, -self.notice_months)


@dataclass(frozen=True)
class Deadline:
    """One dated thing to act on, for the calendar."""

    uid: str
    day: datetime.date
    summary_nb: str
    summary_en: str
    url: str
    municipality_name: str


@dataclass
class Portfolio:
    title: str
    municipalities: dict[str, str]
    """IRI → name, in name order."""
    lifecycles: list[Lifecycle] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)

    def by_service(self) -> list[tuple[str, list[Lifecycle]]]:
        groups: dict[str, list[Lifecycle]] = {}
        for item in self.lifecycles:
            groups.setdefault(item.service, []).append(item)
        ordered = sorted(groups, key=lambda s: (s == NO_SERVICE, s))
        return [
            (s, sorted(groups[s], key=lambda i: (i.application, i.municipality_name)))
            for s in ordered
        ]

    def clusters(self, within_months: int = 12) -> list[tuple[str, list[Contract]]]:
        """Per application, the members' contracts that end within ``within_months`` of
        each other (two or more): the moment for a joint procurement."""
        by_app: dict[str, list[Contract]] = {}
        for contract in self.contracts:
            by_app.setdefault(contract.covers, []).append(contract)
        found = []
        for app, contracts in sorted(by_app.items()):
            contracts.sort(key=lambda c: c.end)
            members = {c.municipality for c in contracts}
            if len(members) < 2:
                continue
            span = (contracts[-1].end - contracts[0].end).days
            if span <= within_months * 31:
                found.append((app, contracts))
        return found


_MUNICIPALITIES = """
SELECT ?kommune ?name WHERE {{
  {scope}
  ?kommune a kg:Municipality ; rdfs:label ?name .
}} ORDER BY ?name
"""

_LIFECYCLES = """
SELECT ?usage ?kommune ?applicationName (MIN(?serviceName) AS ?service) ?status ?inUse
       ?phaseOut ?retirement (MAX(?end) AS ?contractEnd) ?successorName WHERE {{
  {scope}
  ?usage kg:usedBy ?kommune ; kg:application ?application .
  ?application rdfs:label ?applicationName .
  ?usage kg:lifecycleStatus/skos:prefLabel ?status .
  FILTER(LANG(?status) = "nb")
  OPTIONAL {{ ?usage kg:supportsService/rdfs:label ?serviceName
             FILTER(LANG(?serviceName) IN ("nb", "")) }}
  OPTIONAL {{ ?usage kg:inUseDate ?inUse }}
  OPTIONAL {{ ?usage kg:phaseOutDate ?phaseOut }}
  OPTIONAL {{ ?usage kg:retirementDate ?retirement }}
  OPTIONAL {{ ?usage kg:plannedSuccessor/rdfs:label ?successorName }}
  OPTIONAL {{ ?contract kg:contractingAuthority ?kommune ; kg:covers ?application ;
                        schema:endDate ?end }}
}}
GROUP BY ?usage ?kommune ?applicationName ?status ?inUse ?phaseOut ?retirement ?successorName
"""
"""A usage's contract end is its municipality's contract covering its application (the
latest, when several): since issue 22 a usage has no contract end of its own."""

_CONTRACTS = """
SELECT ?contract ?name ?kommune (SAMPLE(?app) AS ?covers) (SAMPLE(?vendor) AS ?vendorName)
       ?start ?end ?notice ?optionEnd ?jointName WHERE {{
  {scope}
  ?contract kg:contractingAuthority ?kommune ; rdfs:label ?name ; schema:endDate ?end .
  OPTIONAL {{ ?contract kg:covers/rdfs:label ?app }}
  OPTIONAL {{ ?contract kg:contractor/rdfs:label ?vendor }}
  OPTIONAL {{ ?contract schema:startDate ?start }}
  OPTIONAL {{ ?contract kg:noticePeriodMonths ?notice }}
  OPTIONAL {{ ?contract kg:optionEndDate ?optionEnd }}
  OPTIONAL {{ ?contract kg:procuredJointlyBy/rdfs:label ?jointName }}
}}
GROUP BY ?contract ?name ?kommune ?start ?end ?notice ?optionEnd ?jointName
ORDER BY ?end
"""

_GDPR = """
SELECT ?thing ?kommune ?name ?expiry ?dpia ?risk WHERE {{
  {scope}
  {{ ?thing a kg:DataProcessingAgreement ; dpv:hasDataController ?kommune ; rdfs:label ?name ;
            kg:expiryDate ?expiry }}
  UNION
  {{ ?thing a kg:ProcessingActivity ; dpv:hasDataController ?kommune ; rdfs:label ?name .
    OPTIONAL {{ ?thing kg:dpiaDate ?dpia }}
    OPTIONAL {{ ?thing kg:riskAssessmentDate ?risk }} }}
}}
"""


def municipality_scope(base_iri: str, number: str) -> str:
    """The SPARQL pattern binding ``?kommune`` to one municipality."""
    if not (len(number) == 4 and number.isdigit()):
        raise ValueError(number)
    return f"VALUES ?kommune {{ <{base_iri}id/kommune/{number}> }}"


def region_scope(region_iri: str) -> str:
    """The SPARQL pattern binding ``?kommune`` to each member of a region."""
    return f"<{region_iri}> <http://www.w3.org/ns/org#hasMember> ?kommune ."


async def read_portfolio(select: Select, scope: str, title: str) -> Portfolio | None:
    """The portfolio of the municipalities ``scope`` binds; None if it binds none."""
    prologue = sparql_prologue()
    names = {
        r["kommune"]: r["name"]
        for r in await select(prologue + _MUNICIPALITIES.format(scope=scope))
    }
    if not names:
        return None
    portfolio = Portfolio(title, names)
    for row in await select(prologue + _LIFECYCLES.format(scope=scope)):
        portfolio.lifecycles.append(
            Lifecycle(
                row["usage"],
                row["kommune"],
                names.get(row["kommune"], ""),
                row["applicationName"],
                row.get("service") or NO_SERVICE,
                row["status"],
                _date(row.get("inUse")),
                _date(row.get("phaseOut")),
                _date(row.get("retirement")),
                _date(row.get("contractEnd")),
                row.get("successorName"),
            )
        )
    for row in await select(prologue + _CONTRACTS.format(scope=scope)):
        end = _date(row["end"])
        assert end is not None
        portfolio.contracts.append(
            Contract(
                row["contract"],
                row["name"],
                row["kommune"],
                names.get(row["kommune"], ""),
                row.get("covers", ""),
                row.get("vendorName", ""),
                _date(row.get("start")),
                end,
                int(row.get("notice") or 0),
                _date(row.get("optionEnd")),
                row.get("jointName"),
            )
        )
    gdpr = await select(prologue + _GDPR.format(scope=scope))
    portfolio.deadlines = _deadlines(portfolio, gdpr)
    return portfolio


def _deadlines(portfolio: Portfolio, gdpr: list[dict[str, str]]) -> list[Deadline]:
    found: list[Deadline] = []
    for c in portfolio.contracts:
        where = c.municipality_name
        found.append(
            Deadline(
                f"{c.contract}#slutt",
                c.end,
                f"Kontrakten løper ut: {c.name} ({where})",
                f"Contract ends: {c.name} ({where})",
                c.contract,
                where,
            )
        )
        if c.notice_months:
            found.append(
                Deadline(
                    f"{c.contract}#oppsigelsesfrist",
                    c.notice_deadline,
                    f"Frist for oppsigelse eller forlengelse: {c.name} ({where})",
                    f"Deadline to terminate or extend: {c.name} ({where})",
                    c.contract,
                    where,
                )
            )
    for u in portfolio.lifecycles:
        where = u.municipality_name
        if u.phase_out:
            found.append(
                Deadline(
                    f"{u.usage}#utfasing",
                    u.phase_out,
                    f"Planlagt utfasing: {u.application} ({where})",
                    f"Planned phase-out: {u.application} ({where})",
                    u.usage,
                    where,
                )
            )
        if u.retirement:
            found.append(
                Deadline(
                    f"{u.usage}#avvikling",
                    u.retirement,
                    f"Planlagt avvikling: {u.application} ({where})",
                    f"Planned retirement: {u.application} ({where})",
                    u.usage,
                    where,
                )
            )
    for row in gdpr:
        where = portfolio.municipalities.get(row["kommune"], "")
        name, thing = row["name"], row["thing"]
        if expiry := _date(row.get("expiry")):
            found.append(
                Deadline(
                    f"{thing}#utloper",
                    expiry,
                    f"Databehandleravtalen utløper: {name} ({where})",
                    f"Data processing agreement expires: {name} ({where})",
                    thing,
                    where,
                )
            )
        if dpia := _date(row.get("dpia")):
            found.append(
                Deadline(
                    f"{thing}#dpia",
                    add_months(dpia, DPIA_REVIEW_MONTHS),
                    f"DPIA skal gjennomgås: {name} ({where})",
                    f"DPIA due for review: {name} ({where})",
                    thing,
                    where,
                )
            )
        if risk := _date(row.get("risk")):
            found.append(
                Deadline(
                    f"{thing}#risikovurdering",
                    add_months(risk, RISK_REVIEW_MONTHS),
                    f"Risikovurdering skal fornyes: {name} ({where})",
                    f"Risk assessment due: {name} ({where})",
                    thing,
                    where,
                )
            )
    return sorted(found, key=lambda d: (d.day, d.uid))
