"""Registry gating: a registry that answers "too many requests" is left alone as a whole, not
per image (Docker Hub counts each manifest GET, and every retry would spend the quota of every
node behind the same address), for as long as it says (core/ratelimit.py: Retry-After, else
its advertised window once the quota is spent, else `wait`), with jitter so nodes do not
return at once; and, where a registry says how many pulls it still allows (a free HEAD), no
more pulls than that are started, in every window."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from startpoints.core.ratelimit import Limit
from startpoints.errors import BadReference, StartpointsError

log = logging.getLogger("startpoints.pull")

# image → the digest its tag names in the registry now, and the limit the registry states:
# one manifest HEAD, which Docker Hub does not count
Look = Callable[[str], tuple[str | None, Limit]]


class Gate:
    def __init__(
        self, *, wait: float = 900.0, look: Look | None = None, check_quota: bool = False
    ) -> None:
        """`wait`: how long a rate-limited registry is left alone when it says nothing of
        its window (±20%); `look`: the registry's HEAD; `check_quota`: read each registry's
        pulls left before pulling from it, and again after each hold."""
        self.wait = wait
        self.look = look
        self.check_quota = check_quota and look is not None
        self._lock = threading.Lock()
        self._held: dict[str, float] = {}  # registry → time.time() it may be asked again
        self._allowed: dict[str, int] = {}  # registry → pulls it may still take this window
        self._limits: dict[str, Limit] = {}  # registry → what it last said of its limit
        self._denied: dict[str, str] = {}  # registry → why it refused this node's pulls

    def read_quotas(self, images: Sequence[str]) -> None:
        """Each registry's pulls left, by one HEAD of its first image; unknown ones unbounded."""
        with self._lock:
            self._allowed = {}
        if not self.check_quota:
            return
        asked: set[str] = set()
        for image in images:
            registry = registry_of(image)
            if registry not in asked:
                asked.add(registry)
                self._read_quota(registry, image)

    def _read_quota(self, registry: str, image: str) -> None:
        limit = self._ask(registry, image)
        if limit is not None and limit.remaining is not None:
            with self._lock:
                self._allowed[registry] = limit.remaining
            log.warning("%s allows %d more pulls", registry, limit.remaining)

    def _ask(self, registry: str, image: str) -> Limit | None:
        if self.look is None:
            return None
        try:
            _, limit = self.look(image)
        except StartpointsError as error:
            log.warning("%s: its limit not read: %s", registry, error)
            return None
        with self._lock:
            self._limits[registry] = limit
        return limit

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
            said = self._limits.get(registry) or Limit()
        self._hold(registry, Limit(remaining=0, window=said.window))  # spent: for its window
        return False

    def refused(self, registry: str, image: str) -> None:
        """The registry refused a pull as too many: hold it for as long as it says (a free
        HEAD asks it), else for `wait`."""
        self._hold(registry, self._ask(registry, image) or Limit())

    def deny(self, registry: str, reason: str) -> None:
        """The registry refused a pull for want of credentials (or refused them): one line
        for the whole registry, and none of its images asked for until the hold ends (the
        credentials may be mounted meanwhile; they are read again at each pull)."""
        with self._lock:
            self._denied[registry] = reason
        self._hold(registry, Limit(), why=reason)

    def _hold(self, registry: str, limit: Limit, why: str | None = None) -> None:
        seconds = limit.hold(default=self.wait)
        # never back before the registry said; the default may come back a little early
        jitter = random.uniform(1.0, 1.2) if seconds != self.wait else random.uniform(0.8, 1.2)
        until = time.time() + seconds * jitter
        with self._lock:
            self._held[registry] = max(self._held.get(registry, 0.0), until)
        log.warning(
            "%s: no pull from it until ~%s",
            f"{registry}: {why}" if why else f"rate limited by {registry}",
            when(until),
        )

    def until(self, registry: str) -> float:
        """When `registry` may be asked again (0 or past: now)."""
        with self._lock:
            return self._held.get(registry, 0.0)

    def why(self, registry: str) -> str:
        """What holds `registry`: a refusal of this node's credentials, or a rate limit."""
        with self._lock:
            reason = self._denied.get(registry)
        return f"{registry}: {reason}" if reason else f"rate limited by {registry}"

    def reopened(self, registry: str, image: str) -> None:
        """A hold ended: a new window, whose quota is read again (unbounded where not read)."""
        with self._lock:
            self._allowed.pop(registry, None)
            self._denied.pop(registry, None)
        if self.check_quota:
            self._read_quota(registry, image)

    def limits(self) -> dict[str, Any]:
        """{"rate_limited": {registry: "until ~T"}} while any is held for a rate limit, and
        {"denied": {registry: why}} for each that refused this node's credentials."""
        now = time.time()
        with self._lock:
            held = {r: t for r, t in sorted(self._held.items()) if t > now}
            denied = {r: self._denied[r] for r in held if r in self._denied}
        limited = {r: when(t) for r, t in held.items() if r not in denied}
        return {
            **({"rate_limited": limited} if limited else {}),
            **({"denied": denied} if denied else {}),
        }


def registry_of(image: str) -> str:
    from startpoints.core.reference import parse

    try:
        return parse(image).domain
    except BadReference:
        return image.split("/", 1)[0]


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
