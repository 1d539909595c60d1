"""The newcomer's journey, timed from a fresh clone: ``python -m bench.newcomer``.

Issue 19's goal: after ``make setup``, the service is ready in under 30 s on this
2-core machine. This harness does what a newcomer does, in a temporary folder:

1. ``git clone`` of the checkout (main), then ``make setup`` (timed: set-up);
2. ``kommunegraf serve`` on an empty store with the national demo: the time until
   the port first answers (``/health/live``, first answer) and until ``/health/ready``
   is 200 (ready), polling every 0.1 s;
3. as the peer in the same run, ``pyoxigraph.Store.bulk_load`` of the very quads the
   service ended up with (dumped from its store): the floor for "ready", so the
   ratio ready / bulk_load says how far the load is from the store's own speed;
4. a second first start on a new, empty store folder with the same inputs (what a
   second clone, a deleted ``data/store`` or a new container on the same machine
   does): it bulk-loads the checked copy the first start saved in the cache folder
   (``service/store/demo_cache.py``). The cache folder is the run's own, so step 2
   never finds a copy from before.

It writes bench/results/<date>-newcomer.md and .json. Wall times on a shared machine
depend on what else runs, so the cores other processes kept busy are recorded too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyoxigraph as ox

from bench.loadgen import busy_cores, cpu_sample
from bench.report import write_result

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _first_start(
    clone: Path, store: Path, env: dict[str, str], log: Path
) -> tuple[float, float, float]:
    """``kommunegraf serve`` on ``store`` until ready: first answer, ready, cores busy."""
    port = _port()
    load_before = cpu_sample()
    started = time.monotonic()
    server = subprocess.Popen(  # noqa: S603 - our own command, in our own clone
        [str(clone / ".venv/bin/kommunegraf"), "serve", "--port", str(port), "--store", str(store)],
        cwd=clone,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    first = ready = None
    try:
        while ready is None:
            status = _status(f"http://127.0.0.1:{port}/health/ready")
            now = time.monotonic() - started
            if status is not None and first is None:
                first = now
            if status == 200:
                ready = now
            if server.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:])
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=120)
    assert first is not None and ready is not None
    return first, ready, busy_cores(load_before, cpu_sample())


def run(source: Path, work: Path) -> dict[str, object]:
    clone = work / "kommunegraf"
    git, make = shutil.which("git") or "git", shutil.which("make") or "make"
    subprocess.run([git, "clone", "-q", str(source), str(clone)], check=True)  # noqa: S603
    load_before = cpu_sample()
    started = time.monotonic()
    subprocess.run([make, "setup"], cwd=clone, check=True, capture_output=True)  # noqa: S603
    setup_s = time.monotonic() - started
    setup_load = busy_cores(load_before, cpu_sample())

    env = {**os.environ, "KOMMUNEGRAF_DEMO": "true", "XDG_CACHE_HOME": str(work / "cache")}
    store = work / "store"
    first, ready, serve_load = _first_start(clone, store, env, work / "serve.log")
    _, again, again_load = _first_start(clone, work / "store-again", env, work / "again.log")

    dump = work / "demo.nq"
    with dump.open("wb") as output:
        ox.Store.read_only(str(store)).dump(output, ox.RdfFormat.N_QUADS)
    peer_store = work / "peer"
    started = time.monotonic()
    peer = ox.Store(str(peer_store))
    peer.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
    peer.flush()
    bulk_s = time.monotonic() - started
    quads = len(peer)
    return {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "setup_s": round(setup_s, 1),
        "setup_other_cores": setup_load,
        "first_answer_s": round(first, 2),
        "ready_s": round(ready, 1),
        "serve_cores_busy": serve_load,
        "quads": quads,
        "peer_bulk_load_s": round(bulk_s, 2),
        "ready_over_bulk_load": round(ready / bulk_s, 1),
        "again_ready_s": round(again, 1),
        "again_cores_busy": again_load,
        "again_over_bulk_load": round(again / bulk_s, 1),
        "goal_ready_s": 30,
    }


def report(result: dict[str, object]) -> str:
    return f"""# Newcomer journey from a fresh clone ({result["date"]})

Machine: {result["machine"]}; the cores busy are everyone's (other sessions share it).

| step | seconds | note |
| --- | ---: | --- |
| `make setup` (fresh clone) | {result["setup_s"]} | {result["setup_other_cores"]} cores busy |
| `kommunegraf serve`: first answer (`/health/live`) | {result["first_answer_s"]} | port open |
| `kommunegraf serve`: ready (`/health/ready` 200) | {result["ready_s"]} | \
{result["serve_cores_busy"]} cores busy |
| again, new empty store, same inputs: ready | {result["again_ready_s"]} | \
from the checked copy; {result["again_cores_busy"]} cores busy |
| peer: `bulk_load` of the same {result["quads"]} quads | {result["peer_bulk_load_s"]} | same run |

Ready / bulk_load: **{result["ready_over_bulk_load"]}x** on a new machine (nothing
cached), **{result["again_over_bulk_load"]}x** for a later first start with the same
inputs. Goal: ready in under
{result["goal_ready_s"]} s after set-up on a quiet machine (see issue 20 for the
validation speed, the main lever).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPOSITORY, help="the checkout to clone")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kommunegraf-newcomer-"))
    try:
        result = run(args.source, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, "newcomer", report)


if __name__ == "__main__":
    main()
