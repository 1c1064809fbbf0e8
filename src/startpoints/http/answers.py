"""The answers that do not change while the service runs, made once from the catalog: the
fixed routes' bodies, each manifest's by name and by raw display_name, the forms clients
send a name in, and each answer as a whole HTTP/1.1 response. Both the ASGI fast path and
http/server.py's raw one answer from these same bytes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

from startpoints.core import strictjson
from startpoints.core.limits import Limits
from startpoints.core.served import Served


class Answers:
    def __init__(self, served: Served, sha: str | None, limits: Limits) -> None:
        self.limits = limits
        # route → body, for the routes whose answer is always the same
        self.fixed = {
            "alive": as_json({"alive?": True}),
            "sha": as_json({"sha": sha}),
            "names": as_json({"names": served.names}),
            "manifests": as_json({"manifests": served.manifests}),
            "image_names": as_json({"image_names": served.image_names}),
            "start_points": as_json(
                {
                    "start_points": served.start_points + served.previous_start_points,
                    "replaces": served.replaces,
                }
            ),
        }
        # served name, a previous catalog's name, then raw display_name → /manifest's body
        self.manifests = {name: as_json({"manifest": m}) for name, m in served.answered.items()}
        self.manifests.update(
            {
                alias: self.manifests[name]
                for alias, name in served.aliases.items()
                if alias not in self.manifests
            }
        )
        self._by_path = {f"/{route}": (route, body) for route, body in self.fixed.items()}
        # /manifest?name=... as clients encode it, looked up without parsing the query
        self._by_query = {
            f"name={quoted(name)}".encode(): body
            for name, body in self.manifests.items()
            for quoted in (quote, quote_plus)
        }
        # /manifest's JSON body as clients write it (Ruby's JSON.generate, Python's json.dumps
        # with and without ensure_ascii), looked up without parsing: a parse is most of the
        # cost of a request here (docs/benchmarks.md, API). Any other body is parsed.
        self._by_body = {
            json.dumps({"name": name}, ensure_ascii=ascii_only, separators=separators).encode(): b
            for name, b in self.manifests.items()
            for ascii_only in (True, False)
            for separators in ((",", ":"), (", ", ": "))
        }
        # Each answer's whole HTTP response, status line to body: keyed by the body's
        # identity, since each body is one object made once.
        self._wire = {
            id(body): b"HTTP/1.1 200 OK\r\n"
            + b"".join(name + b": " + value + b"\r\n" for name, value in headers(body))
            + b"\r\n"
            + body
            for body in (*self.fixed.values(), *self.manifests.values())
        }

    def lookup(self, path: str, query: bytes, body: bytes) -> tuple[str, bytes] | None:
        """The route and the body of a 200 for this request, when it is one of these; None
        for anything else (a bad body, an unknown name: the API answers those)."""
        args: Any = {}
        if path == "/manifest" and body in self._by_body:
            return "manifest", self._by_body[body]
        if body:  # whitespace alone is bad JSON there, answered by the slow path
            try:
                args = strictjson.loads_bounded(body, self.limits.json_depth)
            except ValueError:
                return None
            if not isinstance(args, dict):
                return None
        elif query:
            if path == "/manifest" and query in self._by_query:
                return "manifest", self._by_query[query]
            args = dict(parse_qsl(query.decode("latin-1")))
        if path in self._by_path:
            return self._by_path[path]
        name = args.get("name")
        if path == "/manifest" and isinstance(name, str) and name in self.manifests:
            return "manifest", self.manifests[name]
        return None

    def http(self, body: bytes) -> bytes:
        """`body`'s whole HTTP/1.1 200 response."""
        return self._wire[id(body)]


def as_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
