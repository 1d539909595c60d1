"""docs/developers.md: the "add a class" recipe, followed as written on a throw-away class.

The recipe's Turtle blocks (```turtle recipe=FILE) are applied to a copy of the repository's
code and data folders: the ontology block is appended to the ontology, the shape block becomes
its own file. Then the real ``kommunegraf`` of that copy must put the class's sheet in the
template and validate the class by its shape, without any other edit: if a step the recipe
leaves out were needed, this test would fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import REPOSITORY

GUIDE = REPOSITORY / "docs" / "developers.md"
BASE = "http://example.org/"


def recipe_blocks() -> dict[str, str]:
    """Each ```turtle recipe=FILE block of the guide, by FILE."""
    blocks = re.findall(r"```turtle recipe=(\S+)\n(.*?)```", GUIDE.read_text("utf-8"), re.S)
    return dict(blocks)


def _copy(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "vendor", "data", "*.pyc")
    for folder in ("loaders", "service", "ontology", "shapes", "queries", "docs"):
        shutil.copytree(REPOSITORY / folder, target / folder, ignore=ignore)


def _kommunegraf(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNEGRAF_")}
    return subprocess.run(
        [sys.executable, "-B", "-m", "service", *args],
        cwd=copy,
        env={**env, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _kommunegraf_python(copy: Path, code: str) -> str:
    """What ``code`` prints, run on the copy (the lists search and the home page read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOMMUNEGRAF_")}
    done = subprocess.run(
        [sys.executable, "-B", "-c", code],
        cwd=copy,
        env={**env, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def test_the_recipe_names_its_files() -> None:
    assert set(recipe_blocks()) == {"ontology/kommunegraf.ttl", "shapes/licence.ttl"}


def test_adding_a_class_by_the_recipe_gives_its_sheet_and_its_rules(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    _copy(copy)
    blocks = recipe_blocks()
    with (copy / "ontology" / "kommunegraf.ttl").open("a", encoding="utf-8") as ontology:
        ontology.write("\n" + blocks["ontology/kommunegraf.ttl"])
    (copy / "shapes" / "licence.ttl").write_text(blocks["shapes/licence.ttl"], "utf-8")

    made = _kommunegraf(copy, "template", str(tmp_path / "mal.xlsx"))
    assert made.returncode == 0, made.stderr
    sheet = load_workbook(tmp_path / "mal.xlsx")["Lisenser"]
    headers = {str(cell.value) for row in sheet.iter_rows(max_row=5) for cell in row}
    assert any(h.startswith("Navn") for h in headers), headers

    prefixes = (
        "@prefix kg: <https://w3id.org/kommunegraf/ontology#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
    )
    good = tmp_path / "lisens.ttl"
    good.write_text(
        prefixes + f'<{BASE}id/lisens/drift> a kg:Licence ; rdfs:label "Lisens sak/arkiv"@nb .\n',
        "utf-8",
    )
    valid = _kommunegraf(copy, "validate", str(good), "--base-iri", BASE)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    listed = _kommunegraf_python(
        copy,
        "from loaders.classes import counted, searched; "
        "print([c.name for c in searched()], [c.plural_en for c in counted()])",
    )
    assert "'Licence'" in listed and "'Licences'" in listed, listed

    bad = tmp_path / "uten-navn.ttl"
    bad.write_text(
        prefixes + f"<{BASE}id/lisens/x> a kg:Licence ; foaf:homepage <https://x.no/> .\n",
        "utf-8",
    )
    invalid = _kommunegraf(copy, "validate", str(bad), "--base-iri", BASE)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert "Navn er påkrevd" in invalid.stdout + invalid.stderr
