"""Running an ASGI app on uvicorn (the only module that imports it), with JSON access logs."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
from collections.abc import Callable
from typing import Any


def run(
    app: Any,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    """Serve until SIGTERM or SIGINT. `on_listening` runs once the socket is bound, so what
    it announces is true (a port in use fails before it)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_listening()

    # The access log is written on a thread of its own: a write to stderr (a pipe, a journal)
    # on the event loop stalls every request behind it (docs/benchmarks.md, API).
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(lines, writer)
    access = logging.getLogger("startpoints.access")
    access.addHandler(logging.handlers.QueueHandler(lines))
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    access.propagate = False
    listener.start()
    # uvicorn's own access log is off: ours is one JSON object per request.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        server_header=False,
        date_header=False,
    )
    # Server.run, not uvicorn.run, which swallows the KeyboardInterrupt uvicorn re-raises
    # after a graceful stop on SIGINT: the process then exits 130, as on SIGTERM 143.
    try:
        Server(config).run()
    finally:
        listener.stop()  # what was logged is written before the process ends
