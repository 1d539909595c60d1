"""The roadmap: each system's lifecycle and contract deadlines on a timeline, as SVG.

Why SVG drawn on the server: the page must work without JavaScript, print, and say
the same to a screen reader as to the eye. The drawing has a title and a description,
each bar a ``<title>`` (a tooltip and an accessible name), and the page beside it has
the same facts in a table. Colours are paired with shapes (a bar's pattern, a diamond
for a contract's end, a triangle for its notice deadline), so nothing is told by
colour alone (WCAG 1.4.1), and text on the drawing has at least 4.5:1 contrast.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from html import escape

from service.exports.portfolio import Contract, Lifecycle, Portfolio

LABEL_WIDTH = 260
CHART_WIDTH = 720
ROW = 22
HEADING = 26
TOP = 34
YEARS_BEFORE = 2
YEARS_AFTER = 6

IN_USE = "#1f6f3f"
PHASE_OUT = "#9a5b00"
PLANNED = "#2b5797"
CONTRACT = "#6a1b9a"
NOTICE = "#b00020"
TODAY = "#000000"
TEXT = "#1a1a1a"


@dataclass(frozen=True)
class Window:
    start: datetime.date
    end: datetime.date

    def x(self, day: datetime.date) -> float:
        clipped = min(max(day, self.start), self.end)
        span = (self.end - self.start).days
        return LABEL_WIDTH + CHART_WIDTH * (clipped - self.start).days / span


def window(today: datetime.date) -> Window:
    return Window(
        datetime.date(today.year - YEARS_BEFORE, 1, 1),
        datetime.date(today.year + YEARS_AFTER, 1, 1),
    )


def _text(x: float, y: float, content: str, **attributes: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" fill="{TEXT}"{extra}>{escape(content)}</text>'


def _rect(x0: float, x1: float, y: float, height: float, fill: str, extra: str = "") -> str:
    width = max(1.0, x1 - x0)
    return (
        f'<rect x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height}" '
        f'fill="{fill}"{extra}/>'
    )


def _axis(w: Window, height: float) -> list[str]:
    parts = []
    for year in range(w.start.year, w.end.year + 1):
        x = w.x(datetime.date(year, 1, 1))
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height}" stroke="#767676" '
            'stroke-width="0.5"/>'
        )
        if year < w.end.year:
            parts.append(_text(x + 4, TOP - 10, str(year), font_size="12"))
    return parts


def _bar(
    tip: str, x0: float, x1: float, y: float, height: float, fill: str, extra: str = ""
) -> str:
    """A span of time with its tooltip (and accessible name)."""
    return f"<g><title>{escape(tip)}</title>" + _rect(x0, x1, y, height, fill, extra) + "</g>"


DIAMOND = "l6,7 l-6,7 l-6,-7 z"
TRIANGLE = "l6,12 l-12,0 z"


def _marker(x: float, y: float, shape: str, fill: str, tip: str) -> str:
    """A day on the timeline: a diamond for an end, a triangle for a deadline."""
    return (
        f'<g><title>{escape(tip)}</title><path d="M{x:.1f},{y - 7} {shape}" '
        f'fill="{fill}" stroke="#ffffff" stroke-width="1"/></g>'
    )


def _end(w: Window, day: datetime.date, y: float, tip: str) -> str:
    return _marker(w.x(day), y + 10, DIAMOND, CONTRACT, tip)


def _notice(w: Window, contract: Contract, y: float) -> str:
    deadline = contract.notice_deadline
    tip = f"oppsigelsesfrist / notice deadline {deadline}"
    return _marker(w.x(deadline), y + 10, TRIANGLE, NOTICE, tip)


def _lifecycle_bar(
    w: Window, today: datetime.date, item: Lifecycle, contract: Contract | None, y: float
) -> list[str]:
    start = item.in_use or w.start
    end_of_use = item.phase_out or item.retirement or w.end
    colour = PLANNED if start > today else IN_USE
    tip = f"{item.application}: {item.status}"
    parts = [_bar(tip, w.x(start), w.x(end_of_use), y + 5, 10, colour)]
    if item.phase_out:
        last = w.x(item.retirement or w.end)
        tip = f"{item.application}: utfasing / phase-out {item.phase_out.isoformat()}"
        hatched = f' stroke="{PHASE_OUT}"'
        parts.append(_bar(tip, w.x(item.phase_out), last, y + 5, 10, "url(#utfasing)", hatched))
    if item.contract_end:
        tip = f"avtalen løper ut / contract ends {item.contract_end}"
        parts.append(_end(w, item.contract_end, y, tip))
    if contract is not None and contract.notice_months:
        parts.append(_notice(w, contract, y))
    return parts


def _contract_bar(w: Window, contract: Contract, y: float) -> list[str]:
    start = contract.start or w.start
    tip = f"{contract.name}: {start} – {contract.end}"
    parts = [_bar(tip, w.x(start), w.x(contract.end), y + 7, 6, IN_USE)]
    if contract.option_end:
        dashed = f' stroke="{IN_USE}" stroke-dasharray="3 2"'
        parts.append(_rect(w.x(contract.end), w.x(contract.option_end), y + 8, 4, "none", dashed))
    parts.append(_end(w, contract.end, y, f"slutt / end {contract.end}"))
    if contract.notice_months:
        parts.append(_notice(w, contract, y))
    return parts


Row = tuple[str, Callable[[float], list[str]]]
"""A row's label, and what is drawn on the timeline at the row's height."""


def _rows(groups: Iterable[tuple[str, Iterable[Row]]]) -> tuple[list[str], float]:
    """Each group's heading and then its rows, top down; the drawing and its height."""
    body: list[str] = []
    y = float(TOP)
    for heading, rows in groups:
        body.append(_text(4, y + 17, heading, font_weight="bold", font_size="13"))
        y += HEADING
        for label, draw in rows:
            body.append(_text(14, y + 14, label[:38], font_size="12"))
            body.extend(draw(y))
            y += ROW
    return body, y


def _frame(
    portfolio: Portfolio,
    description: str,
    groups: Iterable[tuple[str, Iterable[Row]]],
    w: Window,
    today: datetime.date,
) -> str:
    body, height = _rows(groups)
    title = f"Veikart / Roadmap – {portfolio.title}"
    width = LABEL_WIDTH + CHART_WIDTH + 10
    x = w.x(today)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="veikart" '
            f'viewBox="0 0 {width} {height + 10}" width="100%" '
            'aria-labelledby="veikart-tittel veikart-beskrivelse" font-family="sans-serif">',
            f'<title id="veikart-tittel">{escape(title)}</title>',
            f'<desc id="veikart-beskrivelse">{escape(description)}</desc>',
            '<defs><pattern id="utfasing" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffe0b2"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PHASE_OUT}" stroke-width="3"/>'
            "</pattern></defs>",
            *_axis(w, height),
            *body,
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height}" stroke="{TODAY}" '
            'stroke-width="2" stroke-dasharray="4 2"/>',
            _text(x + 3, height + 8, f"i dag / today {today.isoformat()}", font_size="11"),
            "</svg>",
        ]
    )


def municipality_svg(portfolio: Portfolio, today: datetime.date) -> str:
    """Each usage's lifecycle, grouped by statutory service, with its contract's end."""
    w = window(today)
    contracts: dict[tuple[str, str], Contract] = {
        (c.municipality, c.covers): c for c in portfolio.contracts
    }
    groups = [
        (
            service,
            [
                (
                    item.application,
                    partial(
                        _lifecycle_bar,
                        w,
                        today,
                        item,
                        contracts.get((item.municipality, item.application)),
                    ),
                )
                for item in items
            ],
        )
        for service, items in portfolio.by_service()
    ]
    description = (
        f"Veikart for {portfolio.title}: {len(portfolio.lifecycles)} systemer gruppert etter "
        "lovpålagt tjeneste, med livsløp, avtalens slutt og oppsigelsesfrist. "
        f"Roadmap of {portfolio.title}: {len(portfolio.lifecycles)} systems grouped by statutory "
        "service, with lifecycle, contract end and notice deadline."
    )
    return _frame(portfolio, description, groups, w, today)


def region_svg(portfolio: Portfolio, today: datetime.date) -> str:
    """The members' contracts per application: where they end close together."""
    w = window(today)
    by_app: dict[str, list[Contract]] = {}
    for contract in portfolio.contracts:
        by_app.setdefault(contract.covers or contract.name, []).append(contract)
    groups = [
        (
            app,
            [
                (contract.municipality_name, partial(_contract_bar, w, contract))
                for contract in sorted(by_app[app], key=lambda c: (c.end, c.municipality_name))
            ],
        )
        for app in sorted(by_app)
    ]
    description = (
        f"Veikart for {portfolio.title}: medlemmenes {len(portfolio.contracts)} kontrakter per "
        "applikasjon, med slutt og oppsigelsesfrist. "
        f"Roadmap of {portfolio.title}: the members' {len(portfolio.contracts)} contracts per "
        "application, with end and notice deadline."
    )
    return _frame(portfolio, description, groups, w, today)
