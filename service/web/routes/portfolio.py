"""The living portfolio of a municipality or a region: roadmap, deadlines, changes.

* ``/kommune/{nr}/veikart`` and ``/region/{slug}/veikart``: the roadmap page, a
  timeline drawn as SVG on the server (``service.pages.roadmap``) with the same facts
  in tables; printable, no JavaScript.
* ``/kommune/{nr}/frister.ics`` and ``/region/{slug}/frister.ics``: the deadlines as
  an iCalendar feed to subscribe to (``service.exports.calendar``).
* ``/kommune/{nr}/endringer.atom`` and ``/region/{slug}/endringer.atom``: the audited
  changes as an Atom feed (``service.exports.feed``).

``?today=YYYY-MM-DD`` draws the roadmap as of another day (the demo's data are dated
around 1 December 2026); the default is the server's date.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from service.access.audit import AuditEvent, auditor
from service.errors import ServiceError, unknown_municipality
from service.exports.calendar import CALENDAR_MEDIA, calendar_bytes
from service.exports.feed import ATOM_MEDIA, feed_bytes
from service.exports.portfolio import (
    Portfolio,
    add_months,
    municipality_scope,
    read_portfolio,
    region_scope,
)
from service.pages.render import html_page
from service.pages.roadmap import municipality_svg, region_svg
from service.store.reads import select
from service.web.dependencies import BackendDep, SettingsDep

router = APIRouter(tags=["Portefølje / Portfolio"])

_NUMBER = re.compile(r"\d{4}")
_SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _today(request: Request) -> datetime.date:
    asked = request.query_params.get("today")
    if not asked:
        return datetime.date.today()
    try:
        return datetime.date.fromisoformat(asked)
    except ValueError:
        raise ServiceError(
            400,
            f"«today» må være en dato (ÅÅÅÅ-MM-DD), ikke «{asked[:20]}».",
            f"'today' must be a date (YYYY-MM-DD), not '{asked[:20]}'.",
        ) from None


@dataclass(frozen=True)
class Scoped:
    """A municipality's or a region's portfolio, with where its pages are."""

    portfolio: Portfolio
    path: str
    """``/kommune/NNNN`` or ``/region/slug``."""
    key: str
    """The kommunenummer or the slug: the calendar's file name."""
    region: bool


async def _municipality(kommunenummer: str, backend: BackendDep, settings: SettingsDep) -> Scoped:
    if not _NUMBER.fullmatch(kommunenummer):
        raise _unknown("kommunenummer", kommunenummer)
    found = await read_portfolio(
        functools.partial(select, backend),
        municipality_scope(settings.base_iri, kommunenummer),
        kommunenummer,
    )
    if found is None:
        raise _unknown("kommunenummer", kommunenummer)
    found.title = next(iter(found.municipalities.values()))
    return Scoped(found, f"/kommune/{kommunenummer}", kommunenummer, region=False)


async def _region(slug: str, backend: BackendDep, settings: SettingsDep) -> Scoped:
    if not _SLUG.fullmatch(slug):
        raise _unknown("region", slug)
    iri = f"{settings.base_iri}id/region/{slug}"
    labels = await select(
        backend,
        f"SELECT ?label WHERE {{ <{iri}> <http://www.w3.org/2000/01/rdf-schema#label> ?label }}",
    )
    found = await read_portfolio(functools.partial(select, backend), region_scope(iri), slug)
    if found is None or not labels:
        raise _unknown("region", slug)
    found.title = labels[0]["label"]
    return Scoped(found, f"/region/{slug}", slug, region=True)


Today = Annotated[datetime.date, Depends(_today)]
Municipality = Annotated[Scoped, Depends(_municipality)]
Region = Annotated[Scoped, Depends(_region)]
"""The portfolio a route is about: a 404 for an unknown one, before the route runs."""


def _unknown(kind: str, value: str) -> ServiceError:
    shown = value[:40]
    if kind == "region":
        return ServiceError(
            404,
            f"Ukjent region: «{shown}». Bruk regionens kortnavn, f.eks. kongsbergregionen.",
            f"Unknown region: '{shown}'. Use the region's short name, e.g. kongsbergregionen.",
        )
    return unknown_municipality(shown)


def _roadmap(request: Request, today: datetime.date, scoped: Scoped) -> Response:
    """The roadmap page: the timeline drawn for the scope, and the same facts in tables."""
    portfolio = scoped.portfolio
    draw = region_svg if scoped.region else municipality_svg
    base = request.app.state.settings.base_iri

    def local_path(iri: str) -> str:
        """A resource under the base IRI is linked at its path on this server."""
        return "/" + iri[len(base) :] if iri.startswith(base) else iri

    return html_page(
        "veikart.html",
        request,
        portfolio=portfolio,
        svg=draw(portfolio, today),
        today=today,
        soon=add_months(today, 12),
        feeds=scoped.path,
        region=scoped.region,
        local_path=local_path,
    )


@router.get("/kommune/{kommunenummer}/veikart", summary="Veikart / Roadmap (municipality)")
async def municipality_roadmap(request: Request, today: Today, found: Municipality) -> Response:
    return _roadmap(request, today, found)


@router.get("/region/{slug}/veikart", summary="Veikart / Roadmap (region)")
async def region_roadmap(request: Request, today: Today, found: Region) -> Response:
    return _roadmap(request, today, found)


def _calendar(scoped: Scoped) -> Response:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return Response(
        calendar_bytes(scoped.portfolio, now),
        media_type=CALENDAR_MEDIA,
        headers={"Content-Disposition": f'inline; filename="frister-{scoped.key}.ics"'},
    )


@router.get("/kommune/{kommunenummer}/frister.ics", summary="Frister / Deadlines (iCalendar)")
async def municipality_deadlines(found: Municipality) -> Response:
    return _calendar(found)


@router.get("/region/{slug}/frister.ics", summary="Frister / Deadlines (iCalendar, region)")
async def region_deadlines(found: Region) -> Response:
    return _calendar(found)


def _events(request: Request, numbers: list[str]) -> list[AuditEvent]:
    log = auditor(request).log
    events = {e.id: e for n in numbers for e in log.events(municipality=n)}
    return list(events.values())


def _feed(request: Request, scoped: Scoped) -> Response:
    found = scoped.portfolio
    base = request.app.state.settings.base_iri.rstrip("/")
    numbers = [iri.rsplit("/", 1)[-1] for iri in found.municipalities]
    body = feed_bytes(
        f"{base}{scoped.path}/endringer.atom",
        f"Endringer / Changes – {found.title}",
        f"{base}{scoped.path}/veikart",
        _events(request, numbers),
        datetime.datetime.now(datetime.UTC).replace(microsecond=0),
    )
    return Response(body, media_type=ATOM_MEDIA)


@router.get("/kommune/{kommunenummer}/endringer.atom", summary="Endringer / Changes (Atom)")
async def municipality_changes(request: Request, found: Municipality) -> Response:
    return _feed(request, found)


@router.get("/region/{slug}/endringer.atom", summary="Endringer / Changes (Atom, region)")
async def region_changes(request: Request, found: Region) -> Response:
    return _feed(request, found)
