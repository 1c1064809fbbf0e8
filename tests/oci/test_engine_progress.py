"""Bytes from a Docker Engine pull's progress stream (oci/engine._layer_bytes), on the streams
Docker and podman really send: Docker's recorded from `docker pull` (its event shapes, as the
Engine API documents them), podman 4.3's from tests/workflows/test_pull.py's engine."""

from __future__ import annotations

from typing import Any

from startpoints.oci.engine import _layer_bytes

DOCKER = [
    {"status": "Pulling from cyber-dojo-languages/python_pytest", "id": "752c5b5"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "a3ed95caeb02"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "5e83b8a2f7c1"},
    {"status": "Downloading", "progressDetail": {"current": 32768, "total": 2065537}, "progress": "[>   ]", "id": "a3ed95caeb02"},
    {"status": "Downloading", "progressDetail": {"current": 1000, "total": 5000}, "id": "5e83b8a2f7c1"},
    {"status": "Downloading", "progressDetail": {"current": 1048576, "total": 2065537}, "id": "a3ed95caeb02"},
    {"status": "Verifying Checksum", "progressDetail": {}, "id": "a3ed95caeb02"},
    {"status": "Download complete", "progressDetail": {}, "id": "a3ed95caeb02"},
    {"status": "Extracting", "progressDetail": {"current": 65536, "total": 2065537}, "id": "a3ed95caeb02"},
    {"status": "Download complete", "progressDetail": {}, "id": "5e83b8a2f7c1"},
    {"status": "Pull complete", "progressDetail": {}, "id": "a3ed95caeb02"},
    {"status": "Digest: sha256:" + "0" * 64},
]  # fmt: skip
PODMAN = [
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bfd78538364b"},
    {"status": "Download complete", "progressDetail": {}, "id": "bfd78538364b"},
    {"status": "Download complete", "progressDetail": {}, "id": "bfd78538364b"},
]


def totals(stream: list[dict[str, Any]]) -> list[int]:
    layers: dict[str, tuple[int, int]] = {}
    return [sum(f for f, _ in layers.values()) for e in stream if _layer_bytes(e, layers)]


def test_dockers_stream_gives_bytes_as_they_arrive_and_each_layer_whole_when_done() -> None:
    assert totals(DOCKER) == [32768, 33768, 1049576, 2066537, 2070537]


def test_podmans_stream_gives_no_bytes() -> None:
    assert totals(PODMAN) == []


def test_hostile_events_count_nothing() -> None:
    hostile: list[dict[str, Any]] = [
        {"status": "Downloading", "progressDetail": {"current": -5, "total": 10}, "id": "a"},
        {"status": "Downloading", "progressDetail": "lots", "id": "a"},
        {"status": "Downloading", "progressDetail": {"current": "9"}, "id": "a"},
        {"status": "Downloading", "progressDetail": {"current": 99, "total": 10}, "id": "b"},
        {"status": "Downloading", "progressDetail": {"current": 5}, "id": ["c"]},
    ]
    assert totals(hostile) == [10]  # b, capped at its own total
