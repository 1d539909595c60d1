"""HTTP content negotiation: pick the best media type a client accepts.

>>> offered = ["application/sparql-results+json", "text/csv"]
>>> best_match("text/csv;q=0.5, application/sparql-results+json", offered)
'application/sparql-results+json'
>>> best_match("text/*;q=0.9, */*;q=0.1", ["application/json", "text/tab-separated-values"])
'text/tab-separated-values'
>>> best_match("image/png", ["text/turtle"]) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from starlette.requests import Request

from service.errors import ServiceError


def _parse(accept: str) -> list[tuple[str, float, int]]:
    ranges = []
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality, position))
    return ranges


def _specificity(media_range: str, offered: str) -> int:
    if media_range == offered:
        return 3
    kind, _, sub = media_range.partition("/")
    if sub == "*" and offered.startswith(kind + "/"):
        return 2
    if media_range == "*/*":
        return 1
    return 0


def best_match(accept: str | None, offered: list[str]) -> str | None:
    """The offered type with the highest quality; ties go to the server's order."""
    if not accept or not accept.strip():
        return offered[0] if offered else None
    return _best(accept, tuple(offered))


@lru_cache(maxsize=256)
def _best(accept: str, offered: tuple[str, ...]) -> str | None:
    """``best_match`` for a non-empty Accept, remembered: clients send the same few
    headers again and again, and reading one (twice per query: solutions and graphs) was
    about a tenth of the app's Python on a light query answered from the answer cache
    (bench/, issue 21)."""
    ranges = _parse(accept)
    best: tuple[float, int] | None = None
    choice = None
    for index, media in enumerate(offered):
        matching = [(_specificity(r, media), q) for r, q, _ in ranges if _specificity(r, media)]
        if not matching:
            continue
        quality = max(matching)[1]
        if quality <= 0:
            continue
        key = (quality, -index)
        if best is None or key > best:
            best, choice = key, media
    return choice


def negotiate(request: Request, offered: list[str], names: Mapping[str, str]) -> str | None:
    """The media type to answer with: ``format=NAME`` (a key of ``names``) when given,
    else the best of ``offered`` the Accept header allows; None when neither gives one
    of ``offered`` (the caller answers 406)."""
    asked = request.query_params.get("format")
    if asked is not None:
        media = names.get(asked.strip().lower())
        return media if media in offered else None
    return best_match(request.headers.get("accept"), offered)


def not_acceptable(thing_nb: str, thing_en: str, offered: Sequence[str]) -> ServiceError:
    """406: ``thing`` exists, but in none of the formats the client accepts; the detail
    lists those it does exist in."""
    return ServiceError(
        406,
        f"Kan ikke levere {thing_nb} i et format du godtar.",
        f"Cannot send {thing_en} in a format you accept.",
        "Available: " + ", ".join(offered),
    )
