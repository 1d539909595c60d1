"""The errors the service tells users about: one status and one bilingual text each."""

from __future__ import annotations

import pickle

import pytest

from service.errors import (
    QueryFailedError,
    QuerySyntaxError,
    QueryTimeoutError,
    RemoteStoreError,
    ServiceError,
    UpdateSyntaxError,
    WorkerCrashedError,
)
from service.sparql.canned import ParameterError


@pytest.mark.parametrize(
    "error",
    [
        QuerySyntaxError("1:8: expected WHERE"),
        UpdateSyntaxError("1:1: expected INSERT"),
        QueryTimeoutError(2.5),
        QueryFailedError("OSError: no answer"),
        WorkerCrashedError("EOFError"),
        RemoteStoreError("HTTP 502"),
        ParameterError("kommune", "ikke et kommunenummer", "not a municipality number"),
    ],
)
def test_an_error_crosses_from_a_worker_process_whole(error: ServiceError) -> None:
    """Workers send the error itself over a pipe (pickle); it must arrive the same."""
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
    assert type(copy) is type(error)
    assert (copy.status, copy.text(), str(copy)) == (error.status, error.text(), str(error))


def test_the_text_is_norwegian_then_english_then_the_detail() -> None:
    assert QuerySyntaxError("1:8: x").text() == (
        "Ugyldig SPARQL-spørring.\nMalformed SPARQL query.\n\n1:8: x\n"
    )
    assert str(QueryTimeoutError(2)) == "query exceeded its deadline of 2 s"
    assert QueryTimeoutError(2).status == 503
