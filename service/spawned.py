"""CPU work the server process must not do: run in a fresh spawned process, with a deadline.

Why: the server process answers every request on one event loop, and a thread there
shares one interpreter lock with it. Work of seconds built from the data after each write
(the DCAT catalogues, the "did you mean" index) held every request behind it while it
ran there (issue 16, the load test's probe). In a process of its own it costs the
server only the reading of its result, and a kill frees its CPU at the deadline.

How the arguments travel matters too: given to ``Process`` they are written to the
child's pipe inside ``start()``, which blocks until the child has started, imported
what it needs and read them all (megabytes for a catalogue build: a second or more on a
busy machine, on the event loop). Here the process is started on a thread and the
arguments are sent after it, on a thread; the answer is waited for with the event
loop's reader, holding no thread.

How the result is read matters as much: one ``pickle.loads`` holds the interpreter lock
from start to end, on whatever thread it runs, and the event loop waits that long (a
national catalogue's quality scores: about a second). A large result is sent as
``Pieces``, each read on its own, so the loop gets its turn between them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any


class ProcessStoppedError(RuntimeError):
    """The process ended by SIGTERM or SIGINT: the service is being stopped (systemd and
    Ctrl-C signal the whole process group), not a failure of its work."""


_STOPPED = (-signal.SIGTERM, -signal.SIGINT)


@dataclass(frozen=True)
class Pieces:
    """A result in parts, each pickled and read apart (``run_elsewhere``): keep each part
    to a few milliseconds of reading."""

    items: tuple[object, ...]


@dataclass(frozen=True)
class _Packed:
    parts: tuple[bytes, ...]


def _pickled(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _send(connection: Connection, arguments: tuple[Any, ...]) -> None:
    connection.send_bytes(_pickled(arguments))  # megabytes: pickled here, not on the loop


def _read(data: bytes) -> object:
    """The result as sent: ``Pieces`` read part by part (the lock is free between parts)."""
    result = pickle.loads(data)  # noqa: S301 - from our own child process
    if not isinstance(result, _Packed):
        return result
    items = []
    for part in result.parts:
        items.append(pickle.loads(part))  # noqa: S301
        yield_to_the_loop()
    return Pieces(tuple(items))


def yield_to_the_loop() -> None:
    """Let the event loop have the interpreter lock for a moment (on a thread doing CPU
    work in parts). Why: the lock changes hands only every few milliseconds, and the loop
    needs it after every read and write it makes; against a thread that computes, each
    request waited that long again and again (the load test's probe: seconds while a
    catalogue's source was read)."""
    time.sleep(0.001)


def _child(connection: Connection, target: Callable[..., object]) -> None:
    """Entry of the process: read the arguments, run ``target``, send what it returned
    (or the error, as a RuntimeError naming its type), then exit."""
    try:
        arguments = pickle.loads(connection.recv_bytes())  # noqa: S301 - from our parent
        answer: object = target(*arguments)
        if isinstance(answer, Pieces):
            answer = _Packed(tuple(_pickled(item) for item in answer.items))
    except BaseException as error:  # the parent raises it
        answer = RuntimeError(f"{type(error).__name__}: {error}")
    try:
        connection.send_bytes(_pickled(answer))
    finally:
        connection.close()


def _start(target: Callable[..., object], name: str) -> tuple[BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_child, args=(child, target), name=name, daemon=True)
    process.start()
    child.close()
    return process, parent


async def run_elsewhere(
    target: Callable[..., object], arguments: tuple[Any, ...], timeout: float, what: str
) -> object:
    """``target(*arguments)`` in a fresh spawned process, killed at ``timeout`` seconds;
    what it returned (a ``Pieces`` read part by part). Raises ``TimeoutError``,
    ``ProcessStoppedError`` when it was stopped with the service, or ``RuntimeError`` when
    it failed or died. ``target`` must be a module-level
    function (the child imports its module).
    """
    process, connection = await asyncio.to_thread(_start, target, f"kommunegraf-{what}")
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not answered.done():
            answered.set_result(None)

    try:
        await asyncio.to_thread(_send, connection, arguments)
        loop.add_reader(connection.fileno(), ready)
        try:
            async with asyncio.timeout(timeout):
                await answered
        except TimeoutError:
            raise TimeoutError(f"{what} over {timeout:g} s") from None
        finally:
            loop.remove_reader(connection.fileno())
        data = await asyncio.to_thread(connection.recv_bytes)
        result = await asyncio.to_thread(_read, data)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        await asyncio.to_thread(process.join, 5.0)
        if process.exitcode in _STOPPED:
            raise ProcessStoppedError(f"the process of the {what} was stopped") from None
        raise RuntimeError(f"the process of the {what} died") from None
    finally:
        # Killed first (it may still run: a deadline, or the caller was cancelled at
        # shutdown), so that nothing waits for it.
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join, 5.0)
        connection.close()
    if isinstance(result, BaseException):
        raise result
    return result
