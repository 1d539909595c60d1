"""Health probes: ``/health/live`` (the process answers) and ``/health/ready``.

Ready means the service can answer queries now: the store is open (the writer side
answers), a query goes through the same path user queries take (a worker process
over the newest snapshot, or the remote server) and comes back in time, and, on the
embedded store, every query worker process is alive. When not ready the answer is
503 with the reason in bokmål and English, so an orchestrator stops sending traffic
and an operator sees why. The probe query is ``ASK {}``: it costs nothing, so a
probe never competes with real work, but it still needs a free worker; when all are
busy past ``PROBE_SECONDS`` the service is, truthfully, not ready for more. Every
check has that deadline, and the store check runs on threads of its own, so a
probe answers (503 at worst) even when every request thread is busy.
While the first start loads the store, it is 503 with the load's progress
(``checks.load``: step, counts, an estimate of the time left).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.errors import QueryTimeoutError, ServiceError, WorkerCrashedError, attempt
from service.store.admission import AdmissionRefusedError
from service.store.backend import Backend, EmbeddedBackend
from service.web.startup import LoadProgress

router = APIRouter(tags=["Drift / Operations"])

PROBE_SECONDS = 5.0
"""How long the readiness probe waits for its query, queueing included."""

_PROBES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kommunegraf-health")
"""The probes' own threads: when requests fill the shared thread pool (six slow pages
once did), a probe still runs, and its deadline still answers."""

_NO_STORE = ("Lageret er ikke åpnet.", "The store is not open.")


@router.get("/health/live", summary="Prosessen lever / The process is up")
async def live() -> JSONResponse:
    return JSONResponse({"status": "live"})


def _not_ready(nb: str, en: str, checks: dict[str, Any]) -> JSONResponse:
    body = {"status": "not ready", "reason": {"nb": nb, "en": en}, "checks": checks}
    return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store"})


@router.get("/health/ready", summary="Klar til å svare / Ready to answer queries")
async def ready(request: Request) -> JSONResponse:
    backend: Backend | None = getattr(request.app.state, "backend", None)
    checks: dict[str, Any] = {}
    if backend is None:
        return _not_ready(*_NO_STORE, checks)
    progress: LoadProgress = request.app.state.load_progress
    if not progress.ready:
        checks["load"] = progress.as_json()
        if progress.step == "failed":
            return _not_ready(
                "Oppstarten feilet; se loggen.", "Start-up failed; see the log.", checks
            )
        return _not_ready(progress.sentence("nb"), progress.sentence("en"), checks)
    settings = request.app.state.settings
    try:
        store_check = asyncio.get_running_loop().run_in_executor(_PROBES, backend.is_empty)
        await asyncio.wait_for(store_check, PROBE_SECONDS)
    except TimeoutError:
        checks["store"] = "timeout"
        return _not_ready(
            f"Lageret svarte ikke innen {PROBE_SECONDS:g} s.",
            f"The store did not answer within {PROBE_SECONDS:g} s.",
            checks,
        )
    except Exception as error:
        checks["store"] = f"{type(error).__name__}: {error}"
        return _not_ready(*_NO_STORE, checks)
    checks["store"] = "ok"
    if isinstance(backend, EmbeddedBackend):
        alive = backend.pool.alive()
        checks["query_workers"] = f"{alive}/{settings.query_workers}"
        if alive < settings.query_workers:
            return _not_ready(
                f"Bare {alive} av {settings.query_workers} spørreprosesser kjører.",
                f"Only {alive} of {settings.query_workers} query workers are running.",
                checks,
            )
    probe = backend.execute(
        "ASK {}",
        solutions_media="application/sparql-results+json",
        graph_media=None,
        timeout=min(settings.query_timeout, PROBE_SECONDS),
    )
    try:
        answered = await asyncio.wait_for(attempt(probe), PROBE_SECONDS)
    except TimeoutError:
        answered = QueryTimeoutError(PROBE_SECONDS)
    except (RuntimeError, OSError) as error:  # the workers are stopping
        answered = WorkerCrashedError(f"{type(error).__name__}: {error}")
    if isinstance(answered, QueryTimeoutError | AdmissionRefusedError):
        checks["query"] = "timeout"
        return _not_ready(
            f"En prøvespørring fikk ikke svar innen {PROBE_SECONDS:g} s "
            "(alle spørreprosesser er opptatt, eller lageret svarer ikke).",
            f"A probe query got no answer within {PROBE_SECONDS:g} s "
            "(every query worker is busy, or the store does not answer).",
            checks,
        )
    if isinstance(answered, ServiceError):
        checks["query"] = f"{type(answered).__name__}: {answered}"
        return _not_ready(
            "Lageret svarer ikke på spørringer.", "The store does not answer queries.", checks
        )
    checks["query"] = "ok"
    return JSONResponse(
        {"status": "ready", "checks": checks}, headers={"Cache-Control": "no-store"}
    )
