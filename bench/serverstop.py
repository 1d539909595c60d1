"""What a server stop and a CLI query cost the test suite: ``python -m bench.serverstop``.

The suite starts and stops ``kommunegraf serve`` about a hundred times and runs the CLI
on stores many more. A stop waited 2 s per query worker for it to see EOF: the pool
closed the worker's connection, but a duplicate of its socket (the peek used to see
whether a reply is whole) stayed open, so the worker never saw EOF and was killed after
the join's timeout. This harness runs both, side by side in one run and interleaved: the
service as it is, and the same service with the pool's stop as it was (the peek left
open), patched in a wrapper process. It writes bench/results/<date>-serverstop.md/.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.loadgen import busy_cores, cpu_sample
from bench.report import write_result
from tests.conftest import free_port

BENCH = Path(__file__).resolve().parent

BEFORE = """
import runpy, sys
from service.store import workers

def close(self):  # the pool's stop before the fix: the peek socket stays open
    self._closed = True
    for task in list(self._replacements):
        task.cancel()
    for worker in list(self._all):
        worker.connection.close()
        worker.process.join(timeout=2)
        self._kill(worker)
    self._spawner.shutdown(wait=False, cancel_futures=True)
    self._io.shutdown(wait=False, cancel_futures=True)

workers.QueryPool.close = close
sys.argv = ["kommunegraf", *sys.argv[1:]]
runpy.run_module("service", run_name="__main__")
"""

PEERS = {"now": ["-m", "service"], "before": ["-c", BEFORE]}


def _env(store: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KOMMUNEGRAF_DEMO": "false",
        "KOMMUNEGRAF_DEMO_CACHE": "off",
        "KOMMUNEGRAF_STORE": str(store),
    }


def serve_once(peer: str, store: Path) -> tuple[float, float]:
    """Seconds from the start to the first answer, and from SIGTERM to the exit."""
    port = free_port()
    command = [sys.executable, *PEERS[peer], "serve", "--port", str(port), "--store", str(store)]
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - our own service
        command, env=_env(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D"
    while True:
        assert process.poll() is None, f"{peer}: the server exited"
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            time.sleep(0.05)
    ready = time.monotonic() - started
    stopping = time.monotonic()
    process.terminate()
    process.wait(timeout=60)
    return ready, time.monotonic() - stopping


def query_once(peer: str, store: Path) -> float:
    """Seconds of one ``kommunegraf query --store`` process, start to exit."""
    started = time.monotonic()
    subprocess.run(  # noqa: S603 - our own service
        [sys.executable, *PEERS[peer], "query", "ASK {}"],
        env=_env(store),
        capture_output=True,
        check=True,
    )
    return time.monotonic() - started


def run(rounds: int) -> dict[str, object]:
    samples: dict[str, dict[str, list[float]]] = {
        peer: {"ready": [], "stop": [], "query": []} for peer in PEERS
    }
    load_before = cpu_sample()
    with tempfile.TemporaryDirectory(prefix="kommunegraf-serverstop-") as folder:
        store = Path(folder) / "store"
        serve_once("now", store)  # the first start loads the reference data: not timed
        for _ in range(rounds):
            for peer in PEERS:  # interleaved, so both see the same machine
                ready, stop = serve_once(peer, store)
                samples[peer]["ready"].append(ready)
                samples[peer]["stop"].append(stop)
                samples[peer]["query"].append(query_once(peer, store))
    medians = {
        peer: {kind: round(statistics.median(values), 3) for kind, values in kinds.items()}
        for peer, kinds in samples.items()
    }
    return {
        "date": dt.date.today().isoformat(),
        "rounds": rounds,
        "cores": len(os.sched_getaffinity(0)),
        "other_cores_busy": busy_cores(load_before, cpu_sample()),
        "median_seconds": medians,
        "ratio_now_to_before": {
            kind: round(medians["now"][kind] / medians["before"][kind], 2)
            for kind in ("ready", "stop", "query")
        },
    }


def report(result: dict[str, object]) -> str:
    medians = result["median_seconds"]
    ratios = result["ratio_now_to_before"]
    assert isinstance(medians, dict) and isinstance(ratios, dict)
    lines = [
        f"# Server stop and CLI query, now and before the pool's stop fix ({result['date']})",
        "",
        "`python -m bench.serverstop`: the same service, interleaved in one run; `before` "
        "is the pool's stop as it was (the peek socket left open, so each worker's join "
        f"waited its 2 s timeout). Rounds: {result['rounds']}; cores busy meanwhile "
        f"(this run included): {result['other_cores_busy']} of {result['cores']}.",
        "",
        "| median s | now | before | now / before |",
        "| --- | ---: | ---: | ---: |",
    ]
    names = {
        "ready": "start to first answer",
        "stop": "SIGTERM to exit",
        "query": "`kommunegraf query --store`",
    }
    for kind, name in names.items():
        lines.append(
            f"| {name} | {medians['now'][kind]} | {medians['before'][kind]} | {ratios[kind]}× |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run(args.rounds)
    write_result(result, "serverstop", report)


if __name__ == "__main__":
    main()
