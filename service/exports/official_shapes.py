"""Digdir's DCAT-AP-NO and CPSV-AP-NO shapes (local copies), and checking against them.

Why a local copy: Felles datakatalog checks a harvested catalogue with these files,
so the export is tested against exactly them; the copy fixes only the defects
documented in ``shapes/README.md``, which also states the inference mode and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pyshacl import validate
from rdflib import Graph
from rdflib.namespace import SH
from rdflib.term import Node

SHAPES_DIR = Path(__file__).parent / "shapes"
DCAT_AP_NO = SHAPES_DIR / "DCAT-AP-NO-shacl_shapes_2.00.ttl"
CPSV_AP_NO = SHAPES_DIR / "CPSV-AP-NO_shacl_shapes_v1.ttl"

Inference = Literal["none", "rdfs"]


@dataclass(frozen=True)
class ShapeResult:
    severity: str
    """"Violation", "Warning" or "Info"."""
    focus: str
    path: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.focus} {self.path} {self.value}: {self.message}"


@cache
def _shapes(path: Path) -> Graph:
    return Graph().parse(path, format="turtle")


def _text(node: Node | None) -> str:
    return "" if node is None else str(node)


def check(data: Graph, profile: Path, inference: Inference = "none") -> list[ShapeResult]:
    """Every result of validating ``data`` against one profile's shapes."""
    _, results, _ = validate(
        data,
        shacl_graph=_shapes(profile),
        inference=inference,
        do_owl_imports=False,
        allow_warnings=True,
    )
    assert isinstance(results, Graph)
    found = []
    for result in results.subjects(SH.resultSeverity, None):
        severity = _text(results.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        messages = sorted(str(m) for m in results.objects(result, SH.resultMessage))
        found.append(
            ShapeResult(
                severity,
                _text(results.value(result, SH.focusNode)),
                _text(results.value(result, SH.resultPath)),
                _text(results.value(result, SH.value)),
                " / ".join(messages),
            )
        )
    return sorted(found, key=lambda r: (r.severity, r.focus, r.path, r.value))


def violations(data: Graph, profile: Path, inference: Inference = "none") -> list[ShapeResult]:
    """Only the results that make Felles datakatalog reject the data."""
    return [r for r in check(data, profile, inference) if r.severity == "Violation"]
