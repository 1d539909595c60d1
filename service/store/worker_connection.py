"""The server's end of one query worker's connection: its process, and its replies read
without blocking the event loop.

Apart from the pool (``service.store.workers``: deadlines, admission, replacing
workers) because this is one piece of its own: how a reply is taken off the socket
(on the event loop when it is there whole, else on a thread), and how the connection
is watched and closed without a thread or the event loop reading a descriptor that
was closed under it and reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess


def cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds the main thread of process ``pid`` has used (Linux ``/proc``), or None:
    it runs the worker's requests; the thread copying a snapshot into memory (seconds of
    CPU) counted against the cheap lane's budget of whatever query ran meanwhile."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


_LOOK = socket.MSG_PEEK | socket.MSG_DONTWAIT
_TAKEN_AT_ONCE = 1 << 20
"""At most this many bytes of a reply are taken in one ``recv`` (its buffer is made
that large first)."""


@dataclass
class Worker:
    process: BaseProcess
    connection: Connection
    snapshot: str | None = None
    cpu: float | None = None
    """The worker's CPU seconds when it last replied (it is idle between requests)."""
    peek: socket.socket | None = None
    """The connection's socket (a duplicate), to look at a reply before reading it."""
    in_memory: bool = False
    """Whether its last query ran on its in-memory copy of the snapshot (for metrics)."""
    checks_warm: bool = False
    """Whether it has warmed up the checks of uploads (``Reply.checks_warm``)."""
    wake: Callable[..., None] | None = None
    """While a request waits for this worker's reply: what ends the wait (``close``)."""
    in_thread: Future[object] | None = None
    """A read or write of the connection running on a thread (``workers.QueryPool._io``)."""
    watched: asyncio.AbstractEventLoop | None = None
    """The event loop that watches the connection for replies (``watch``)."""
    _closing: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # The descriptor is kept: a stop may close the connection during a wait, and its
        # fileno() then raised "handle is closed".
        self.fd = self.connection.fileno()
        try:
            self.peek = socket.socket(fileno=os.dup(self.connection.fileno()))
        except OSError:
            self.peek = None  # not a socket: every reply is read on a thread

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have ``loop`` call ``readable`` when a reply comes, from now until ``unwatch``.

        Why it stays: watched only while a request waited, every light query paid for
        adding and removing its reader (two system calls and asyncio's bookkeeping, a
        twentieth of the server's time for a light query)."""
        if self.watched is None:
            loop.add_reader(self.fd, self.readable)
            self.watched = loop

    def unwatch(self) -> None:
        """No more ``readable`` calls: before the connection is closed (a descriptor
        closed while the loop watches it is a number the loop goes on watching, and the
        next connection opened gets it), or handed to another reader."""
        loop, self.watched = self.watched, None
        if loop is not None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(self.fd)

    def readable(self) -> None:
        """The connection has something to read: the reply a request waits for
        (``wake``), taken and handed to it; with none waiting, the worker's end (it
        died): not watched until the next request."""
        wake = self.wake
        if wake is None:
            self.unwatch()
            return
        taken = self.take_reply() if self.peek is not None else None
        if taken is None and self.peek is not None:
            return  # nothing after all
        self.wake = None
        wake(taken)

    def take_reply(self) -> bytes | None:
        """What has arrived of the worker's reply, taken off the connection without
        waiting: all of it when it is there, header included (one ``recv``), else as
        much as has come (``rest`` reads the others on a thread); ``b""`` at end of
        file; None when nothing has (nothing taken).

        Why not ``connection.recv`` on the event loop: a reply of megabytes (a large
        answer, the names behind "did you mean") comes through a socket buffer of a few
        hundred kilobytes, as fast as the worker is given a core to write it; read on
        the event loop, every request waited that long (1.6 s seen in the load test).
        And why not a look (peek, FIONREAD) before ``recv``: that was four system calls
        for every light query's reply, this is two. Never more than the reply: what
        follows it is the next request's."""
        assert self.peek is not None
        try:
            head = self.peek.recv(4, _LOOK)
            if len(head) < 4:
                return head and self.peek.recv(len(head), socket.MSG_DONTWAIT)
            (size,) = struct.unpack("!i", head)
            if size < 0:  # 2 GiB or more: an 8-byte length follows
                return self.peek.recv(4, socket.MSG_DONTWAIT)
            return self.peek.recv(min(4 + size, _TAKEN_AT_ONCE), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return b""  # reset: the worker is gone, as at end of file

    def rest(self, taken: bytes) -> bytes:
        """The reply whose first bytes ``take_reply`` took, read whole (blocking: on a
        thread), without its header: ``Connection.recv_bytes``'s framing, read through
        the duplicate socket."""
        assert self.peek is not None
        data = bytearray(taken)

        def fill(size: int) -> None:
            while len(data) < size:
                chunk = self.peek.recv(min(size - len(data), _TAKEN_AT_ONCE))  # type: ignore[union-attr]
                if not chunk:
                    raise EOFError
                data.extend(chunk)

        fill(4)
        (size,) = struct.unpack("!i", data[:4])
        start = 4
        if size < 0:
            fill(12)
            (size,) = struct.unpack("!Q", data[4:12])
            start = 12
        fill(start + size)
        return bytes(data[start:])

    def close(self) -> None:
        """Close this side of the connection (unwatched first, on the event loop),
        once no thread reads or writes it.

        Why wait for the thread: a request given up (its client went away, an upload's
        deadline) kills its worker while a thread may still be reading a large reply, a
        read syscall at a time on the descriptor's number. Closed under it, the number
        is free, and the next connection opened (a client's, the new worker's pipe) gets
        it: the thread's next read took that connection's bytes. The worker is killed
        first, so the thread's read ends at once (end of file)."""
        self.unwatch()
        job = self.in_thread
        if job is not None and not job.done():
            job.add_done_callback(lambda _: self._close_now())
        else:
            self._close_now()

    def _close_now(self) -> None:
        with self._closing:  # the thread's callback and the event loop may both come
            self.connection.close()
            if self.peek is not None:
                self.peek.close()
