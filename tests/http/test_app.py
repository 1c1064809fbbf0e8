"""Every route of the API: shapes, arguments from body or query string, and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from startpoints.core import served
from startpoints.http import app
from startpoints.prepull.readiness import AlwaysReady
from tests.core.test_served import CSHARP, JAVA, catalog

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(app.build(served.load(catalog(tmp_path, JAVA, CSHARP)), sha=SHA))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fixed_routes(client: TestClient, method: str) -> None:
    assert client.request(method, "/alive").json() == {"alive?": True}
    assert client.request(method, "/alive?").json() == {"alive?": True}
    assert client.request(method, "/ready?").json() == {"ready?": True}
    assert client.request(method, "/sha").json() == {"sha": SHA}
    assert client.request(method, "/names").json() == {
        "names": ["C#, NUnit", "Java 25.0.2, JUnit 6.0.3"]
    }
    assert client.request(method, "/image_names").json() == {
        "image_names": ["cdf/csharp_nunit:1452bb7", "ghcr.io/cdl/java_junit:7aa5992"]
    }
    manifests = client.request(method, "/manifests").json()["manifests"]
    assert sorted(manifests) == ["C#, NUnit", "Java 25.0.2, JUnit 6.0.3"]
    assert manifests["C#, NUnit"]["visible_files"] == {
        "cyber-dojo.sh": {"content": "content of cyber-dojo.sh"}
    }
    start_points = client.request(method, "/start_points").json()["start_points"]
    assert [s["name"] for s in start_points] == ["C#, NUnit", "Java 25.0.2, JUnit 6.0.3"]
    assert set(start_points[0]) == {
        "name",
        "display_name",
        "image_name",
        "image_digest",
        "image_size",
        "start_point_image",
        "start_point_digest",
        "source",
        "revision",
        "index",
    }


def test_manifest_by_json_body_or_query(client: TestClient) -> None:
    by_body = client.request("GET", "/manifest", content=json.dumps({"name": "C#, NUnit"}))
    by_query = client.get("/manifest", params={"name": "C#, NUnit"})
    assert by_body.status_code == by_query.status_code == 200
    assert by_body.json() == by_query.json()
    assert by_body.json()["manifest"]["image_name"] == "cdf/csharp_nunit:1452bb7"
    assert by_body.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "message"),
    [
        ("/manifest", "", 500, "ArgumentError", "name:missing"),
        ("/manifest", '{"name": null}', 500, "ArgumentError", "name:!string"),
        ("/manifest", '{"name": 42}', 500, "ArgumentError", "name:!string"),
        ("/manifest", '{"name": "Cobol"}', 500, "ArgumentError", "name:Cobol:unknown"),
        (
            "/manifest",
            "{not json",
            500,
            "JSON::ParserError",
            "859: unexpected token at '{not json'",
        ),
        ("/manifest", "[1, 2]", 400, "ClientError", "json:malformed"),
        ("/names", "{not json", 500, "JSON::ParserError", "859: unexpected token at '{not json'"),
        ("/names", "  ", 500, "JSON::ParserError", "859: unexpected token at ''"),
        ("/ready", "{", 500, "JSON::ParserError", "859: unexpected token at '{'"),
        ("/nope", "", 400, "ClientError", "json:malformed"),
        ("/nope/deeper", "", 400, "ClientError", "json:malformed"),
        ("/names/", "", 400, "ClientError", "json:malformed"),
        ("/na%6Des", "", 400, "ClientError", "json:malformed"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_errors_are_cyber_dojos_exception_objects(
    client: TestClient, path: str, body: str, status: int, kind: str, message: str, method: str
) -> None:
    response = client.request(method, path, content=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    exception: dict[str, Any] = response.json()["exception"]
    # its fields in its server's order, the path as sent, and a backtrace naming no file
    assert list(exception) == ["path", "body", "class", "message", "backtrace"]
    assert exception == {
        "path": path[1:],
        "body": body,
        "class": kind,
        "message": message,
        "backtrace": [],
    }
    assert response.text.startswith('{\n  "exception": {\n    "path": ')  # pretty, as Ruby's


def test_ready_answers_503_with_progress_while_not_ready(tmp_path: Path) -> None:
    class Warming(AlwaysReady):
        pokes = 0

        def ready(self) -> tuple[bool, dict[str, Any]]:
            return False, {"done": 1, "total": 2}

        def poke(self) -> None:
            Warming.pokes += 1

    client = TestClient(
        app.build(served.load(catalog(tmp_path, CSHARP)), sha=None, readiness=Warming())
    )
    response = client.get("/ready?")
    assert response.status_code == 503
    assert response.json() == {"ready?": False, "done": 1, "total": 2}
    assert Warming.pokes == 1
    assert client.get("/alive?").status_code == 200


def test_status_page_status_json_and_metrics(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        "<table>" in page.text and "http" not in page.text.split("<script>")[0].lower()
    )  # no external assets
    assert client.get("/status").json() == {
        "ready": True,
        "pulling": False,
        "images": {},
        "superseded": {},
    }
    client.get("/names")
    client.get("/nope")
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'startpoints_requests_total{route="names",status="200"} 1.0' in metrics.text
    assert 'startpoints_requests_total{route="other",status="400"} 1.0' in metrics.text
    assert 'startpoints_images{state="present"} 0.0' in metrics.text
    assert "startpoints_request_seconds_bucket" in metrics.text


@pytest.mark.parametrize(
    "query",
    [
        "name=C%23%2C%20NUnit",
        "name=C%23%2C+NUnit",
        "name=C%23,+NUnit",
        "other=1&name=C%23%2C%20NUnit",
    ],
)
def test_manifest_query_in_any_encoding(client: TestClient, query: str) -> None:
    response = client.get(f"/manifest?{query}")
    assert (
        response.status_code == 200 and response.json()["manifest"]["display_name"] == "C#, NUnit"
    )


def test_the_status_page_is_labelled_page_in_metrics(client: TestClient) -> None:
    """Every route's label is its path without the slash; `/`'s would be empty: `page`."""
    assert client.get("/").status_code == 200
    metrics = client.get("/metrics").text
    assert 'startpoints_requests_total{route="page",status="200"} 1.0' in metrics
    assert 'route="/"' not in metrics
