"""Dependency pictures: integrations and national components as an SVG graph, laid out
on the server by Graphviz ``dot``, so a page needs no JavaScript to show one.

Labels come from uploaded spreadsheets. In DOT they are written only inside quoted
strings with ``"`` and ``\\`` escaped (so ``\\N``, ``\\G`` or ``\\l`` stay text), control
characters are dropped, and Graphviz escapes ``<``, ``>`` and ``&`` when it writes SVG;
the test with a hostile label checks that. The SVG gets a title and a description for
screen readers; the page shows the same facts as a table beside it.

When ``dot`` is not installed the picture is left out (``render_svg`` returns None) and the
page still has its table.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

DOT_TIMEOUT = 20.0
"""Seconds ``dot`` may take; a municipality's landscape takes well under one."""
MAX_NODES = 400
"""Past this the picture would be unreadable: the page shows the table only."""

KINDS = {
    "self": ("#0b5fa5", "#ffffff"),
    "application": ("#eef4fb", "#1b1f24"),
    "national": ("#fff4d6", "#1b1f24"),
    "other": ("#f0f0f0", "#1b1f24"),
}
"""Fill and text colour per kind of node (contrast ≥ 4.5:1 for the text)."""


@dataclass
class DependencyGraph:
    """Nodes (by IRI) and directed edges, with labels in the reader's language."""

    title: str
    description: str
    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """IRI -> (label, kind, link)."""
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """(source IRI, target IRI) -> the labels of the edges between them."""

    def node(self, iri: str, label: str, kind: str, link: str) -> None:
        if iri not in self.nodes or kind == "self":
            self.nodes[iri] = (label, kind, link)

    def edge(self, source: str, target: str, label: str = "") -> None:
        labels = self.edges.setdefault((source, target), [])
        if label and label not in labels:
            labels.append(label)

    @property
    def empty(self) -> bool:
        return not self.edges


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def dot_string(text: str) -> str:
    """A DOT quoted string that Graphviz shows as exactly ``text`` (one line).

    >>> dot_string('a "b" \\\\N')
    '"a \\\\"b\\\\" \\\\\\\\N"'
    """
    clean = _CONTROL.sub("", text).replace("\r", " ").replace("\n", " ")
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


_URL_UNSAFE = re.compile(r"[^A-Za-z0-9/:@!$'()*+,;=._~%?#-]")


def dot_url(link: str) -> str:
    """A link for ``URL=``: Graphviz copies it into the SVG unescaped, so every character
    that could end the attribute or start markup is percent-encoded.

    >>> dot_url('/id/a?x="1"&y=<2>')
    '"/id/a?x=%221%22%26y=%3C2%3E"'
    """
    encoded = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), link)
    return '"' + encoded + '"'


def _tooltip(text: str) -> str:
    """Graphviz expands ``\\N`` and the like in tooltips even when escaped: no backslashes."""
    return dot_string(text.replace("\\", "∖"))


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ids(graph: DependencyGraph) -> dict[str, str]:
    return {iri: f"n{index}" for index, iri in enumerate(sorted(graph.nodes))}


def to_dot(graph: DependencyGraph) -> str:
    """The graph in DOT: left to right, nodes sorted so the same data gives the same text."""
    ids = _ids(graph)
    lines = [
        "digraph dependencies {",
        '  graph [rankdir=LR, fontname="DejaVu Sans", nodesep=0.25, ranksep=0.6, '
        'bgcolor="transparent", pad=0.1];',
        '  node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=10, '
        'margin="0.12,0.05", color="#5b6470"];',
        '  edge [color="#5b6470", fontname="DejaVu Sans", fontsize=8, fontcolor="#1b1f24", '
        "arrowsize=0.6];",
    ]
    for iri in sorted(graph.nodes):
        label, kind, link = graph.nodes[iri]
        fill, ink = KINDS.get(kind, KINDS["other"])
        attributes = [
            f"label={dot_string(_short(label))}",
            f"tooltip={_tooltip(label)}",
            f'fillcolor="{fill}"',
            f'fontcolor="{ink}"',
        ]
        if link:
            attributes.append(f"URL={dot_url(link)}")
        if kind == "national":
            attributes.append("shape=component")
        lines.append(f"  {ids[iri]} [{', '.join(attributes)}];")
    for (source, target), labels in sorted(graph.edges.items()):
        if source not in ids or target not in ids:
            continue
        text = "; ".join(labels)
        lines.append(
            f"  {ids[source]} -> {ids[target]} [label={dot_string(_short(text, 40))}, "
            f"tooltip={_tooltip(text or ' ')}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_OPEN = re.compile(r"<svg\b([^>]*)>")
_NODE_TITLE = re.compile(r"<title>(n\d+(?:&#45;&gt;n\d+)?)</title>")


def render_svg(graph: DependencyGraph, element_id: str) -> Markup | None:
    """The graph as inline SVG (no XML prologue), or None without ``dot`` or when too big.

    The root gets ``role="img"``, a ``<title>`` and a ``<desc>`` that it is labelled and
    described by, with ids starting with ``element_id``.
    """
    executable = shutil.which("dot")
    if executable is None or graph.empty or len(graph.nodes) > MAX_NODES:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - a fixed executable, DOT text on stdin
            [executable, "-Tsvg"],
            input=to_dot(graph).encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    svg = _PROLOGUE.sub("", done.stdout.decode("utf-8"), count=1)
    # Graphviz titles each node and edge with its DOT name (n0, n0->n1): a reader hovering
    # or a screen reader should get the names instead.
    names = {node_id: graph.nodes[iri][0] for iri, node_id in _ids(graph).items()}

    def titled(match: re.Match[str]) -> str:
        parts = [names.get(part, part) for part in match.group(1).split("&#45;&gt;")]
        return "<title>" + escape(" → ".join(parts)) + "</title>"

    svg = _NODE_TITLE.sub(titled, svg)
    title_id, desc_id = f"{element_id}-title", f"{element_id}-desc"
    heading = (
        f'<title id="{escape(title_id)}">{escape(graph.title)}</title>'
        f'<desc id="{escape(desc_id)}">{escape(graph.description)}</desc>'
    )
    svg = _SVG_OPEN.sub(
        lambda m: (
            f'<svg{m.group(1)} role="img" aria-labelledby="{escape(title_id)}" '
            f'aria-describedby="{escape(desc_id)}" class="dependency-graph">{heading}'
        ),
        svg,
        count=1,
    )
    return Markup(svg)  # noqa: S704 - written by dot from escaped DOT; see the module doc
