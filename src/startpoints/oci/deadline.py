"""An operation's deadline, kept at the socket.

A registry operation (an exchange and its retries) has a total time; a registry that drips
bytes or stalls, in its headers or its body, must not outlast it. A socket timeout alone
bounds each wait, not the sum of them, so every read and write on a registry connection
goes through `DeadlineSocket`, which checks the time left and the cancel flag of the
operation its thread is running (`within`) before each wait and bounds the wait by it.

This replaces a helper thread per request that the caller polled: ~0.7 ms and a thread per
request, a fifth of assembling 82 start points (docs/benchmarks.md). Waits are cut into
slices of POLL seconds so a signal (the cancel flag) ends them promptly.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

POLL = 0.25  # the longest one wait lasts before the cancel flag is looked at again
_local = threading.local()


class Expired(TimeoutError):
    """The operation's time is up, or it was cancelled: no more waiting on this socket."""


@dataclass(frozen=True)
class Operation:
    ends: float  # time.monotonic() at which it is over
    cancelled: threading.Event

    def left(self) -> float:
        """Seconds left; Expired once none are, or once cancelled."""
        if self.cancelled.is_set():
            raise Expired("cancelled")
        left = self.ends - time.monotonic()
        if left <= 0:
            raise Expired("deadline")
        return left

    @property
    def over(self) -> bool:
        return self.cancelled.is_set() or time.monotonic() >= self.ends

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less where the operation ends or is cancelled sooner."""
        self.cancelled.wait(max(0.0, min(seconds, self.ends - time.monotonic())))


@contextmanager
def within(seconds: float, cancelled: threading.Event) -> Iterator[Operation]:
    """Run the block as an operation of `seconds` on this thread; a nested one keeps the
    outer one's end (a retry inside an operation does not extend it)."""
    outer: Operation | None = getattr(_local, "operation", None)
    operation = outer or Operation(time.monotonic() + seconds, cancelled)
    _local.operation = operation
    try:
        yield operation
    finally:
        _local.operation = outer


def current() -> Operation | None:
    return getattr(_local, "operation", None)


class DeadlineSocket:
    """A connected socket (plain or TLS) whose reads and writes end with the operation of
    the thread using it. Everything else is the socket's own (`__getattr__`)."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._idle: float | None = sock.gettimeout()  # what the HTTP client set per wait
        self._files = 0  # readers made by makefile: the socket outlives close() until they go
        self._closing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, seconds: float | None) -> None:
        self._idle = seconds
        self._sock.settimeout(seconds)

    def gettimeout(self) -> float | None:
        return self._idle

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> io.IOBase:
        if mode not in ("r", "rb"):
            raise ValueError(f"DeadlineSocket reads only, not {mode!r}")
        self._files += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        self._closing = True
        if not self._files:
            self._sock.close()

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        return int(self._waiting(lambda: self._sock.recv_into(buffer, nbytes)))

    def send(self, data: Any) -> int:
        return int(self._waiting(lambda: self._sock.send(data)))

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view[: 64 * 1024]) :]

    def _waiting(self, act: Any) -> Any:
        """`act()`, its waits bounded by the idle timeout, the time left and POLL."""
        operation = current()
        if operation is None:
            return act()
        waited = 0.0
        while True:
            piece = min(operation.left(), POLL)
            if self._idle is not None:
                piece = min(piece, max(self._idle - waited, 0.0))
            self._sock.settimeout(piece)
            try:
                return act()
            except TimeoutError:
                waited += piece
                if self._idle is not None and waited >= self._idle:
                    raise
            finally:
                self._sock.settimeout(self._idle)

    def _file_closed(self) -> None:
        self._files -= 1
        if self._closing and not self._files:
            self._sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, owner: DeadlineSocket) -> None:
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._owner.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._owner._file_closed()
        super().close()
