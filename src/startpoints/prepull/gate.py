"""Registry gating: a registry that answers "too many requests" is left alone as a whole, not
per image, for a long window with jitter (Docker Hub counts each manifest GET, and every retry
would spend the quota of every node behind the same address); and, where a registry says how
many pulls it still allows (a free HEAD), no more pulls than that are started."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from startpoints.errors import BadReference, StartpointsError

log = logging.getLogger("startpoints.pull")

Quota = Callable[[str], int | None]  # image → the pulls its registry still allows, or None


class Gate:
    def __init__(self, *, wait: float = 900.0, quota: Quota | None = None) -> None:
        """`wait`: how long a rate-limited registry is left alone (±20%); `quota(image)`: the
        pulls its registry still allows this node, asked once per registry per run."""
        self.wait = wait
        self.quota = quota
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # registry → time.time() it may be asked again
        self._allowed: dict[str, int] = {}  # registry → pulls it may still take this run

    def read_quotas(self, images: Sequence[str]) -> None:
        """Each registry's pulls left, by one HEAD of its first image; unknown ones unbounded."""
        allowed: dict[str, int] = {}
        if self.quota is not None:
            asked: set[str] = set()
            for image in images:
                registry = registry_of(image)
                if registry in asked:
                    continue
                asked.add(registry)
                try:
                    left = self.quota(image)
                except StartpointsError as error:
                    log.warning("%s: quota not read: %s", registry, error)
                    continue
                if left is not None:
                    allowed[registry] = left
                    log.warning("%s allows %d more pulls", registry, left)
        with self._lock:
            self._allowed = allowed

    def take(self, registry: str) -> bool:
        """One pull from `registry` within its quota; False (and the registry held) when none
        is left."""
        with self._lock:
            left = self._allowed.get(registry)
            if left is None:
                return True
            if left > 0:
                self._allowed[registry] = left - 1
                return True
        self.hold(registry)
        return False

    def hold(self, registry: str) -> None:
        """Leave `registry` alone for the window, with jitter so nodes do not return at once."""
        until = time.time() + self.wait * random.uniform(0.8, 1.2)
        with self._lock:
            self._held[registry] = max(self._held.get(registry, 0.0), until)
        log.warning("rate limited by %s: no pull from it until ~%s", registry, when(until))

    def until(self, registry: str) -> float:
        """When `registry` may be asked again (0 or past: now)."""
        with self._lock:
            return self._held.get(registry, 0.0)

    def reopened(self, registry: str) -> None:
        """A hold ended: a new window, whose quota is unknown again, as before any HEAD."""
        with self._lock:
            self._allowed.pop(registry, None)

    def limits(self) -> dict[str, Any]:
        """{"rate_limited": {registry: "until ~T"}} while any is held."""
        now = time.time()
        with self._lock:
            held = {r: when(t) for r, t in sorted(self._held.items()) if t > now}
        return {"rate_limited": held} if held else {}


def registry_of(image: str) -> str:
    from startpoints.core.reference import parse

    try:
        return parse(image).domain
    except BadReference:
        return image.split("/", 1)[0]


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
