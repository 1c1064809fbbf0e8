"""cyber-dojo's start-points API rules, as its own server applies them: how a request's
arguments are read, how `/manifest` checks its name, and the error object a refusal is.

ClientError is 400, ArgumentError and JSON::ParserError are 500, each as its
`{"exception": {...}}` object with an empty backtrace (never our file paths).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from startpoints.http import request_json

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


class ApiError(Exception):
    """Refused as cyber-dojo's server refuses: `kind` is its error class (ClientError → 400,
    ArgumentError and JSON::ParserError → 500)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def status(self) -> int:
        return 400 if self.kind == "ClientError" else 500


def arguments(body: bytes, query: bytes) -> dict[str, Any]:
    """The body's JSON object, as cyber-dojo's server reads it; with no body, the query
    string's arguments (ours alone: that server ignores the query)."""
    if body == b"" and query:
        return dict(parse_qsl(query.decode("latin-1")))
    try:
        return request_json.arguments(body)
    except request_json.BodyError as error:
        raise ApiError(error.kind, str(error)) from None


def manifest_name(args: dict[str, Any], known: dict[str, bytes], echo_bytes: int) -> str:
    """/manifest's `name`, refused as cyber-dojo's server refuses a missing, non-string or
    unknown one (the unknown name echoed, cut to `echo_bytes`)."""
    if "name" not in args:
        raise ApiError("ArgumentError", "name:missing")
    name = args["name"]
    if not isinstance(name, str):  # null too: present, but not a name
        raise ApiError("ArgumentError", "name:!string")
    if name not in known:
        raise ApiError("ArgumentError", f"name:{name[:echo_bytes]}:unknown")
    return name


def exception_json(path: str, body: str, kind: str, message: str) -> bytes:
    """cyber-dojo's error object, its fields in its order, pretty printed as Ruby's
    `JSON.pretty_generate` prints it. The backtrace is always empty: never our file paths."""
    exception = {"path": path, "body": body, "class": kind, "message": message, "backtrace": []}
    return json.dumps({"exception": exception}, indent=2, ensure_ascii=False).encode()


def raw_path(scope: Any) -> str:
    """The path as the client sent it (`%6D` stays `%6D`), as cyber-dojo's server routes on it."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"])
