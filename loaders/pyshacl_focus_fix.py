"""A fix for pySHACL 0.40: ``focus_nodes`` switches off every nested shape.

Why: ``loaders.validation`` validates only the new nodes of an upload (the context
it references is there to be referenced, not re-checked), by passing them as
``focus_nodes``. pySHACL 0.40 keeps that list on its executor and filters by it in
*every* shape evaluation, also when a shape is evaluated on values passed to it by
another shape (``sh:or``, ``sh:and``, ``sh:node``, ``sh:qualifiedValueShape``). The
values are literals or other nodes, not in the list, so the nested shape checks
nothing and always conforms: ``sh:or ([sh:datatype xsd:integer] ...)`` accepted any
text, and a dataset named only in English passed "at least one name in bokmål".

The fix: a shape evaluated on values given to it (``focus`` passed) runs without the
filter; only the shapes that find their own targets are filtered, which is what
``focus_nodes`` is documented to do. ``tests/loaders/test_validation.py`` pins the
bug; drop this module when pySHACL fixes it (the test then passes without it).
"""

from __future__ import annotations

from typing import Any

from pyshacl.shape import Shape

_original = Shape.validate


def _validate(
    self: Shape,
    executor: Any,
    target_graph: Any,
    focus: Any = None,
    _evaluation_path: Any = None,
) -> Any:
    if focus is None or not getattr(executor, "focus_nodes", None):
        return _original(self, executor, target_graph, focus, _evaluation_path)
    saved = executor.focus_nodes
    executor.focus_nodes = None
    try:
        return _original(self, executor, target_graph, focus, _evaluation_path)
    finally:
        executor.focus_nodes = saved


def apply() -> None:
    """Install the fix (idempotent); ``loaders.validation`` calls it on import."""
    Shape.validate = _validate  # type: ignore[method-assign]
