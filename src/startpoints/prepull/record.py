"""The node's record: one JSON file on the host path every puller of a node mounts, so the
pullers of overlapping rollouts agree which catalog is newest and since when each image has
been superseded.

The newest catalog is, of those whose puller is alive (seen within `alive` seconds: each
run says so), the one first seen last. An old pod's puller that restarts mid-rollout stays
older than the new one; after a rollback, the catalog rolled back to is the newest once the
newer one's puller has gone quiet.

Read and written under an exclusive `flock` on a file beside it, replaced by atomic rename:
two pullers never interleave, and a crash leaves the old record whole. A record that cannot
be read as one is started afresh (it only ever delays an eviction).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

KEEP_CATALOGS = 20  # the newest catalogs remembered; older ones can no longer be newest
T = TypeVar("T")


class NodeRecord:
    def __init__(self, path: Path, *, alive: float = 3600.0) -> None:
        self.path = path
        self.alive = alive

    def seen(self, identity: str) -> bool:
        """A puller of catalog `identity` runs now; whether that catalog is the newest."""
        return self._update(lambda record: self._newest(record, identity))

    def supersede(self, identity: str, superseded: Sequence[str]) -> dict[str, float] | None:
        """For the newest catalog: when each of `superseded` (tags) became superseded, those
        seen first now recorded now, those no longer superseded forgotten. None when another
        catalog is the newest: only the newest decides."""

        def change(record: dict[str, Any]) -> dict[str, float] | None:
            if not self._newest(record, identity):
                return None
            known = record.get("superseded") or {}
            now = time.time()
            since = {tag: float(known.get(tag, now)) for tag in superseded}
            record["superseded"] = since
            return since

        return self._update(change)

    def _newest(self, record: dict[str, Any], identity: str) -> bool:
        """Note `identity` seen now; whether it is the newest of the catalogs alive."""
        now = time.time()
        catalogs = record.setdefault("catalogs", {})
        catalogs.setdefault(identity, {"first": now})["seen"] = now
        kept = sorted(catalogs, key=lambda c: catalogs[c]["first"])[-KEEP_CATALOGS:]
        record["catalogs"] = catalogs = {c: catalogs[c] for c in kept}
        alive = [c for c, v in catalogs.items() if v.get("seen", 0) >= now - self.alive]
        return bool(identity == max(alive, key=lambda c: catalogs[c]["first"]))

    def _update(self, change: Callable[[dict[str, Any]], T]) -> T:
        with self._locked():
            try:
                record = json.loads(self.path.read_text())
                if not isinstance(record, dict):
                    record = {}
            except (OSError, ValueError):
                record = {}
            result = change(record)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w") as out:
                json.dump(record, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
            return result

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
