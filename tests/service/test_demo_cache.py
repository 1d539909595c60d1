"""The checked copy of the demo that makes a later first start take seconds (issue 19).

The copy is the store's quads as gzip N-Quads under a name made from every input; these
tests use small stores (the journey test in tests/journeys starts a server from a copy of
the whole national demo).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS

from service.store import demo_cache
from service.store.embedded import KnowledgeStore, open_store


def _filled(count: int) -> Graph:
    graph = Graph()
    for i in range(count):
        graph.add((URIRef(f"http://x.test/id/{i}"), RDFS.label, Literal(f"nr. {i} «æøå»")))
    return graph


def _quads(store: KnowledgeStore) -> set[bytes]:
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.N_QUADS)
    return set(out.getvalue().splitlines())


def test_a_saved_copy_loads_back_the_same_quads(tmp_path: Path) -> None:
    target = demo_cache.cache_file(tmp_path / "cache", "http://x.test/", "sparql")
    with open_store(None) as store:
        store.replace_graph("http://x.test/graph/a", _filled(50))
        store.replace_graph("http://x.test/graph/b", _filled(3))
        demo_cache.save(store, target)
        before = _quads(store)
    assert target.is_file() and target.name.startswith(f"demo-{demo_cache.inputs_digest()}-")
    with open_store(None) as fresh:
        assert demo_cache.load(fresh, target) == 53
        assert _quads(fresh) == before


def test_another_base_iri_or_engine_is_another_copy(tmp_path: Path) -> None:
    one = demo_cache.cache_file(tmp_path, "http://x.test/", "sparql")
    assert one != demo_cache.cache_file(tmp_path, "http://y.test/", "sparql")
    assert one != demo_cache.cache_file(tmp_path, "http://x.test/", "pyshacl")


@pytest.mark.parametrize("damage", ["truncated", "no header", "fewer quads", "not gzip"])
def test_a_damaged_copy_is_refused(tmp_path: Path, damage: str) -> None:
    target = tmp_path / "demo-x.nq.gz"
    with open_store(None) as store:
        store.replace_graph("http://x.test/graph/a", _filled(20))
        demo_cache.save(store, target)
    data = gzip.decompress(target.read_bytes())
    if damage == "truncated":
        target.write_bytes(gzip.compress(data)[:-40])
    elif damage == "no header":
        target.write_bytes(gzip.compress(data.split(b"\n", 1)[1]))
    elif damage == "fewer quads":
        target.write_bytes(gzip.compress(data.rsplit(b"\n", 3)[0] + b"\n"))
    else:
        target.write_bytes(data)
    with open_store(None) as fresh, pytest.raises(demo_cache.UnusableCopyError):
        demo_cache.load(fresh, target)


def test_the_setting_chooses_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/srv/xdg")
    assert demo_cache.cache_folder("auto") == Path("/srv/xdg/kommunegraf")
    assert demo_cache.cache_folder("off") is None


def test_the_copy_saved_after_ready_holds_the_loaded_state_not_later_writes(
    tmp_path: Path,
) -> None:
    """A first start saves its copy once the service is ready (``frozen`` at the end of
    the load, ``save_frozen`` later): an upload made meanwhile must not get into it."""
    target = tmp_path / "cache" / "demo-x.nq.gz"
    with open_store(tmp_path / "store") as store:
        store.replace_graph("http://x.test/graph/a", _filled(20))
        loaded = _quads(store)
        frozen = demo_cache.frozen(store)
        store.replace_graph("http://x.test/graph/upload", _filled(5))
        store.replace_graph("http://x.test/graph/a", _filled(2))
        demo_cache.save_frozen(frozen, target)
    assert not frozen.exists()
    with open_store(None) as fresh:
        assert demo_cache.load(fresh, target) == 20
        assert _quads(fresh) == loaded
