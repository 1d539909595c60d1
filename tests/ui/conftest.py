"""One fixture site and one chromium for every browser test of the package.

Neither test file writes to the site, so both read the same server; and one browser with
a context per test (or per language) replaces a launch per file. ``tests.scheduling``
runs both files on one worker, so a ``make test`` run makes each once.

Why package scope and not session: Playwright's sync API runs its event loop in the
calling thread for as long as the driver is open, so every later test on that worker saw
a running loop and ``asyncio.run`` refused to start (38 remote-store tests failed after
the browser tests in one ``make test``). The driver must end with the browser tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.conftest import Server
from tests.ui.fixture_data import fixture_site
from tests.ui.test_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="package")
def site() -> Iterator[Server]:
    """The made-up architecture on a real server (read only: no test here writes)."""
    yield from fixture_site()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM.exists(), "chromium is missing: `make setup` installs it (apt-get)"
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()
