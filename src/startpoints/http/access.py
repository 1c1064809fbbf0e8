"""The access log: one JSON object per request, written in batches on a thread of its own.

Why not `logging`: a LogRecord per request, and a listener thread woken by each one, cost
the event loop half its throughput and most of its tail (docs/benchmarks.md, API). Here a
request costs one formatted line appended to a deque (thread-safe, no lock taken by the
loop); the writer thread wakes every `FLUSH_SECONDS`, so a slow reader of stderr never
stalls a request, and the GIL is contended twenty times a second, not per request.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import TextIO

FLUSH_SECONDS = 0.05

enabled = False
_lines: collections.deque[str] = collections.deque()
_writer: _Writer | None = None


def record(method: str, path: str, status: int, started: float, client: str | None) -> None:
    """One request; `started` is its time.perf_counter() at arrival. The path is as sent,
    so it is JSON-escaped; the method is a token (the HTTP parser admits nothing else)."""
    ms = (time.perf_counter() - started) * 1000
    _lines.append(
        f'{{"method":"{method}","path":{_string(path)},"status":{status},"ms":{ms:.3f},'
        f'"client":{_string(client)}}}\n'
    )


def _string(text: str | None) -> str:
    """`text` as JSON, remembered: the same few paths and clients recur (a bounded memo, not
    an lru: cleared whole when full, which costs one miss per entry)."""
    written = _strings.get(text)
    if written is None:
        if len(_strings) >= 4096:
            _strings.clear()
        written = _strings[text] = json.dumps(text, ensure_ascii=False)
    return written


_strings: dict[str | None, str] = {}


def start(stream: TextIO) -> None:
    """Records from now on, written to `stream` until `stop`."""
    global enabled, _writer
    stop()
    _writer = _Writer(stream)
    enabled = True


def stop() -> None:
    """Stops recording; what was recorded is written before this returns."""
    global enabled, _writer
    enabled = False
    if _writer is not None:
        _writer.close()
        _writer = None


class _Writer(threading.Thread):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(name="access-log", daemon=True)
        self.stream = stream
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopping.wait(FLUSH_SECONDS):
            self.flush()
        self.flush()

    def flush(self) -> None:
        count = len(_lines)  # only this thread takes lines, so `count` are there to take
        if count:
            self.stream.write("".join(_lines.popleft() for _ in range(count)))
            self.stream.flush()

    def close(self) -> None:
        self.stopping.set()
        self.join()
