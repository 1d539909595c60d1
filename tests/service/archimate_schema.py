"""The ArchiMate 3.1 exchange schemas (../shared/reference/archimate), loaded offline.

``archimate3_Model.xsd`` imports ``xml.xsd`` from its W3C address; a resolver maps that
to the local copy, so validating never touches the network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

SCHEMAS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "archimate"


class _Offline(etree.Resolver):  # type: ignore[misc]  # lxml has no type information
    def resolve(self, system_url: str | None, public_id: str | None, context: object) -> object:
        if system_url and system_url.endswith("xml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xml.xsd"), context)
        return None


@cache
def diagram_schema() -> Any:
    """The schema (an ``lxml.etree.XMLSchema``)."""
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Offline())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "archimate3_Diagram.xsd"), parser))


def schema_errors(document: bytes) -> list[str]:
    """Every violation of archimate3_Diagram.xsd; empty when the file is valid."""
    schema = diagram_schema()
    if schema.validate(etree.fromstring(document)):
        return []
    return [str(error) for error in schema.error_log]
