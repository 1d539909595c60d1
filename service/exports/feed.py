"""A municipality's (or a region's) changes as an Atom feed (RFC 4287).

Why: a system owner, an architect or a region's coordinator follows what changed in
a feed reader instead of asking. Each entry is one audited write: when, what (the
graphs, triples added and removed, and the row changes recorded with it), by which
role (the token's role and name, never a person's), from which upload (the file name
and its SHA-256).
"""

from __future__ import annotations

import datetime
import uuid
from xml.etree import ElementTree as ET

from service.access.audit import AuditEvent

ATOM = "http://www.w3.org/2005/Atom"
ATOM_MEDIA = "application/atom+xml"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def event_text(event: AuditEvent) -> str:
    """What the event did, in words (nb / en)."""
    lines = [
        f"{event.action}: {event.file_name or ''} (SHA-256 {event.file_sha256 or '–'})".strip(),
        f"Rolle / role: {event.role} ({event.actor})",
    ]
    for change in event.changes:
        lines.append(f"{change.graph}: +{change.added} / -{change.removed} tripler / triples")
    if event.detail:
        lines.append(event.detail)
    return "\n".join(lines)


def _entry_id(feed_id: str, event_id: str) -> str:
    """The event's id as a ``urn:uuid:`` IRI (ids are UUIDs), else under the feed's id."""
    try:
        return uuid.UUID(event_id).urn
    except ValueError:
        return f"{feed_id}#{event_id}"


def feed_bytes(
    feed_id: str, title: str, link: str, events: list[AuditEvent], now: datetime.datetime
) -> bytes:
    """The feed, newest entry first; ``feed_id`` and ``link`` are absolute IRIs."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "nb"})
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    newest = max((e.moment for e in events), default=now)
    _add(feed, "updated", newest.isoformat())
    author = _add(feed, "author")
    _add(author, "name", "kommunegraf")
    _add(feed, "link", rel="self", href=feed_id)
    _add(feed, "link", rel="alternate", href=link)
    for event in sorted(events, key=lambda e: e.moment, reverse=True):
        entry = _add(feed, "entry")
        _add(entry, "id", _entry_id(feed_id, event.id))
        what = event.file_name or event.action
        _add(entry, "title", f"{event.action}: {what} ({event.role})")
        _add(entry, "updated", event.moment.isoformat())
        entry_author = _add(entry, "author")
        _add(entry_author, "name", f"{event.role}: {event.actor}")
        _add(entry, "link", rel="alternate", href=link)
        _add(entry, "content", event_text(event), type="text")
    written: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return written
