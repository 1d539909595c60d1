"""The model of ``service.exports.archimate`` in The Open Group's Model Exchange File Format.

Why apart from the model: what the portfolio holds (the queries, the mapping) and how one
tool format writes it change for different reasons; ``service.exports.archi_csv`` writes
the same model as Archi's CSV import files.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from service.exports.archimate import (
    NS,
    PROPERTIES,
    PROPERTY_BY_KEY,
    SCHEMA_LOCATION,
    XML_LANG,
    XSI,
    Model,
    identifier,
)

# --- the generated view --------------------------------------------------------------

LAYER_NAMES = (
    "Hjemler / Legal bases",
    "Tjenester og kommune / Services and municipality",
    "Applikasjoner / Applications",
    "Felleskomponenter og andre systemer / Common components and other systems",
    "Data og leverandører / Data and vendors",
)
NODE_W, NODE_H, GAP_X, GAP_Y, PER_ROW, MARGIN = 180, 60, 24, 24, 8, 24


def layout(model: Model) -> dict[str, tuple[int, int]]:
    """Top-left corners for every element: one band per layer (ArchiMate's usual
    top-to-bottom order, motivation over business over application), at most
    ``PER_ROW`` boxes a row, each band's boxes sorted by name."""
    positions: dict[str, tuple[int, int]] = {}
    y = MARGIN
    for layer in range(len(LAYER_NAMES)):
        members = sorted(
            (e for e in model.elements.values() if e.layer == layer),
            key=lambda e: (e.type, e.name.casefold(), e.id),
        )
        for index, element in enumerate(members):
            row, column = divmod(index, PER_ROW)
            positions[element.id] = (
                MARGIN + column * (NODE_W + GAP_X),
                y + row * (NODE_H + GAP_Y),
            )
        if members:
            rows = (len(members) + PER_ROW - 1) // PER_ROW
            y += rows * (NODE_H + GAP_Y) + GAP_Y
    return positions


# --- the exchange file ---------------------------------------------------------------


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _lang_text(parent: ET.Element, tag: str, text: str, lang: str = "nb") -> None:
    child = ET.SubElement(parent, _q(tag))
    child.text = text
    child.set(XML_LANG, lang)


def _properties(parent: ET.Element, properties: dict[str, str]) -> None:
    if not properties:
        return
    holder = ET.SubElement(parent, _q("properties"))
    for key in PROPERTY_BY_KEY:
        if key in properties:
            prop = ET.SubElement(
                holder, _q("property"), {"propertyDefinitionRef": _definition_id(key)}
            )
            _lang_text(prop, "value", properties[key])


def _definition_id(key: str) -> str:
    return f"propid-{key}"


def _clean(text: str) -> str:
    """Text as XML 1.0 allows (control characters from a spreadsheet would make it invalid)."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def to_exchange_xml(model: Model) -> bytes:
    """The model in the Model Exchange File Format (valid against archimate3_Diagram.xsd)."""
    ET.register_namespace("", NS)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(
        _q("model"),
        {"identifier": model.id, f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION},
    )
    _lang_text(root, "name", _clean(model.name))
    if model.documentation:
        _lang_text(root, "documentation", _clean(model.documentation))
    used: set[str] = set()
    for element in model.elements.values():
        used.update(element.properties)
    for relationship in model.relationships.values():
        used.update(relationship.properties)
    if model.elements:
        elements = ET.SubElement(root, _q("elements"))
        for element in model.elements.values():
            node = ET.SubElement(
                elements,
                _q("element"),
                {"identifier": element.id, f"{{{XSI}}}type": element.type},
            )
            _lang_text(node, "name", _clean(element.name))
            if element.documentation:
                _lang_text(node, "documentation", _clean(element.documentation))
            _properties(node, {k: _clean(v) for k, v in element.properties.items()})
    if model.relationships:
        relationships = ET.SubElement(root, _q("relationships"))
        for relationship in model.relationships.values():
            attributes = {
                "identifier": relationship.id,
                "source": relationship.source,
                "target": relationship.target,
                f"{{{XSI}}}type": relationship.type,
            }
            if relationship.access_type:
                attributes["accessType"] = relationship.access_type
            node = ET.SubElement(relationships, _q("relationship"), attributes)
            if relationship.name:
                _lang_text(node, "name", _clean(relationship.name))
            _properties(node, {k: _clean(v) for k, v in relationship.properties.items()})
    definitions = [p for p in PROPERTIES if p.key in used]
    if definitions:
        holder = ET.SubElement(root, _q("propertyDefinitions"))
        for definition in definitions:
            node = ET.SubElement(
                holder,
                _q("propertyDefinition"),
                {"identifier": _definition_id(definition.key), "type": definition.type},
            )
            _lang_text(node, "name", definition.name)
    _view(root, model)
    ET.indent(root)
    written: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return written


def _view(root: ET.Element, model: Model) -> None:
    views = ET.SubElement(root, _q("views"))
    diagrams = ET.SubElement(views, _q("diagrams"))
    view_id = identifier("view", model.id)
    view = ET.SubElement(diagrams, _q("view"), {"identifier": view_id, f"{{{XSI}}}type": "Diagram"})
    _lang_text(view, "name", _clean(f"{model.name}: oversikt / overview"))
    positions = layout(model)
    nodes: dict[str, str] = {}
    for element_id, (x, y) in positions.items():
        node_id = identifier("node", view_id, element_id)
        nodes[element_id] = node_id
        ET.SubElement(
            view,
            _q("node"),
            {
                "identifier": node_id,
                "elementRef": element_id,
                f"{{{XSI}}}type": "Element",
                "x": str(x),
                "y": str(y),
                "w": str(NODE_W),
                "h": str(NODE_H),
            },
        )
    for relationship in model.relationships.values():
        if relationship.source in nodes and relationship.target in nodes:
            ET.SubElement(
                view,
                _q("connection"),
                {
                    "identifier": identifier("connection", view_id, relationship.id),
                    "relationshipRef": relationship.id,
                    f"{{{XSI}}}type": "Relationship",
                    "source": nodes[relationship.source],
                    "target": nodes[relationship.target],
                },
            )
