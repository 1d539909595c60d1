"""The SHACL engines' names, apart from the engines.

``service.settings`` checks a configured engine against them, and every CLI
command builds its settings: importing ``loaders.validation`` there would load
pySHACL and the workbook readers for ``kommunegraf --help``.
"""

from __future__ import annotations

from typing import Literal

Engine = Literal["sparql", "pyshacl"]
ENGINES: tuple[Engine, ...] = ("sparql", "pyshacl")
"""The default first: SHACL compiled to SPARQL on pyoxigraph; pySHACL is the reference."""
