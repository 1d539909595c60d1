"""The living-portfolio part of the demo: contracts and dated lifecycles.

ALL MADE UP, and every contract says so in its comment. Which municipality has which
contract, its start, end, notice period, options, annual value and responsible role,
when each system was taken into use, when it is phased out and retired, and which
product is planned to succeed it, are invented for the demo. Real: the
municipalities, the cooperations and their members, and the names of vendors and
products (from the demo catalogue).

Every usage the portfolio contributor drew a contract end for (``Usage.contract_end``)
gets one contract with that end date, covering the usage's application (the usage sheet
has no contract end column since issue 22); a system the members of a cooperation share is one joint
procurement by the cooperation, so the members' contracts have the same term (the
moment a region's roadmap shows). Gaps an architect looks for are drawn on purpose:
systems past their planned retirement still in use, retiring systems without a
planned successor, contracts whose notice deadline is near or past.

Wired into the generator as one contributor: ``add_contracts_and_lifecycles``. It
draws from its own random streams, so the rows the other contributors write stay as
they were; it adds the lifecycle dates to the usage rows the portfolio contributor wrote.
"""

from __future__ import annotations

import datetime
import random
from typing import TYPE_CHECKING

from rdflib.namespace import DCTERMS, RDFS

from loaders.namespaces import KG, SCHEMA

if TYPE_CHECKING:
    from loaders.demo.generate import Demo, Municipality, Row, Usage

_TODAY = datetime.date(2026, 12, 1)
"""The demo's "today" (``generate.GENERATED_ON``; not imported: the generator imports us)."""
_PUBLIC_BODIES = {"Arbeids- og velferdsdirektoratet", "Valgdirektoratet"}
"""Systems run by a public body for the municipality: no purchase contract."""
_ROLES = ("Innkjøpsrådgiver", "IKT-leder", "Kommunalsjef", "Systemeier")
MADE_UP = "Oppdiktet demokontrakt (demodata)."


def _days(rng: random.Random, low: int, high: int) -> datetime.timedelta:
    return datetime.timedelta(days=rng.randint(low, high))


def _lifecycle(row: Row, usage: Usage, demo: Demo, rng: random.Random) -> None:
    """Dates and successor on the usage row, consistent with its lifecycle status."""
    status = row.get(KG.lifecycleStatus)
    if status == "Planlagt":
        row[KG.inUseDate] = _TODAY + _days(rng, 60, 540)
        return
    same_kind = [
        p.name
        for p in demo.products
        if p.kind == usage.product.kind and p.name != usage.product.name and p.status == "I bruk"
    ]
    successor = rng.choice(same_kind) if same_kind else None
    if status == "Under utfasing":
        # In use, then phase-out begun, then retirement: always in that order.
        phase_out = _TODAY - _days(rng, 30, 500)
        row[KG.inUseDate] = phase_out - _days(rng, 365, 14 * 365)
        row[KG.phaseOutDate] = phase_out
        since = (_TODAY - phase_out).days
        # A third are past their planned retirement and still running.
        row[KG.retirementDate] = (
            phase_out + _days(rng, 1, since - 1)
            if rng.random() < 0.33 and since > 1
            else _TODAY + _days(rng, 30, 900)
        )
        if rng.random() < 0.7:  # the rest: retiring without a planned successor
            row[KG.plannedSuccessor] = successor
        return
    row[KG.inUseDate] = _TODAY - _days(rng, 365, 15 * 365)
    if rng.random() < 0.08:  # in use, with a phase-out planned ahead
        phase_out = _TODAY + _days(rng, 90, 900)
        row[KG.phaseOutDate] = phase_out
        row[KG.retirementDate] = phase_out + _days(rng, 90, 365)
        if rng.random() < 0.6:
            row[KG.plannedSuccessor] = successor


def _term(rng: random.Random, end: datetime.date) -> tuple[datetime.date, datetime.date | None]:
    """A start 2 to 6 years before ``end``, and the end with options (or none)."""
    start = end - _days(rng, 2 * 365, 6 * 365)
    options = (
        end + datetime.timedelta(days=365 * rng.choice((1, 2))) if rng.random() < 0.6 else None
    )
    return start, options


def _contract_row(
    municipality: Municipality, usage: Usage, row: Row, demo: Demo, rng: random.Random
) -> Row:
    product = usage.product
    if usage.shared_in:  # one joint procurement: the same term for every member
        joint = demo.rng(f"contracts:{usage.shared_in}:{product.name}")
        end = _TODAY + _days(joint, 60, 4 * 365)
        start, options = _term(joint, end)
        notice = joint.choice((6, 6, 12))
        usage.contract_end = end
    else:
        end = usage.contract_end  # type: ignore[assignment]
        assert isinstance(end, datetime.date)
        start, options = _term(rng, end)
        notice = rng.choice((3, 3, 6, 6, 6, 12))
    cost = row.get(KG.annualCost)
    value = round(int(cost) * rng.uniform(0.55, 0.95), -3) if isinstance(cost, int) else None
    return {
        KG.contractingAuthority: municipality.number,
        RDFS.label: f"Avtale {product.name} {start.year}",
        KG.contractor: product.vendor,
        KG.covers: product.name,
        SCHEMA.startDate: start,
        SCHEMA.endDate: end,
        KG.noticePeriodMonths: notice,
        KG.optionEndDate: options,
        KG.annualValue: int(value) if value else None,
        KG.procuredJointlyBy: usage.shared_in,
        KG.responsibleRole: rng.choice((*_ROLES, usage.kind.owner)),
        DCTERMS.description: MADE_UP,
    }


def add_contracts_and_lifecycles(demo: Demo) -> None:
    """Every municipality's contracts, and the dated lifecycle of each of its usages."""
    rng = demo.rng("contracts")
    for municipality in demo.municipalities:
        workbook = demo.workbook_of(municipality)
        rows = workbook.rows.get(KG.ApplicationUsage, [])
        usages = demo.portfolios.get(municipality.number, [])
        for usage, row in zip(usages, rows, strict=True):
            _lifecycle(row, usage, demo, rng)
            vendor = usage.product.vendor
            if usage.contract_end is None or vendor is None or vendor in _PUBLIC_BODIES:
                continue
            demo.add(workbook, KG.Contract, _contract_row(municipality, usage, row, demo, rng))
