"""The ArchiMate model as Archi's CSV import files (elements, relations, properties), zipped.

Archi's "Import → CSV data into selected model" reads ``elements.csv``, ``relations.csv``
and ``properties.csv`` side by side (comma-separated, the first row a header, ids of
letters, digits, ``-`` and ``_``); an id already in the model updates that element, so
the stable identifiers of ``service.exports.archimate`` make a re-import an update. The
content is the same ``Model`` the exchange file is written from.

Element and relation types are Archi's class names: ``ApplicationComponent``, and the
exchange format's relationship type with ``Relationship`` appended (``FlowRelationship``).
"""

from __future__ import annotations

import csv
import io
import zipfile

from service.exports.archimate import PROPERTY_BY_KEY, Model

ELEMENTS_HEADER = ("ID", "Type", "Name", "Documentation", "Specialization")
RELATIONS_HEADER = ("ID", "Type", "Name", "Documentation", "Source", "Target", "Specialization")
PROPERTIES_HEADER = ("ID", "Key", "Value")
MEDIA_TYPE = "application/zip"
ACCESS_TYPE_KEY = "Access_Type"
"""The property Archi reads an access relationship's kind from (Write, Read, Access, ReadWrite)."""


def _one_line(text: str) -> str:
    """Archi turns line breaks and tabs in names and properties into spaces; do it here."""
    return " ".join(text.replace("\t", " ").splitlines())


def _csv(rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def csv_files(model: Model) -> dict[str, bytes]:
    """``elements.csv``, ``relations.csv`` and ``properties.csv`` of the model."""
    elements: list[tuple[str, ...]] = [ELEMENTS_HEADER]
    elements.append((model.id, "ArchimateModel", _one_line(model.name), model.documentation, ""))
    relations: list[tuple[str, ...]] = [RELATIONS_HEADER]
    properties: list[tuple[str, ...]] = [PROPERTIES_HEADER]
    for element in model.elements.values():
        elements.append(
            (element.id, element.type, _one_line(element.name), element.documentation, "")
        )
        for key, value in element.properties.items():
            properties.append((element.id, PROPERTY_BY_KEY[key].name, _one_line(value)))
    for relationship in model.relationships.values():
        relations.append(
            (
                relationship.id,
                relationship.type + "Relationship",
                _one_line(relationship.name),
                "",
                relationship.source,
                relationship.target,
                "",
            )
        )
        if relationship.access_type:
            properties.append((relationship.id, ACCESS_TYPE_KEY, relationship.access_type))
        for key, value in relationship.properties.items():
            properties.append((relationship.id, PROPERTY_BY_KEY[key].name, _one_line(value)))
    return {
        "elements.csv": _csv(elements),
        "relations.csv": _csv(relations),
        "properties.csv": _csv(properties),
    }


def to_csv_zip(model: Model) -> bytes:
    """The three files in one zip, as a browser downloads them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_files(model).items():
            archive.writestr(name, data)
    return buffer.getvalue()
