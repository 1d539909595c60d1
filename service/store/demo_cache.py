"""A copy of the loaded national demo, kept by the hash of everything it is built from.

Why: checking the 358 demo workbooks takes minutes on a small machine, and a newcomer
pays that on every first start: a new store folder, a fresh clone beside an old one, a
container without its volume. What they produce depends only on the workbooks, the
reference data, the shapes, the ontology, the code that reads and writes them, the
libraries' versions, the base IRI and the validation engine; so after a full load the
store is written once as N-Quads (gzip) under the cache folder, named by that hash, and
a later first start with the same inputs bulk-loads it in seconds. Any change to an
input gives another name, so a stale copy is never used; a copy that cannot be read is
deleted and the demo is checked and loaded as usual. The copy is never the only source
of anything: delete the folder at will.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import tempfile
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Protocol, cast

import pyoxigraph as ox

import loaders
import service
from loaders.paths import ontology_dir, shapes_dir
from service.store.embedded import KnowledgeStore

log = logging.getLogger("kommunegraf")

_SERVICE = Path(service.__file__).resolve().parent
LIBRARIES = ("pyoxigraph", "pyshacl", "rdflib", "python-calamine", "openpyxl")
KEEP = 3
"""How many copies (of different inputs) the cache folder keeps; each is ~10 MB."""
_HEADER = re.compile(rb"^# kommunegraf demo: (\d+) quads\n")


def input_folders() -> tuple[Path, ...]:
    """What the demo store is built from: the loaders (with the demo workbooks and the
    reference data), the shapes, the ontology, and the service code that writes the
    store at first start. Pages, routes and exports do not change what is stored."""
    return (
        Path(loaders.__file__).resolve().parent,
        shapes_dir(),
        ontology_dir(),
        _SERVICE / "store",
        _SERVICE / "access",
        _SERVICE / "settings.py",
        _SERVICE / "web" / "app.py",
        _SERVICE / "web" / "startup.py",
    )


@cache
def inputs_digest() -> str:
    """A hash of every input file and of the libraries that turn them into the store.

    Also the key of the tests' cached demo store (tests/conftest.py), so both are
    rebuilt on the same changes.
    """
    digest = hashlib.sha256()
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={version(name)}\n".encode())
        except PackageNotFoundError:  # not installed is part of the key too
            digest.update(f"{name}=-\n".encode())
    for root in input_folders():
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.suffix in {".html", ".css", ".js", ".md", ".svg", ".pyc"}:
                continue
            digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def cache_folder(setting: str) -> Path | None:
    """The folder of the ``demo_cache`` setting: ``auto`` is the user's cache folder
    (``$XDG_CACHE_HOME/kommunegraf``, else ``~/.cache/kommunegraf``), ``off`` none.

    >>> cache_folder("off") is None
    True
    >>> cache_folder("/srv/cache")
    PosixPath('/srv/cache')
    """
    if setting == "off":
        return None
    if setting != "auto":
        return Path(setting)
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "kommunegraf"


def cache_file(folder: Path, base_iri: str, engine: str) -> Path:
    """The copy for this version's inputs, this base IRI and this validation engine."""
    setting = hashlib.sha256(f"{base_iri}\0{engine}".encode()).hexdigest()[:8]
    return folder / f"demo-{inputs_digest()}-{setting}.nq.gz"


class Dumpable(Protocol):
    """A store that writes its quads: the service's, or a pyoxigraph store opened
    read-only (the tests' demo store)."""

    def __len__(self) -> int: ...

    def dump(self, output: IO[bytes], rdf_format: ox.RdfFormat, /) -> object: ...


def save(store: Dumpable, target: Path) -> None:
    """Write the whole store (reference data and demo, nothing else) to ``target``,
    atomically: a copy is either complete or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=target.name + ".", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as raw, gzip.open(raw, "wb", compresslevel=1) as out:
            out.write(f"# kommunegraf demo: {len(store)} quads\n".encode())
            store.dump(cast(IO[bytes], out), ox.RdfFormat.N_QUADS)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    older = sorted(
        (p for p in target.parent.glob("demo-*.nq.gz") if p != target),
        key=lambda p: p.stat().st_mtime,
    )
    for stale in older[: max(0, len(older) - KEEP + 1)]:
        stale.unlink(missing_ok=True)


def frozen(store: KnowledgeStore) -> Path:
    """A private copy of the state ``store`` last published (hard links, milliseconds),
    for ``save_frozen`` to write later: the store may change meanwhile, the copy not."""
    assert store.path is not None
    prefix = store.path.name + ".copy-"
    for left in store.path.parent.glob(prefix + "*"):  # a start stopped before its copy
        shutil.rmtree(left, ignore_errors=True)
    target = Path(tempfile.mkdtemp(prefix=prefix, dir=store.path.parent))
    try:
        shutil.copytree(store.snapshot, target / "store", copy_function=os.link)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def save_frozen(folder: Path, target: Path) -> None:
    """``save`` of a state ``frozen`` made; the folder is deleted after, saved or not."""
    try:
        reader = ox.Store.read_only(str(folder / "store"))
        save(reader, target)
        del reader
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class UnusableCopyError(Exception):
    """The copy is damaged or incomplete; the caller loads the demo as usual."""


def load(store: KnowledgeStore, source: Path) -> int:
    """Bulk-load a copy written by ``save`` into ``store``; the number of quads.

    Raises UnusableCopyError when the copy cannot be read or holds fewer quads than it
    says; the store may then hold part of it, and the caller empties it.
    """
    before = len(store)
    try:
        with gzip.open(source, "rb") as data:
            header = _HEADER.match(data.readline())
            if header is None:
                raise UnusableCopyError(f"{source}: no header")
            store.bulk_load(cast(IO[bytes], data), ox.RdfFormat.N_QUADS)
    except (OSError, EOFError, SyntaxError, ValueError) as error:
        raise UnusableCopyError(f"{source}: {error}") from error
    loaded, expected = len(store) - before, int(header.group(1).decode())
    if loaded != expected:
        raise UnusableCopyError(f"{source}: {loaded} quads, expected {expected}")
    return loaded
