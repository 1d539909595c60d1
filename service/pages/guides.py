"""The user guides in docs/, rendered from Markdown to HTML for /docs/.

The Markdown files are the guides: they read the same on the repository host
and in the service. Raw HTML in them is not passed through (markdown-it's
``html`` option is off), so a rendered guide is safe to insert into a page
unescaped. Links between guides (``analytiker.md#x``) become service paths
(``/docs/analytiker#x``), and headings get the same anchors a repository host
gives them, so a link to a section works in both places.

>>> html = render_markdown("# Hei / Hello\\n\\nSe [analytiker](analytiker.md#regioner).\\n")
>>> '<h1 id="hei--hello">' in html, 'href="/docs/analytiker#regioner"' in html
(True, True)
>>> "&lt;script&gt;" in render_markdown("<script>alert(1)</script>")
True
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from loaders.paths import docs_dir

NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
"""A guide's name: its file name without ``.md``."""

ASSET_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ipynb": "application/x-ipynb+json",
}
"""Files besides Markdown that docs/ serves (the diagram, screenshots, the notebook)."""


def slug(text: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to -.

    >>> slug("Kommune / Municipality")
    'kommune--municipality'
    >>> slug("Fyll inn malen (steg 1)")
    'fyll-inn-malen-steg-1'
    """
    kept = "".join(c for c in text.lower() if c in "-_ " or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _link_target(href: str) -> str:
    """A relative link to a guide or an asset, as a path under /docs/."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith(("/", "#")):
        return href
    path, _, fragment = href.partition("#")
    if path.startswith("./"):
        path = path[2:]
    if path == "README.md":
        path = ""
    elif path.endswith(".md") and "/" not in path:
        path = path[: -len(".md")]
    elif path.startswith("../"):
        return href
    return "/docs/" + path + (f"#{fragment}" if fragment else "")


def _anchors_and_links(state: StateCore) -> None:
    used: dict[str, int] = {}
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            inline = tokens[index + 1]
            base = slug(inline.content)
            count = used.get(base, 0)
            used[base] = count + 1
            token.attrSet("id", base if count == 0 else f"{base}-{count}")
        for child in token.children or ():
            if child.type == "link_open":
                href = child.attrGet("href")
                if isinstance(href, str):
                    child.attrSet("href", _link_target(href))
            elif child.type == "image":
                src = child.attrGet("src")
                if isinstance(src, str):
                    child.attrSet("src", _link_target(src))


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    parser.core.ruler.push("kommunegraf_anchors_links", _anchors_and_links)
    return parser


def render_markdown(text: str) -> str:
    """Markdown to HTML, raw HTML escaped, links rewritten for /docs/."""
    html: str = _parser().render(text)
    return html


@dataclass(frozen=True)
class Guide:
    name: str
    """"" for the index (docs/README.md)."""
    title: str
    html: str


def guide_path(name: str) -> Path | None:
    """The Markdown file of a guide, or None when there is no such guide."""
    if name == "":
        path = docs_dir() / "README.md"
    elif NAME.fullmatch(name):
        path = docs_dir() / f"{name}.md"
    else:
        return None
    return path if path.is_file() else None


def asset_path(name: str) -> Path | None:
    """An image in docs/ (one folder deep at most), or None; never a path outside docs/."""
    parts = name.split("/")
    if len(parts) > 2 or not all(NAME.fullmatch(p.rsplit(".", 1)[0]) for p in parts):
        return None
    path = docs_dir().joinpath(*parts)
    if path.suffix not in ASSET_TYPES or not path.is_file():
        return None
    return path


@cache
def _render_file(path: Path, modified: float) -> Guide:
    text = path.read_text(encoding="utf-8")
    heading = re.search(r"^# (.+)$", text, re.MULTILINE)
    name = "" if path.name == "README.md" else path.stem
    return Guide(name, heading.group(1).strip() if heading else path.stem, render_markdown(text))


def render_guide(name: str) -> Guide | None:
    """A guide rendered to HTML; re-rendered when its file changes."""
    path = guide_path(name)
    if path is None:
        return None
    return _render_file(path, path.stat().st_mtime)


def guide_names() -> list[str]:
    """Every guide in docs/, by name, the index first."""
    names = sorted(p.stem for p in docs_dir().glob("*.md") if NAME.fullmatch(p.stem))
    return ["", *names]


__all__ = ["ASSET_TYPES", "Guide", "asset_path", "guide_names", "render_guide", "render_markdown"]
