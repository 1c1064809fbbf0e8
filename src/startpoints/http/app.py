"""cyber-dojo's start-points API as an ASGI app: routes answer from responses computed once.

Answered as cyber-dojo's own server answers, which is the specification (tests/http/
test_differential.py runs it beside ours): the body is parsed first, the path is routed as
sent, the method is ignored, refusals as http/api.py makes them. Ours besides (docs/formats.md
lists each difference): arguments from the query string when there is no body, `/` (a status
page), `/start_points`, `/status`, `/metrics`, a 503 `/ready` while pre-pulling, a 413 for an
oversized body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.served import Served
from startpoints.http import access, api, status
from startpoints.http.answers import Answers, as_json, headers
from startpoints.http.metrics import CONTENT_TYPE as METRICS_TYPE
from startpoints.http.metrics import Metrics
from startpoints.prepull.readiness import AlwaysReady, Readiness

Handler = Callable[[dict[str, Any]], Awaitable[Response]]


def build(
    served: Served,
    *,
    sha: str | None,
    readiness: Readiness | None = None,
    limits: Limits = DEFAULT,
) -> Any:
    """The ASGI app: the fast path in front of Starlette, both answering from one Answers."""
    probe = readiness or AlwaysReady()
    answers = Answers(served, sha, limits)
    metrics = Metrics(probe.states, probe.progress)
    routes = _Api(served, answers, probe, metrics, limits)
    framework = Starlette(
        # every method routes alike, as on cyber-dojo's server
        routes=[Route("/{path:path}", routes.dispatch, methods=list(api.METHODS))]
    )
    return _FastPath(framework, answers, metrics, limits)


class _Api:
    """Every route, answered through Starlette, from the answers made once."""

    def __init__(
        self,
        served: Served,
        answers: Answers,
        probe: Readiness,
        metrics: Metrics,
        limits: Limits,
    ) -> None:
        self.answers = answers
        self.probe = probe
        self.metrics = metrics
        self.limits = limits
        # the status page's rows: /start_points' fields and each source repository's URL
        self.start_points_with_repositories = [
            {**sp, "repository": served.repositories.get(sp["name"])} for sp in served.start_points
        ]
        self.previous = sorted(served.previous)
        self.handlers: dict[str, Handler] = {
            "ready": self.ready,
            "manifest": self.manifest,
            "status": self.status,
            "": self.page,
            "metrics": self.scrape,
        }

    async def dispatch(self, request: Request) -> Response:
        """As cyber-dojo's server answers: the body is parsed before the route is looked at
        (so a bad body fails everywhere, /ready too), the route is the path as sent, and the
        method is not looked at."""
        started = time.perf_counter()
        route = api.raw_path(request.scope)[1:]
        body = await request.body()
        fixed = self.answers.fixed
        try:
            args = api.arguments(body, request.scope.get("query_string", b""))
            if route in fixed:
                response = _respond(200, fixed[route])
            elif route in self.handlers:
                response = await self.handlers[route](args)
            else:
                raise api.ApiError("ClientError", "json:malformed")
        except api.ApiError as error:
            response = self.exception(route, body, error.status, error.kind, str(error))
        except Exception as error:  # a real fault: 500 and logged, no backtrace to the client
            logging.getLogger("startpoints.http").exception("/%s failed", route)
            response = self.exception(route, body, 500, type(error).__name__, str(error))
        known = route if route in fixed or route in self.handlers else "other"
        client = request.client.host if request.client else None
        answered(
            self.metrics,
            known or "page",  # `/`, the status page: labelled without a slash, as the rest
            response.status_code,
            request.method,
            "/" + route,
            started,
            client,
        )
        return response

    async def ready(self, args: dict[str, Any]) -> Response:
        self.probe.poke()
        is_ready, detail = self.probe.ready()
        return _respond(200 if is_ready else 503, as_json({"ready?": is_ready, **detail}))

    async def manifest(self, args: dict[str, Any]) -> Response:
        known = self.answers.manifests
        return _respond(200, known[api.manifest_name(args, known, self.limits.echo_bytes)])

    async def status(self, args: dict[str, Any]) -> Response:
        states = self.probe.states()
        ready = self.probe.ready()[0]
        return _respond(
            200,
            as_json(
                {
                    "ready": ready,
                    "pulling": bool(states),
                    **self.probe.progress(),
                    "images": states,
                    "superseded": self.probe.superseded(),
                }
            ),
        )

    async def page(self, args: dict[str, Any]) -> Response:
        page = status.render(
            self.start_points_with_repositories,
            self.probe.states(),
            self.probe.ready()[0],
            self.probe.progress(),
            self.probe.superseded(),
            self.previous,
        )
        return Response(page, 200, media_type="text/html; charset=utf-8")

    async def scrape(self, args: dict[str, Any]) -> Response:
        return Response(self.metrics.render(), 200, media_type=METRICS_TYPE)

    def exception(self, route: str, body: bytes, status: int, kind: str, message: str) -> Response:
        """The error object, repeating at most `echo_bytes` of the body."""
        echoed = body[: self.limits.echo_bytes].decode(errors="replace")
        data = api.exception_json(route, echoed, kind, message[: self.limits.echo_bytes])
        return Response(data, status, media_type="application/json")


class _FastPath:
    """Pure ASGI in front of Starlette for the API's hot routes: the fixed-bytes routes and
    /manifest by name skip routing and Request/Response objects, which cost 60% of each
    request (measured with wrk, docs/benchmarks.md). Anything else, and anything the fast
    path cannot answer with a 200 (a bad body, an unknown name), goes to Starlette, which
    answers it, errors included, the one way."""

    def __init__(
        self, framework: Starlette, answers: Answers, metrics: Metrics, limits: Limits
    ) -> None:
        self.framework = framework
        self.answers = answers
        self.metrics = metrics
        self.limits = limits

    def respond(
        self, method: bytes, path: bytes, query: bytes, body: bytes, client: str | None
    ) -> bytes | None:
        """The whole HTTP response to a complete request the fast path answers, or None for
        the ASGI app to answer it. For a server that can answer without an ASGI round trip
        (http/server.py); the same answers, metrics and access log as through `__call__`."""
        if method not in (b"GET", b"POST") or len(body) > self.limits.request_body_bytes:
            return None
        started = time.perf_counter()
        raw_path = path.decode("latin-1")
        answer = self.answers.lookup(raw_path, query, body)
        if answer is None:
            return None
        route, payload = answer
        answered(self.metrics, route, 200, method.decode(), raw_path, started, client)
        return self.answers.http(payload)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.framework(scope, receive, send)
            return
        started = time.perf_counter()
        path = api.raw_path(scope)
        body = (
            await _read_body(receive, self.limits.request_body_bytes) if _has_body(scope) else b""
        )
        if body is None:  # over the limit: refused unread, the one place every request passes
            await _too_large(scope, send, self.limits.request_body_bytes)
            self.metrics.observe("other", 413, time.perf_counter() - started)
            return
        answer = self.answers.lookup(path, scope.get("query_string", b""), body)
        if answer is None:
            await self.framework(scope, _replay(body, receive), send)
            return
        route, payload = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers(payload)})
        await send({"type": "http.response.body", "body": payload})
        client = scope.get("client")
        answered(
            self.metrics, route, 200, scope["method"], path, started, client[0] if client else None
        )


def answered(
    metrics: Metrics,
    route: str,
    status: int,
    method: str,
    path: str,
    started: float,
    client: str | None,
) -> None:
    """The one place a request is accounted: counted in /metrics and, when it is on, written
    to the access log."""
    metrics.observe(route, status, time.perf_counter() - started)
    if access.enabled:
        access.record(method, path, status, started, client)


def _has_body(scope: Any) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return bool(value.strip() != b"0")
        if name == b"transfer-encoding":
            return True
    return False


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than `limit` (the rest is not read)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _too_large(scope: Any, send: Any, limit: int) -> None:
    data = api.exception_json(
        api.raw_path(scope)[1:], "", "ClientError", f"body:more than {limit} bytes"
    )
    sent = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": sent})
    await send({"type": "http.response.body", "body": data})


def _replay(body: bytes, receive: Any) -> Any:
    """A receive that hands `body` (already read) once, then defers to the real one."""
    sent = False

    async def replayed() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _respond(status: int, body: bytes) -> Response:
    return Response(body, status, media_type="application/json")
