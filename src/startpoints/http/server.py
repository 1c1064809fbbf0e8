"""Running an ASGI app on uvicorn (the only module that imports it), with JSON access logs,
and the fast path answered from uvicorn's HTTP protocol itself."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from startpoints.http import access

# A held request's body, at most: a larger one (or a chunked one) goes straight to the app.
HELD_BODY_BYTES = 4096


class Immediate(Protocol):
    def respond(
        self, method: bytes, path: bytes, query: bytes, body: bytes, client: str | None
    ) -> bytes | None:
        """The whole HTTP response to this complete request, or None for the app to answer."""
        ...


def run(
    app: Any,
    *,
    host: str,
    port: int,
    access_log: bool = True,
    on_listening: Callable[[], None] = lambda: None,
    immediate: bool = True,
) -> None:
    """Serve until SIGTERM or SIGINT. `on_listening` runs once the socket is bound, so what
    it announces is true (a port in use fails before it). With `immediate`, an app that has
    a `respond` (Immediate) answers what it can from the protocol, without an ASGI round
    trip."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_listening()

    if access_log:
        access.start(sys.stderr)
    # Server.run, not uvicorn.run, which swallows the KeyboardInterrupt uvicorn re-raises
    # after a graceful stop on SIGINT: the process then exits 130, as on SIGTERM 143.
    try:
        Server(config(app, host=host, port=port, immediate=immediate)).run()
    finally:
        access.stop()  # what was logged is written before the process ends


def config(app: Any, *, host: str, port: int, immediate: bool = True) -> Any:
    """uvicorn's configuration for `app`, with the holding protocol when `immediate`."""
    import uvicorn

    # uvicorn's own access log is off: ours is one JSON object per request (http/access.py).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        server_header=False,
        date_header=False,
        http=_protocol(app) if immediate and hasattr(app, "respond") else "httptools",
    )


def _protocol(answers: Immediate) -> type:
    """uvicorn's httptools protocol, holding each request that may be answered at once until
    it is complete, and then writing the answer itself. Why: uvicorn's ASGI round trip (a
    scope, a task, an Event, send messages) is most of a hot request's cost; answering the
    precomputed bytes from the parser's callback is 2-3x the requests/s (measured with wrk,
    docs/benchmarks.md, API). Everything uvicorn does well stays its own: parsing, keep-alive
    and its timeout, pipelining, flow control, shutdown. A request is held only while nothing
    else is in flight on the connection and the transport is not paused, so answers keep
    their order and a client that does not read stops being answered; anything else, and
    anything `answers` declines, is released to the ASGI app as uvicorn would have sent it."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HoldingProtocol(HttpToolsProtocol):
        held: bytes | None = None

        def on_headers_complete(self) -> None:
            if self._may_hold():
                self.held = b""
            else:
                self._to_app()

        def _may_hold(self) -> bool:
            cycle = self.cycle
            if (
                (cycle is not None and not cycle.response_complete)
                or self.pipeline
                or self.flow.write_paused
                or self.expect_100_continue
                or self.limit_concurrency is not None
                or self.parser.should_upgrade()
                or not self.parser.should_keep_alive()
                or self.parser.get_http_version() != "1.1"
            ):
                return False
            for name, value in self.headers:
                if name == b"transfer-encoding" or (
                    name == b"content-length" and not _small(value)
                ):
                    return False
            return True

        def on_body(self, body: bytes) -> None:
            if self.held is None:
                super().on_body(body)
            elif len(self.held) + len(body) > HELD_BODY_BYTES:  # more than it said
                self._release()
                super().on_body(body)
            else:
                self.held += body

        def on_message_complete(self) -> None:
            if self.held is None:
                super().on_message_complete()
                return
            url = httptools.parse_url(self.url)
            response = answers.respond(
                self.parser.get_method(),
                url.path,
                url.query or b"",
                self.held,
                self.client[0] if self.client else None,
            )
            if response is None:
                self._release()
                super().on_message_complete()
                return
            self.held = None
            self.transport.write(response)
            self.on_response_complete()  # uvicorn's bookkeeping: count, keep-alive timer

        def _release(self) -> None:
            """To the app, as if never held: the request's scope and cycle, its body so far."""
            body, self.held = self.held or b"", None
            self._to_app()
            if body:
                super().on_body(body)

        def _to_app(self) -> None:
            # An answer written here armed the idle timer; a request in flight is not idle
            # (uvicorn arms it only once nothing is in flight, which stays true).
            self._unset_keepalive_if_required()
            super().on_headers_complete()

    return HoldingProtocol


def _small(length: bytes) -> bool:
    return length.strip().isdigit() and int(length) <= HELD_BODY_BYTES
