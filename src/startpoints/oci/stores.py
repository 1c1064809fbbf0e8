"""Opening the store a reference lives in: a registry host or an `oci:` layout folder."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.reference import Reference
from startpoints.oci.layout import LayoutStore
from startpoints.oci.store import Store

if TYPE_CHECKING:
    from startpoints.core.backoff import Backoff


@dataclass
class Stores:
    """One store per registry host or layout, reused so connections and tokens are too."""

    docker_config: Path | None = None
    retry: Backoff | None = None
    limits: Limits = DEFAULT  # sizes and deadlines for what stores send (core/limits.py)
    # Set to end every registry wait at once (a signal during assemble): see RegistryStore.
    cancelled: threading.Event = field(default_factory=threading.Event)
    _open: dict[str, Store] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one store per key

    def for_ref(self, ref: Reference) -> Store:
        key = f"oci:{ref.layout}" if ref.layout is not None else ref.api_host
        with self._lock:
            if key not in self._open:
                self._open[key] = self._make(ref)
            return self._open[key]

    def _make(self, ref: Reference) -> Store:
        if ref.layout is not None:
            return LayoutStore(Path(ref.layout), limits=self.limits)
        # Imported here: requests and oras cost ~150 ms, which lint and --help need not pay.
        from startpoints.oci.registry import RegistryStore

        return RegistryStore(
            ref.api_host,
            plain_http=ref.plain_http,
            docker_config=self.docker_config,
            retry=self.retry,
            limits=self.limits,
            cancelled=self.cancelled,
        )
