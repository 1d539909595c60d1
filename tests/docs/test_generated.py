"""The generated documents in docs/ match what ontology/ and shapes/ say now.

The diagram and the column table are committed so they can be read on the
repository; these tests fail when either drifts from its source, and say how to
regenerate it. Reading the committed SVG needs no Graphviz.
"""

from __future__ import annotations

import re
import struct

from defusedxml import ElementTree

from loaders.columns import sheets
from loaders.paths import docs_dir
from service.pages.ontology_diagram import DIAGRAM_NAME, class_diagram, to_dot
from service.pages.ontology_docs import COLUMNS_FILE, columns_markdown, ontology_terms

REGENERATE = "regenerate with: python -m service.pages.ontology_diagram"
SVG = "{http://www.w3.org/2000/svg}"


def _svg_ids() -> tuple[set[str], set[str]]:
    root = ElementTree.parse(docs_dir() / f"{DIAGRAM_NAME}.svg").getroot()
    ids = {element.get("id", "") for element in root.iter(f"{SVG}g")}
    classes = {i.removeprefix("class:") for i in ids if i.startswith("class:")}
    relations = {i.removeprefix("relation:") for i in ids if i.startswith("relation:")}
    return classes, relations


def test_the_committed_svg_has_every_class_and_relation_and_nothing_else() -> None:
    diagram = class_diagram()
    classes, relations = _svg_ids()
    assert classes == set(diagram.classes), REGENERATE
    assert relations == {"|".join(r) for r in diagram.relations}, REGENERATE


def test_the_committed_dot_source_is_what_the_generator_writes() -> None:
    committed = (docs_dir() / f"{DIAGRAM_NAME}.dot").read_text(encoding="utf-8")
    assert committed == to_dot(class_diagram()), REGENERATE


def test_the_png_was_rendered_from_the_same_layout_as_the_svg() -> None:
    """Same aspect ratio as the SVG: a PNG left over from an older layout fails."""
    png = (docs_dir() / f"{DIAGRAM_NAME}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    svg = (docs_dir() / f"{DIAGRAM_NAME}.svg").read_text(encoding="utf-8")
    found = re.search(r'<svg width="(\d+)pt" height="(\d+)pt"', svg)
    assert found is not None
    svg_width, svg_height = int(found.group(1)), int(found.group(2))
    assert abs(width / height - svg_width / svg_height) < 0.02, REGENERATE


def test_the_diagram_shows_every_class_and_the_core_relations() -> None:
    diagram = class_diagram()
    expected_classes = {t.curie for t in ontology_terms().values() if t.kind == "class"}
    assert set(diagram.classes) == expected_classes
    assert {
        ("kg:ApplicationUsage", "kg:usedBy", "kg:Municipality"),
        ("kg:ApplicationUsage", "kg:application", "kg:Application"),
        ("kg:Application", "kg:vendor", "kg:Vendor"),
        ("kg:Region", "org:hasMember", "kg:Municipality"),
        ("kg:StatutoryService", "cv:hasLegalResource", "kg:LegalBasis"),
    } <= diagram.relations


def test_the_column_table_is_generated_from_the_current_shapes() -> None:
    committed = (docs_dir() / COLUMNS_FILE).read_text(encoding="utf-8")
    assert committed == columns_markdown(), "regenerate with: python -m service.pages.ontology_docs"


def test_the_column_table_names_every_sheet_and_column() -> None:
    text = columns_markdown()
    for sheet in sheets():
        assert f"## {sheet.name_nb} / {sheet.name_en}" in text
        for column in sheet.columns:
            assert f"**{column.name_nb}**" in text
