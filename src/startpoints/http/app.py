"""cyber-dojo's start-points API as an ASGI app: routes answer from responses computed once.

Answered as cyber-dojo's own server answers, which is the specification (tests/http/
test_differential.py runs it beside ours): the body is parsed first, the path is routed as
sent, the method is ignored; ClientError is 400, ArgumentError and JSON::ParserError are 500,
each as its `{"exception": {...}}` object with an empty backtrace. Ours besides (docs/formats.md
lists each difference): arguments from the query string when there is no body, `/` (a status
page), `/start_points`, `/status`, `/metrics`, a 503 `/ready` while pre-pulling, a 413 for an
oversized body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, quote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from startpoints.core import strictjson
from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.served import Served
from startpoints.http import access, request_json, status
from startpoints.http.metrics import CONTENT_TYPE as METRICS_TYPE
from startpoints.http.metrics import Metrics

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
Handler = Callable[[dict[str, Any]], Awaitable[Response]]


class Readiness(Protocol):
    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether every language image is present, and progress; must answer at once."""
        ...

    def poke(self) -> None:
        """Called on each /ready: starts the one background pull if it has not started."""
        ...

    def states(self) -> dict[str, dict[str, Any]]:
        """Per language image: its pull state on this node (empty when not pulling)."""
        ...

    def progress(self) -> dict[str, Any]:
        """Bytes done and in all, and an ETA (empty when not pulling)."""
        ...

    def superseded(self) -> dict[str, Any]:
        """Superseded images on this node and the bytes removing them frees (empty when not
        pulling)."""
        ...


class AlwaysReady:
    def ready(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def poke(self) -> None:
        pass

    def states(self) -> dict[str, dict[str, Any]]:
        return {}

    def progress(self) -> dict[str, Any]:
        return {}

    def superseded(self) -> dict[str, Any]:
        return {}


class ApiError(Exception):
    """Refused as cyber-dojo's server refuses: `kind` is its error class (ClientError → 400,
    ArgumentError and JSON::ParserError → 500)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def build(
    served: Served,
    *,
    sha: str | None,
    readiness: Readiness | None = None,
    limits: Limits = DEFAULT,
) -> Any:
    """The ASGI app: the fast path in front of Starlette, both answering from bytes made here."""
    api = _Api(served, sha, readiness or AlwaysReady(), limits)
    framework = Starlette(
        # every method routes alike, as on cyber-dojo's server
        routes=[Route("/{path:path}", api.dispatch, methods=list(METHODS))]
    )
    return _FastPath(framework, api.fixed, api.one, api.metrics, limits)


class _Api:
    """Every route, answered through Starlette: the responses are computed once, here."""

    def __init__(self, served: Served, sha: str | None, probe: Readiness, limits: Limits) -> None:
        self.probe = probe
        self.limits = limits
        self.start_points = [
            {**sp, "repository": served.repositories.get(sp["name"])} for sp in served.start_points
        ]
        self.fixed = {
            "alive": _json({"alive?": True}),
            "sha": _json({"sha": sha}),
            "names": _json({"names": served.names}),
            "manifests": _json({"manifests": served.manifests}),
            "image_names": _json({"image_names": served.image_names}),
            "start_points": _json(
                {"start_points": served.start_points, "replaces": served.replaces}
            ),
        }
        self.one = {name: _json({"manifest": m}) for name, m in served.manifests.items()}
        self.one.update(
            {
                alias: self.one[name]
                for alias, name in served.aliases.items()
                if alias not in self.one
            }
        )
        self.metrics = Metrics(probe.states, probe.progress)
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
        route = _raw_path(request.scope)[1:]
        body = await request.body()
        try:
            args = self.arguments(body, request.scope.get("query_string", b""))
            if route in self.fixed:
                response = _respond(200, self.fixed[route])
            elif route in self.handlers:
                response = await self.handlers[route](args)
            else:
                raise ApiError("ClientError", "json:malformed")
        except ApiError as error:
            status_code = 400 if error.kind == "ClientError" else 500
            response = self.exception(route, body, status_code, error.kind, str(error))
        except Exception as error:  # a real fault: 500 and logged, no backtrace to the client
            logging.getLogger("startpoints.http").exception("/%s failed", route)
            response = self.exception(route, body, 500, type(error).__name__, str(error))
        known = route if route in self.fixed or route in self.handlers else "other"
        client = request.client.host if request.client else None
        _answered(
            self.metrics,
            known or "/",
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
        return _respond(200 if is_ready else 503, _json({"ready?": is_ready, **detail}))

    async def manifest(self, args: dict[str, Any]) -> Response:
        if "name" not in args:
            raise ApiError("ArgumentError", "name:missing")
        name = args["name"]
        if not isinstance(name, str):  # null too: present, but not a name
            raise ApiError("ArgumentError", "name:!string")
        if name not in self.one:
            raise ApiError("ArgumentError", f"name:{name[: self.limits.echo_bytes]}:unknown")
        return _respond(200, self.one[name])

    async def status(self, args: dict[str, Any]) -> Response:
        states = self.probe.states()
        ready = self.probe.ready()[0]
        return _respond(
            200,
            _json(
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
            self.start_points,
            self.probe.states(),
            self.probe.ready()[0],
            self.probe.progress(),
            self.probe.superseded(),
        )
        return Response(page, 200, media_type="text/html; charset=utf-8")

    async def scrape(self, args: dict[str, Any]) -> Response:
        return Response(self.metrics.render(), 200, media_type=METRICS_TYPE)

    def arguments(self, body: bytes, query: bytes) -> dict[str, Any]:
        """The body's JSON object, as cyber-dojo's server reads it; with no body, the query
        string's arguments (ours alone: that server ignores the query)."""
        if body == b"" and query:
            return dict(parse_qsl(query.decode("latin-1")))
        try:
            return request_json.arguments(body)
        except request_json.BodyError as error:
            raise ApiError(error.kind, str(error)) from None

    def exception(self, route: str, body: bytes, status: int, kind: str, message: str) -> Response:
        """The error object, repeating at most `echo_bytes` of the body."""
        echoed = body[: self.limits.echo_bytes].decode(errors="replace")
        data = _exception_json(route, echoed, kind, message[: self.limits.echo_bytes])
        return Response(data, status, media_type="application/json")


class _FastPath:
    """Pure ASGI in front of Starlette for the API's hot routes: the fixed-bytes routes and
    /manifest by name skip routing and Request/Response objects, which cost 60% of each
    request (measured with wrk, docs/benchmarks.md). Anything else, and anything the fast
    path cannot answer with a 200 (a bad body, an unknown name), goes to Starlette, which
    answers it, errors included, the one way."""

    def __init__(
        self,
        framework: Starlette,
        fixed: dict[str, bytes],
        one: dict[str, bytes],
        metrics: Metrics,
        limits: Limits,
    ) -> None:
        self.framework = framework
        self.limits = limits
        self.metrics = metrics
        self.fixed = {f"/{route}": (route, body) for route, body in fixed.items()}
        self.one = one
        # /manifest?name=... as clients encode it, looked up without parsing the query
        self.by_query = {
            f"name={quoted(name)}".encode(): body
            for name, body in one.items()
            for quoted in (quote, quote_plus)
        }
        # /manifest's JSON body as clients write it (Ruby's JSON.generate, Python's json.dumps
        # with and without ensure_ascii), looked up without parsing: a parse is most of the
        # cost of a request here (docs/benchmarks.md, API). Any other body is parsed.
        self.by_body = {
            json.dumps({"name": name}, ensure_ascii=ascii_only, separators=separators).encode(): b
            for name, b in one.items()
            for ascii_only in (True, False)
            for separators in ((",", ":"), (", ", ": "))
        }
        # Each answer's whole HTTP response, status line to body, for `respond`: keyed by the
        # body's identity, since each body is one object made once.
        self.wire = {
            id(body): b"HTTP/1.1 200 OK\r\n"
            + b"".join(name + b": " + value + b"\r\n" for name, value in _headers(body))
            + b"\r\n"
            + body
            for body in (*fixed.values(), *one.values())
        }

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
        answer = self._answer(raw_path, query, body)
        if answer is None:
            return None
        route, payload = answer
        _answered(self.metrics, route, 200, method.decode(), raw_path, started, client)
        return self.wire[id(payload)]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.framework(scope, receive, send)
            return
        started = time.perf_counter()
        path = _raw_path(scope)
        body = (
            await _read_body(receive, self.limits.request_body_bytes) if _has_body(scope) else b""
        )
        if body is None:  # over the limit: refused unread, the one place every request passes
            await _too_large(scope, send, self.limits.request_body_bytes)
            self.metrics.observe("other", 413, time.perf_counter() - started)
            return
        answer = self._answer(path, scope.get("query_string", b""), body)
        if answer is None:
            await self.framework(scope, _replay(body, receive), send)
            return
        route, payload = answer
        await send({"type": "http.response.start", "status": 200, "headers": _headers(payload)})
        await send({"type": "http.response.body", "body": payload})
        client = scope.get("client")
        _answered(
            self.metrics, route, 200, scope["method"], path, started, client[0] if client else None
        )

    def _answer(self, path: str, query: bytes, body: bytes) -> tuple[str, bytes] | None:
        args: Any = {}
        if path == "/manifest" and body in self.by_body:
            return "manifest", self.by_body[body]
        if body:  # whitespace alone is bad JSON there, answered by the slow path
            try:
                args = strictjson.loads_bounded(body, self.limits.json_depth)
            except ValueError:
                return None
            if not isinstance(args, dict):
                return None
        elif query:
            if path == "/manifest" and query in self.by_query:
                return "manifest", self.by_query[query]
            args = dict(parse_qsl(query.decode("latin-1")))

        if path in self.fixed:
            return self.fixed[path]
        if path == "/manifest" and isinstance(name := args.get("name"), str) and name in self.one:
            return "manifest", self.one[name]
        return None


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
    data = _exception_json(_raw_path(scope)[1:], "", "ClientError", f"body:more than {limit} bytes")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
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


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _exception_json(path: str, body: str, kind: str, message: str) -> bytes:
    """cyber-dojo's error object, its fields in its order, pretty printed as Ruby's
    `JSON.pretty_generate` prints it. The backtrace is always empty: never our file paths."""
    exception = {"path": path, "body": body, "class": kind, "message": message, "backtrace": []}
    return json.dumps({"exception": exception}, indent=2, ensure_ascii=False).encode()


def _raw_path(scope: Any) -> str:
    """The path as the client sent it (`%6D` stays `%6D`), as cyber-dojo's server routes on it."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"])


def _respond(status: int, body: bytes) -> Response:
    return Response(body, status, media_type="application/json")


def _answered(
    metrics: Metrics,
    route: str,
    status: int,
    method: str,
    path: str,
    started: float,
    client: str | None,
) -> None:
    """An answer counted in /metrics and, when it is on, written to the access log."""
    metrics.observe(route, status, time.perf_counter() - started)
    if access.enabled:
        access.record(method, path, status, started, client)


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
