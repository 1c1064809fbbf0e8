"""The holding protocol (http/server.py): the hot routes answered from uvicorn's parser
callbacks must be the very bytes the ASGI app answers, in order, under pipelining and a client
that does not read, and every request it cannot answer must reach the app unchanged."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from startpoints.core import served
from startpoints.http import access, app, server
from tests.core.test_served import CSHARP, JAVA, catalog
from tests.servers import free_port, wait_until

SHA = "0123456789abcdef0123456789abcdef01234567"


@contextmanager
def running(application: Any, *, immediate: bool, keep: bool = False) -> Iterator[Any]:
    """The port `application` is served on by uvicorn on a thread (with the server, `keep`)."""
    port = free_port()
    instance = uvicorn.Server(
        server.config(application, host="127.0.0.1", port=port, immediate=immediate)
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    wait_until(lambda: instance.started, "uvicorn")
    try:
        yield (port, instance) if keep else port
    finally:
        instance.should_exit = True
        thread.join(10)


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """One app, served holding and plain (every request through ASGI)."""
    application = app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=SHA)
    with (
        running(application, immediate=True) as held,
        running(application, immediate=False) as plain,
    ):
        yield held, plain


def exchange(port: int, data: bytes, responses: int, deadline: float = 10) -> bytes:
    """Send `data` on one connection and read until `responses` responses have arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=deadline) as s:
        s.sendall(data)
        return read_responses(s, responses, deadline)


def read_responses(s: socket.socket, count: int, deadline: float) -> bytes:
    received = b""
    end = time.monotonic() + deadline
    while _complete(received) < count:
        assert time.monotonic() < end, f"{_complete(received)} of {count} responses"
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        received += chunk
    return received


def _complete(data: bytes) -> int:
    """How many whole responses (each with a content-length) `data` holds."""
    count, at = 0, 0
    while (end := data.find(b"\r\n\r\n", at)) != -1:
        head = data[at:end].lower()
        length = (
            int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
            if b"content-length: " in head
            else 0
        )
        if head.startswith(b"http/1.1 100"):
            at = end + 4
            continue
        if len(data) < end + 4 + length:
            break
        count, at = count + 1, end + 4 + length
    return count


def request(method: str, path: str, body: bytes = b"", headers: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}{length}\r\n".encode() + body


HOT = [
    request("GET", "/names"),
    request("POST", "/alive"),
    request("GET", "/manifests"),
    request("GET", "/manifest", json.dumps({"name": "C#, NUnit"}).encode()),
    request("GET", "/manifest", b'{"name":"C#, NUnit"}'),
    request("GET", "/manifest", b' { "name" : "C#, NUnit" } '),  # parsed, not looked up
    request("GET", "/manifest?name=C%23%2C+NUnit"),
]
COLD = [
    request("GET", "/manifest", b'{"name":"Cobol"}'),  # unknown: ArgumentError, 500
    request("GET", "/names", b"[1]"),  # not an object: ClientError, 400
    request("GET", "/names", b"{"),  # JSON::ParserError, 500
    request("HEAD", "/names"),
    request("GET", "/ready"),
    request("GET", "/status"),
    request("GET", "/nothing"),
    request("GET", "/names", b"x" * 5000),  # too long to hold
]


@pytest.mark.parametrize("data", HOT + COLD, ids=lambda d: d.split(b"\r\n")[0].decode())
def test_each_answer_is_the_apps_own_bytes(both: tuple[int, int], data: bytes) -> None:
    held, plain = both
    assert exchange(held, data, 1) == exchange(plain, data, 1)


def test_pipelined_requests_are_answered_in_order(both: tuple[int, int]) -> None:
    held, plain = both
    mixed = [HOT[0], COLD[0], HOT[3], COLD[4], HOT[2], HOT[0]]
    answered = exchange(held, b"".join(mixed), len(mixed))
    assert answered == exchange(plain, b"".join(mixed), len(mixed))
    assert _complete(answered) == len(mixed)
    statuses = re.findall(rb"HTTP/1.1 (\d+)", answered)
    assert statuses == [b"200", b"500", b"200", b"200", b"200", b"200"]


def test_a_client_that_does_not_read_stops_being_answered_and_then_gets_all_in_order(
    tmp_path: Path,
) -> None:
    """Pipelined /manifests, far more than the socket buffers hold, sent while nothing is read:
    the server must stop reading with at most one answer past the transport's high-water mark
    buffered (no answers piling up in memory), then answer every request whole and in order
    once the client reads."""
    application = app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=SHA)
    one = len(application.answers.http(application.answers.fixed["manifests"]))
    count = 40 * 1024 * 1024 // one  # 40 MiB of answers
    with (
        running(application, immediate=True, keep=True) as (port, instance),
        socket.create_connection(("127.0.0.1", port), timeout=30) as s,
    ):
        sender = threading.Thread(target=s.sendall, args=(HOT[2] * count,), daemon=True)
        sender.start()

        def paused() -> list[Any]:
            return [c for c in instance.server_state.connections if c.flow.read_paused]

        wait_until(lambda: bool(paused()), "the server pausing its reads", deadline=30)
        connection = paused()[0]
        assert connection.transport.get_write_buffer_size() <= 64 * 1024 + one
        # requests are in flight: the idle timer that would close it is not armed
        assert connection.timeout_keep_alive_task is None
        answered = read_responses(s, count, deadline=60)
        sender.join(10)
    assert _complete(answered) == count
    assert answered == application.answers.http(application.answers.fixed["manifests"]) * count


def test_expect_100_continue_http_1_0_and_chunked_bodies_reach_the_app(
    both: tuple[int, int],
) -> None:
    held, plain = both
    body = json.dumps({"name": "C#, NUnit"}).encode()
    for data in (
        request("GET", "/manifest", body, "Expect: 100-continue\r\n"),
        request("GET", "/names").replace(b"HTTP/1.1", b"HTTP/1.0"),
        b"GET /manifest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n",
    ):
        assert exchange(held, data, 1) == exchange(plain, data, 1)
        assert b" 200 OK" in exchange(held, data, 1)


def test_a_body_longer_than_it_may_be_held_is_released_to_the_app(both: tuple[int, int]) -> None:
    """A body that says it is small and goes on is refused as the app refuses it."""
    held, plain = both
    data = request("GET", "/manifest", b"x" * (server.HELD_BODY_BYTES + 10))
    answered = exchange(held, data, 1)
    assert answered == exchange(plain, data, 1)
    assert b"JSON::ParserError" in answered


def test_every_request_is_one_access_log_line_held_or_not(tmp_path: Path) -> None:
    stream = io.StringIO()
    application = app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=SHA)
    access.start(stream)
    try:
        with running(application, immediate=True) as port:
            exchange(port, HOT[0] + COLD[0] + request("GET", '/a"b\\%0A'), 3)
    finally:
        access.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/names", 200),
        ("GET", "/manifest", 500),
        ("GET", '/a"b\\%0A', 400),
    ]
    assert all(line["client"] == "127.0.0.1" and line["ms"] >= 0 for line in lines)


def test_nothing_is_logged_when_the_access_log_is_off(tmp_path: Path) -> None:
    application = app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=SHA)
    with running(application, immediate=True) as port:
        exchange(port, HOT[0], 1)
    assert not access.enabled and not access._lines
