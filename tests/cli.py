"""The real ``kommunegraf`` command in a subprocess, as users and scripts run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def kommunegraf(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    inherit_settings: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``kommunegraf ARGS``; ``env`` is added to this process's environment.

    ``inherit_settings=False`` drops the ``KOMMUNEGRAF_*`` variables first, for tests
    of the settings themselves.
    """
    base = {
        key: value
        for key, value in os.environ.items()
        if inherit_settings or not key.startswith("KOMMUNEGRAF_")
    }
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
