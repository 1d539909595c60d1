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
from dataclasses import dataclass
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


def _lifecycle_bar(w: Window, item: Lifecycle, y: float, today: datetime.date) -> list[str]:
    start = item.in_use or w.start
    end_of_use = item.phase_out or item.retirement or w.end
    colour = PLANNED if start > today else IN_USE
    tip = f"{item.application}: {item.status}"
    parts = [
        f"<g><title>{escape(tip)}</title>"
        + _rect(w.x(start), w.x(end_of_use), y + 5, 10, colour)
        + "</g>"
    ]
    if item.phase_out:
        last = item.retirement or w.end
        parts.append(
            f"<g><title>{escape(item.application)}: utfasing / phase-out "
            f"{item.phase_out.isoformat()}</title>"
            f'<rect x="{w.x(item.phase_out):.1f}" y="{y + 5}" '
            f'width="{max(1.0, w.x(last) - w.x(item.phase_out)):.1f}" height="10" '
            f'fill="url(#utfasing)" stroke="{PHASE_OUT}"/></g>'
        )
    if item.contract_end:
        parts.append(
            _diamond(
                w.x(item.contract_end),
                y + 10,
                f"avtalen løper ut / contract ends {item.contract_end}",
            )
        )
    return parts


def _diamond(x: float, y: float, tip: str) -> str:
    return (
        f'<g><title>{escape(tip)}</title><path d="M{x:.1f},{y - 7} l6,7 l-6,7 l-6,-7 z" '
        f'fill="{CONTRACT}" stroke="#ffffff" stroke-width="1"/></g>'
    )


def _triangle(x: float, y: float, tip: str) -> str:
    return (
        f'<g><title>{escape(tip)}</title><path d="M{x:.1f},{y - 7} l6,12 l-12,0 z" '
        f'fill="{NOTICE}" stroke="#ffffff" stroke-width="1"/></g>'
    )


def _contract_bar(w: Window, contract: Contract, y: float) -> list[str]:
    start = contract.start or w.start
    parts = [
        f"<g><title>{escape(contract.name)}: {start} – {contract.end}</title>"
        + _rect(w.x(start), w.x(contract.end), y + 7, 6, IN_USE)
        + "</g>"
    ]
    if contract.option_end:
        parts.append(
            f'<rect x="{w.x(contract.end):.1f}" y="{y + 8}" '
            f'width="{max(1.0, w.x(contract.option_end) - w.x(contract.end)):.1f}" height="4" '
            f'fill="none" stroke="{IN_USE}" stroke-dasharray="3 2"/>'
        )
    parts.append(_diamond(w.x(contract.end), y + 10, f"slutt / end {contract.end}"))
    if contract.notice_months:
        parts.append(
            _triangle(
                w.x(contract.notice_deadline),
                y + 10,
                f"oppsigelsesfrist / notice deadline {contract.notice_deadline}",
            )
        )
    return parts


def _frame(
    title: str, description: str, height: float, body: list[str], w: Window, today: datetime.date
) -> str:
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
    body: list[str] = []
    y = float(TOP)
    for service, items in portfolio.by_service():
        body.append(_text(4, y + 17, service, font_weight="bold", font_size="13"))
        y += HEADING
        for item in items:
            body.append(_text(14, y + 14, item.application[:38], font_size="12"))
            body.extend(_lifecycle_bar(w, item, y, today))
            contract = contracts.get((item.municipality, item.application))
            if contract is not None and contract.notice_months:
                body.append(
                    _triangle(
                        w.x(contract.notice_deadline),
                        y + 10,
                        f"oppsigelsesfrist / notice deadline {contract.notice_deadline}",
                    )
                )
            y += ROW
    description = (
        f"Veikart for {portfolio.title}: {len(portfolio.lifecycles)} systemer gruppert etter "
        "lovpålagt tjeneste, med livsløp, avtalens slutt og oppsigelsesfrist. "
        f"Roadmap of {portfolio.title}: {len(portfolio.lifecycles)} systems grouped by statutory "
        "service, with lifecycle, contract end and notice deadline."
    )
    return _frame(f"Veikart / Roadmap – {portfolio.title}", description, y, body, w, today)


def region_svg(portfolio: Portfolio, today: datetime.date) -> str:
    """The members' contracts per application: where they end close together."""
    w = window(today)
    body: list[str] = []
    y = float(TOP)
    by_app: dict[str, list[Contract]] = {}
    for contract in portfolio.contracts:
        by_app.setdefault(contract.covers or contract.name, []).append(contract)
    for app in sorted(by_app):
        body.append(_text(4, y + 17, app, font_weight="bold", font_size="13"))
        y += HEADING
        for contract in sorted(by_app[app], key=lambda c: (c.end, c.municipality_name)):
            body.append(_text(14, y + 14, contract.municipality_name[:38], font_size="12"))
            body.extend(_contract_bar(w, contract, y))
            y += ROW
    description = (
        f"Veikart for {portfolio.title}: medlemmenes {len(portfolio.contracts)} kontrakter per "
        "applikasjon, med slutt og oppsigelsesfrist. "
        f"Roadmap of {portfolio.title}: the members' {len(portfolio.contracts)} contracts per "
        "application, with end and notice deadline."
    )
    return _frame(f"Veikart / Roadmap – {portfolio.title}", description, y, body, w, today)
