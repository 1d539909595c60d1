"""The runnable examples in docs/*.md, read from the Markdown itself.

A fenced block is an example when its language is ``sparql``, ``python``, or ``sh``
with a line that runs ``kommunegraf``. Words after the language are flags:
``norun`` (not run; keep it rare), ``exit=N`` (the block must end with exit code N),
``serve`` (each line starts a long-running ``kommunegraf serve``, which must answer).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from loaders.paths import docs_dir

RUNS_KOMMUNEGRAF = re.compile(r"^\s*(?:[A-Z_]+=\S*\s+)*kommunegraf\b", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    path: Path
    line: int
    language: str
    flags: frozenset[str]
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def runs(self) -> bool:
        if "norun" in self.flags:
            return False
        if self.language == "sh":
            return bool(RUNS_KOMMUNEGRAF.search(self.text))
        return self.language in ("sparql", "python")

    def expected_exit(self) -> int:
        for flag in self.flags:
            if flag.startswith("exit="):
                return int(flag.partition("=")[2])
        return 0


def guides() -> list[Path]:
    return sorted(docs_dir().glob("*.md"))


def examples_in(path: Path) -> list[Example]:
    found = []
    for token in MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8")):
        if token.type != "fence" or not token.info.strip():
            continue
        language, *flags = token.info.split()
        line = (token.map[0] + 1) if token.map else 0
        found.append(Example(path, line, language.lower(), frozenset(flags), token.content))
    return found


def notebook_code(path: Path) -> str:
    """The code cells of a Jupyter notebook, joined into one script."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return "\n\n".join("".join(c["source"]) for c in cells) + "\n"


def all_examples(language: str) -> list[Example]:
    return [e for p in guides() for e in examples_in(p) if e.language == language and e.runs]
