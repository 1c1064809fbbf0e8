"""Hostile requests: oversized, deeply nested and garbage bodies each get the JSON error
object, small and without a traceback, never a crash or a `text/plain` 500."""

from __future__ import annotations

import http.client
import json
import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from startpoints.core import served
from startpoints.core.limits import DEFAULT
from startpoints.http import app
from tests.cli.test_serve_cli import serving
from tests.conftest import EXAMPLES
from tests.core.test_served import CSHARP, JAVA, catalog


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    built = app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=None)
    return TestClient(built, raise_server_exceptions=False)


def exception_of(response: object) -> dict:
    assert response.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    return json.loads(response.content)["exception"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("route", ["/manifest", "/names", "/ready", "/nope"])
def test_a_body_over_the_limit_is_refused_unread(client: TestClient, route: str) -> None:
    response = client.post(route, content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert exception_of(response)["message"] == f"body:more than {DEFAULT.request_body_bytes} bytes"
    assert len(response.content) < 500


@pytest.mark.parametrize("route", ["/manifest", "/names", "/ready", "/sha"])
@pytest.mark.parametrize("body", [b"[" * 100_000, b"{" * 60_000, b'{"a":' * 10_000])
def test_deeply_nested_json_is_a_json_error(client: TestClient, route: str, body: bytes) -> None:
    response = client.post(route, content=body)
    assert 400 <= response.status_code < 600
    error = exception_of(response)
    assert len(error["body"]) <= DEFAULT.echo_bytes
    assert "Traceback" not in response.text and ".py" not in response.text


def test_an_error_echoes_at_most_the_echo_limit(client: TestClient) -> None:
    for body in (b"x" * 60_000, b'"' + b"\\u0000" * 10_000 + b'"'):
        response = client.post("/manifest", content=body)
        assert len(exception_of(response)["body"]) <= DEFAULT.echo_bytes
        assert len(response.content) < 4 * DEFAULT.echo_bytes
    response = client.post("/manifest", content=json.dumps({"name": "y" * 60_000}))
    assert len(exception_of(response)["message"]) < 2 * DEFAULT.echo_bytes


def test_a_real_server_refuses_a_huge_declared_body_at_once(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    with serving(str(tmp_path / "examples")) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.monotonic()
        connection.putrequest("GET", "/manifest")
        connection.putheader("Content-Length", str(100 * 1024 * 1024))
        connection.endheaders()
        connection.send(b'{"name": "' + b"x" * (256 * 1024))
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["exception"]["class"] == "ClientError"
        assert time.monotonic() - started < 5
        connection.close()
        # and the server still answers
        again = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        again.request("GET", "/alive")
        assert again.getresponse().status == 200
