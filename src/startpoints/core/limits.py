"""Every limit on untrusted input in one value: sizes, depths, counts and deadlines.

Images, registries and HTTP clients are untrusted (docs/security.md); each number here bounds
what one of them can make us spend. The defaults are far above anything cyber-dojo's real
start points need (the largest of the 166 in the corpus unpacks to under 1 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

KiB, MiB = 1024, 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # Unpacking a layer (start-point image, catalog image).
    start_point_bytes: int = 64 * MiB  # file bytes one start point may unpack to
    catalog_bytes: int = 512 * MiB  # file bytes a served catalog image may unpack to
    entries: int = 20_000  # tar entries one unpacking may write
    header_bytes: int = 64 * KiB  # one pax extended header or GNU long name/link
    path_bytes: int = 1024  # one entry's path, or one link's target
    # What a registry sends.
    manifest_bytes: int = 4 * MiB  # the distribution spec's own limit for a manifest
    config_bytes: int = 4 * MiB  # an image config (JSON, read whole)
    layer_bytes: int = 1024 * MiB  # one layer blob (base image layers are copied whole)
    registry_deadline: float = 300.0  # seconds for one registry operation, retries included
    # JSON anyone sends: manifests, configs, catalog.json, request bodies.
    json_depth: int = 64
    # What an HTTP client sends to `serve`.
    request_body_bytes: int = 64 * KiB
    echo_bytes: int = 1 * KiB  # how much of a bad body an error object repeats


DEFAULT = Limits()
