"""The status page as the server renders it: the table is there with no script run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from startpoints.core import served
from startpoints.http import app, status
from startpoints.prepull.readiness import AlwaysReady
from tests.core.test_served import CSHARP, JAVA, catalog

SHA7 = "4edf92a"
REVISION = "4edf92a" + "0" * 33


def test_the_table_is_rendered_on_the_server(tmp_path: Path) -> None:
    provenance = [
        {
            "revision": REVISION,
            "repository": "https://github.com/cyber-dojo-start-points/java-junit",
        },
        {"revision": REVISION, "repository": "https://gitlab.example/cd/csharp-nunit"},
    ]
    client = TestClient(
        app.build(served.load(catalog(tmp_path, JAVA, CSHARP, provenance=provenance)), sha=None)
    )
    page = client.get("/").text
    body = page.split("<script>")[0]  # what a client without scripts sees
    assert body.count("<tr>") == 3  # the header and one row per start point
    assert JAVA["display_name"] in body and CSHARP["display_name"] in body
    assert "2 start points, 2 language images; not pre-pulling on this node" in body
    assert body.count("not pulled here") == 2
    # a revision links to its commit where the source is on GitHub, and only there
    assert (
        f'<a href="https://github.com/cyber-dojo-start-points/java-junit/commit/{REVISION}"><code>{SHA7}</code></a>'
        in body
    )
    assert body.count("/commit/") == 1 and f"<code>{SHA7}</code>" in body


class Pulling(AlwaysReady):
    def __init__(
        self,
        states: dict[str, dict[str, Any]],
        ready: bool = False,
        progress: dict[str, Any] | None = None,
    ) -> None:
        self._states, self._ready, self._progress = states, ready, progress or {}
        self._superseded: dict[str, Any] = {}

    def superseded(self) -> dict[str, Any]:
        return self._superseded

    def progress(self) -> dict[str, Any]:
        return self._progress

    def ready(self) -> tuple[bool, dict[str, Any]]:
        return self._ready, {}

    def poke(self) -> None:
        pass

    def states(self) -> dict[str, dict[str, Any]]:
        return self._states


def test_the_summary_counts_each_state_of_the_catalogs_images(tmp_path: Path) -> None:
    images = [JAVA["image_name"], CSHARP["image_name"]]
    loaded = served.load(catalog(tmp_path, JAVA, CSHARP))
    cases = [
        ({images[0]: {"state": "present"}, images[1]: {"state": "failed", "error": "x"}}, False,
         "2 start points, 2 language images on this node: 1 present, 0 pulling, 1 failed \u2014 warming"),
        ({images[0]: {"state": "pulling"}, images[1]: {"state": "checking"}}, False,
         "on this node: 0 present, 2 pulling, 0 failed \u2014 warming"),
        ({i: {"state": "present"} for i in images}, True,
         "on this node: 2 present, 0 pulling, 0 failed \u2014 ready"),
    ]  # fmt: skip
    for states, ready, expected in cases:
        page = TestClient(app.build(loaded, sha=None, readiness=Pulling(states, ready))).get("/")
        assert expected in page.text, page.text.split("<table>")[0]


def test_every_value_is_escaped() -> None:
    hostile = {
        "name": "<script>alert(1)</script>",
        "image_name": 'x"><img src=y onerror=alert(2)>',
        "revision": '"><b>',
        "repository": "https://github.com/a/b",
        "source": "<i>",
    }
    page = status.render(
        [hostile], {hostile["image_name"]: {"state": "failed", "error": "<b>e</b>"}}, False
    )
    body = page.split("<script>\n")[0]
    assert (
        "<script>alert" not in body
        and "<img" not in body
        and "<b>" not in body
        and "<i>" not in body
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "/commit/" not in body  # a revision that is not a commit sha is not linked


def test_bytes_done_of_all_and_time_left_are_shown_where_sizes_are_known(tmp_path: Path) -> None:
    images = [JAVA["image_name"], CSHARP["image_name"]]
    loaded = served.load(catalog(tmp_path, JAVA, CSHARP))
    states = {
        images[0]: {"state": "pulling", "size": 3 * 2**30, "fetched": 2**30},
        images[1]: {"state": "present", "size": 2**29, "fetched": 2**29},
    }
    progress = {"bytes_done": 2**30 + 2**29, "bytes_total": 3 * 2**30 + 2**29, "sized": 2,
                "eta_seconds": 150.0}  # fmt: skip
    client = TestClient(app.build(loaded, sha=None, readiness=Pulling(states, False, progress)))
    page = client.get("/").text
    assert "; 1.5 GiB of 3.5 GiB, about 2 min left" in page
    assert "pulling 1.0 GiB of 3.0 GiB" in page
    assert client.get("/status").json()["bytes_done"] == 2**30 + 2**29
    # not pre-pulling, or no sizes: no bytes said
    assert "GiB of 3.5" not in status.render(loaded.start_points, states, False, {})
    assert '<td class="state pulling">pulling 1.0 GiB' in page


def test_metrics_carry_bytes_error_kinds_and_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NODE_NAME", "node-7")
    images = [JAVA["image_name"], CSHARP["image_name"]]
    states = {
        images[0]: {"state": "failed", "error": "ghcr.io: unreachable (connection refused)"},
        images[1]: {"state": "failed", "error": "toomanyrequests: You have reached your pull rate limit"},
    }  # fmt: skip
    progress = {"bytes_done": 10, "bytes_total": 30, "sized": 2, "eta_seconds": None}
    loaded = served.load(catalog(tmp_path, JAVA, CSHARP))
    client = TestClient(app.build(loaded, sha=None, readiness=Pulling(states, False, progress)))
    text = client.get("/metrics").text
    assert 'startpoints_images{node="node-7",state="failed"} 2.0' in text
    assert 'startpoints_image_bytes{node="node-7",of="total"} 30.0' in text
    assert 'startpoints_image_bytes{node="node-7",of="done"} 10.0' in text
    # (prometheus-client writes labels in name order)
    assert 'startpoints_pull_errors{kind="unreachable",node="node-7"} 1.0' in text
    assert 'startpoints_pull_errors{kind="rate_limited",node="node-7"} 1.0' in text
    assert 'startpoints_pull_errors{kind="not_found",node="node-7"} 0.0' in text


def test_a_rate_limit_is_said_on_the_page_status_and_metrics(tmp_path: Path) -> None:
    held = {"rate_limited": {"docker.io": "2026-12-01T18:00:00Z"}}
    states = {JAVA["image_name"]: {"state": "waiting", "error": "rate limited by docker.io"}}
    loaded = served.load(catalog(tmp_path, JAVA))
    client = TestClient(app.build(loaded, sha=None, readiness=Pulling(states, False, held)))
    assert "; rate limited by docker.io until ~2026-12-01T18:00:00Z" in client.get("/").text
    assert client.get("/status").json()["rate_limited"] == held["rate_limited"]
    assert 'startpoints_rate_limited{registry="docker.io"} 1.0' in client.get("/metrics").text


def test_a_moved_tag_is_said_on_the_page_status_and_metrics(tmp_path: Path) -> None:
    image = JAVA["image_name"]
    move = f"tag moved: {image} expected sha256:{'a' * 64} registry has sha256:{'b' * 64}"
    states = {image: {"state": "present", "moved": move}}
    loaded = served.load(catalog(tmp_path, JAVA))
    client = TestClient(
        app.build(loaded, sha=None, readiness=Pulling(states, True, {"moved": {image: move}}))
    )
    page = client.get("/").text
    assert f"; {move}" in page and f'<div class="error">{move}</div>' in page
    assert client.get("/status").json()["moved"] == {image: move}
    assert f'startpoints_tag_moved{{image="{image}"}} 1.0' in client.get("/metrics").text


def test_superseded_images_are_listed_with_the_bytes_they_free(tmp_path: Path) -> None:
    probe = Pulling({JAVA["image_name"]: {"state": "present"}}, True)
    probe._superseded = {
        "images": [
            {"image": "ghcr.io/cdl/java_junit:0000000", "bytes": 3 * 2**30, "state": "would remove"},
            {"image": "ghcr.io/cdl/java_junit:1111111", "bytes": 2**30, "state": "in use"},
        ],
        "bytes": 3 * 2**30,
    }  # fmt: skip
    client = TestClient(app.build(served.load(catalog(tmp_path, JAVA)), sha=None, readiness=probe))
    page = client.get("/").text
    assert "Superseded on this node: 2 images, 3.0 GiB to free" in page
    assert "<code>ghcr.io/cdl/java_junit:1111111</code> 1.0 GiB \u2014 in use" in page
    assert client.get("/status").json()["superseded"]["bytes"] == 3 * 2**30
