"""The journeys run on the national demo: one server over a copy of the cached demo store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.access.tokens import TokenFile
from tests.conftest import start_server, stop_server
from tests.docs.test_examples import demo_base  # noqa: F401 - the fixture, shared
from tests.service.access import ADMIN, Access

ARENDAL = "4203"


@pytest.fixture(scope="session")
def national(
    demo_store: Path,
    demo_base: str,  # noqa: F811 - the fixture imported above
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Access]:
    """A real server over a copy of the national demo, with an admin token and a
    system owner's token for Arendal (4203); copied because uploads write to it."""
    folder = tmp_path_factory.mktemp("national")
    shutil.copytree(demo_store, folder / "store")
    tokens = TokenFile(folder / "tokens.toml")
    made = {"arendal": tokens.create("Arendal systemeier", "municipality", (ARENDAL,))[0]}
    server = start_server(
        str(folder / "store"),
        env={
            "KOMMUNEGRAF_BASE_IRI": demo_base,
            "KOMMUNEGRAF_TOKEN": ADMIN,
            "KOMMUNEGRAF_TOKENS": str(folder / "tokens.toml"),
            "KOMMUNEGRAF_AUDIT_LOG": str(folder / "audit.jsonl"),
        },
    )
    yield Access(server, folder, made)
    stop_server(server)
