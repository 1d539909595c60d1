"""The GDPR part of the demo: records of processing and data processing agreements.

ALL MADE UP. Which municipality processes what, in which system, its DPIAs, risk
assessments, dates, agreements, sub-processors and data protection officers are
invented for the demo; so are the officers' addresses, which use the reserved
``.example`` domain so that nobody is mailed. Real: the municipalities, the
vendors' and products' names (from the demo catalogue), the GDPR articles (the
ontology's concept schemes) and the acts named as supplementary legal basis
(loaders/reference/legal-bases.ttl, referred to by their short titles).

Each municipality gets one processing activity per kind of system in its
portfolio that typically processes personal data (``ACTIVITIES``, from
``processing.toml`` beside this file), in that system
and with the datasets the demo stored there, and one agreement per vendor of those
systems. Gaps a privacy officer looks for are drawn on purpose: special-category
processing without a DPIA, systems with personal data and no agreement, agreements
that have expired or expire soon, and transfers out of the EEA (Google products,
which the demo keeps outside the EEA).

Wired into the generator as one contributor: ``add_processing_activities``.
"""

from __future__ import annotations

import datetime
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDFS, SKOS

from loaders.demo.datasets import NONE
from loaders.mapping import slug
from loaders.namespaces import DPV, KG, VCARD
from loaders.validation import ontology_graph

if TYPE_CHECKING:
    # Only for annotations: the generator imports this module to list it as a contributor.
    from loaders.demo.generate import Demo, Municipality, Row, Usage

_NON_EEA_VENDORS = {"Google Norway AS"}
"""Vendors whose SaaS the demo keeps outside the EEA (see generate._usage_row)."""
_NOT_PROCESSORS = {"Arbeids- og velferdsdirektoratet", "Valgdirektoratet"}
"""Public bodies that run a system as controllers in their own right, not as processors."""
_CLOUD_SUB_PROCESSOR = "Microsoft Norge AS"


@dataclass(frozen=True)
class Activity:
    """One kind of processing, done in a system of one kind (``loaders.demo.catalogue``)."""

    system: str
    name: str
    purpose: str
    subjects: tuple[URIRef, ...]
    data: tuple[URIRef, ...]
    lawful: tuple[URIRef, ...]
    law: tuple[str, ...]
    """Short titles (skos:altLabel) of acts in loaders/reference/legal-bases.ttl."""
    special: tuple[URIRef, ...] = ()
    condition: tuple[URIRef, ...] = ()
    criminal: bool = False
    recipients: tuple[str, ...] = ()
    retention: str = "Bevares etter arkivlova og arkivplanen, deretter avlevering til arkivdepot."
    dpia: float = 0.0
    """Probability that a DPIA has been done; made up."""


ACTIVITIES_FILE = Path(__file__).with_name("processing.toml")
"""The kinds of processing, one ``[[activity]]`` table each: data, kept apart from the code."""


def _activities(path: Path = ACTIVITIES_FILE) -> tuple[Activity, ...]:
    with path.open("rb") as data:
        return tuple(_activity(table) for table in tomllib.load(data)["activity"])


def _activity(table: dict[str, Any]) -> Activity:
    """One table; its concepts are the ontology's local names (``SubjectPupils``)."""
    fields: dict[str, Any] = dict(table)
    for key in ("subjects", "data", "lawful", "special", "condition"):
        fields[key] = tuple(KG[name] for name in table.get(key, ()))
    for key in ("law", "recipients"):
        fields[key] = tuple(table.get(key, ()))
    return Activity(**fields)


ACTIVITIES: tuple[Activity, ...] = _activities()


def _label(concept: URIRef) -> str:
    """The dropdown text of a concept: its prefLabel in bokmål, from the ontology."""
    for value in ontology_graph().objects(concept, SKOS.prefLabel):
        if isinstance(value, Literal) and value.language == "nb":
            return str(value)
    raise KeyError(concept)


def _labels(concepts: tuple[URIRef, ...]) -> str | None:
    return "; ".join(_label(c) for c in concepts) or None


def _today() -> datetime.date:
    """The demo's fixed "today", so that the same seed gives the same workbooks."""
    from loaders.demo.generate import GENERATED_ON  # at run time: no import cycle

    return GENERATED_ON


def _date_before(rng: random.Random, days: int) -> datetime.date:
    return _today() - datetime.timedelta(days=rng.randint(30, days))


def _activity_row(
    municipality: Municipality,
    activity: Activity,
    usage: Usage,
    datasets: list[str],
    rng: random.Random,
) -> Row:
    dpia = rng.random() < activity.dpia
    outside = usage.product.cloud and usage.product.vendor in _NON_EEA_VENDORS
    row: Row = {
        DPV.hasDataController: municipality.number,
        RDFS.label: activity.name,
        KG.purpose: activity.purpose,
        DPV.hasDataSubject: _labels(activity.subjects),
        KG.personalDataCategory: _labels(activity.data),
        KG.specialCategoryData: _labels(activity.special),
        KG.criminalOffenceData: "ja" if activity.criminal else None,
        KG.gdprLegalBasis: _labels(activity.lawful),
        KG.specialCategoryCondition: _labels(activity.condition),
        KG.nationalLegalBasis: "; ".join(activity.law) or None,
        KG.retentionPeriod: activity.retention,
        KG.recipientCategory: "; ".join(activity.recipients) or None,
        KG.processedIn: usage.ref(municipality),
        KG.usesDataset: "; ".join(datasets) or None,
        KG.dpiaConducted: "ja" if dpia else "nei",
        KG.dpiaDate: _date_before(rng, 3 * 365) if dpia else None,
        KG.dpiaOutcome: _label(rng.choice([KG.DpiaAcceptable, KG.DpiaAcceptableWithMeasures]))
        if dpia
        else None,
        KG.riskAssessmentDate: _date_before(rng, 4 * 365) if rng.random() < 0.8 else None,
        KG.securityMeasures: "Tilgangsstyring etter tjenstlig behov, logging av oppslag, "
        "kryptering ved overføring og lagring.",
        (DPV.hasDataProtectionOfficer, VCARD.hasEmail): (
            f"personvernombud@{slug(municipality.name)}.kommune.example"
        ),
    }
    if outside:
        row[KG.thirdCountry] = "US"
        row[KG.transferSafeguard] = _label(KG.TransferAdequacy)
    return row


def _agreement_row(
    municipality: Municipality, vendor: str, products: list[str], cloud: bool, rng: random.Random
) -> Row:
    today = _today()
    signed = today - datetime.timedelta(days=rng.randint(200, 7 * 365))
    draw = rng.random()
    expiry: datetime.date | None = None
    if draw < 0.15:  # expired: the gap the agreements query finds
        expiry = today - datetime.timedelta(days=rng.randint(1, 365))
    elif draw < 0.30:  # expires within a year
        expiry = today + datetime.timedelta(days=rng.randint(1, 365))
    elif draw < 0.55:
        expiry = today + datetime.timedelta(days=rng.randint(366, 5 * 365))
    if expiry is not None and expiry <= signed:
        signed = expiry - datetime.timedelta(days=365)
    sub = _CLOUD_SUB_PROCESSOR if cloud and vendor != _CLOUD_SUB_PROCESSOR else None
    return {
        DPV.hasDataController: municipality.number,
        RDFS.label: f"Databehandleravtale {vendor}",
        DPV.hasDataProcessor: vendor,
        KG.subProcessor: sub,
        KG.signedDate: signed,
        KG.expiryDate: expiry,
        FOAF.page: f"https://arkiv.{slug(municipality.name)}.kommune.example/avtaler/"
        f"databehandleravtale-{slug(vendor)}",
        DCTERMS.description: "Dekker " + ", ".join(sorted(products)) + ".",
    }


def add_processing_activities(demo: Demo) -> None:
    """Every municipality's record of processing and its data processing agreements."""
    rng = demo.rng("gdpr")
    for municipality in demo.municipalities:
        by_kind: dict[str, Usage] = {}
        for each in demo.portfolios[municipality.number]:
            by_kind.setdefault(each.kind.key, each)
        stored: dict[str, list[str]] = {}
        for template, identifier, where in demo.datasets.get(municipality.number, []):
            if where and template.personal != NONE:
                stored.setdefault(template.system, []).append(identifier)
        workbook = demo.workbook_of(municipality)
        processors: dict[str, tuple[list[str], bool]] = {}
        for activity in ACTIVITIES:
            usage = by_kind.get(activity.system)
            if usage is None:
                continue
            row = _activity_row(municipality, activity, usage, stored.get(activity.system, []), rng)
            demo.add(workbook, KG.ProcessingActivity, row)
            vendor = usage.product.vendor
            if vendor is not None and vendor not in _NOT_PROCESSORS:
                products, cloud = processors.get(vendor, ([], False))
                processors[vendor] = ([*products, usage.product.name], cloud or usage.product.cloud)
        for vendor, (products, cloud) in sorted(processors.items()):
            if rng.random() < 0.12:
                continue  # no agreement recorded: the gap the systems query finds
            demo.add(
                workbook,
                KG.DataProcessingAgreement,
                _agreement_row(municipality, vendor, products, cloud, rng),
            )
