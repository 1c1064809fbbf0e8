"""The marker: a file naming the catalog and the digests a node was once warm with. Written
by atomic rename once every image is present; a restart whose marker matches is ready at
once (and verifies in the background). Readers (docs/formats.md) see a whole file or none."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def key(identity: str, images: Sequence[str], digests: Mapping[str, str]) -> dict[str, Any]:
    return {"identity": identity, "images": {image: digests.get(image) for image in images}}


def matches(path: Path | None, wanted: dict[str, Any]) -> bool:
    if path is None:
        return False
    try:
        return bool(json.loads(path.read_text()) == wanted)
    except (OSError, ValueError):
        return False


def write(path: Path, value: dict[str, Any]) -> None:
    """Replaces `path` whole (OSError when it cannot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        json.dump(value, out)
    os.replace(tmp, path)
