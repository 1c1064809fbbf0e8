"""One image's pull, as the Puller runs it for each image: is it on the node as the catalog
recorded it; if not, wait out a registry's hold, take a pull from its quota, pull it by digest
and tag it back, name a moved tag, pin it; a failure retried with backoff, or, for a
registry's refusal or rate limit, left to the registry's hold."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from startpoints.core import failure
from startpoints.core.backoff import Backoff
from startpoints.errors import Denied, NotFound, StartpointsError
from startpoints.oci.runtime import Held, Runtime
from startpoints.prepull.gate import Gate, Look, registry_of, when
from startpoints.prepull.state import States

log = logging.getLogger("startpoints.pull")


class ImagePull:
    """The per-image half of the Puller (prepull/puller.py), which sets these."""

    runtime: Runtime
    gate: Gate
    look: Look | None
    digests: dict[str, str]
    backoff: Backoff
    attempts: int | None
    on_done: Callable[[str, str | None], None]
    _states: States
    _lock: threading.Lock | threading.RLock
    _stop: threading.Event
    _sleep: Callable[[float], Any]
    _newest: bool
    _pulls: int

    def _error(self, message: str) -> None:
        raise NotImplementedError

    def _holds(self, image: str) -> bool:
        try:
            return self._as_recorded(image, self.runtime.held(image))
        except StartpointsError:
            return False  # asked again, and reported, when it is pulled

    def _as_recorded(self, image: str, held: Held | None) -> bool:
        digest = self.digests.get(image)
        return held is not None and (digest is None or digest in held.digests)

    def _ensure(self, image: str) -> bool:
        attempt = 0
        registry = registry_of(image)
        while not self._stop.is_set() and (self.attempts is None or attempt < self.attempts):
            if not self._wait_for(registry, image):
                break  # a one-shot pull does not wait out a rate limit: it says so
            attempt += 1
            started = time.monotonic()
            try:
                self._states.set(image, state="checking")
                held = self.runtime.held(image)
                if not self._as_recorded(image, held):
                    if not self.gate.take(registry):
                        attempt -= 1  # not a try: the quota is spent, the registry held
                        continue
                    held = self._pull(image, held, attempt)
                self._keep(image, held)
                self._states.fetched(image, self._states.get(image).size or 0)
                self._states.set(
                    image, state="present", error=None, seconds=round(time.monotonic() - started, 3)
                )
                self.on_done(image, None)
                return True
            except Exception as error:  # noqa: BLE001 - any failure is retried, and reported
                message = str(error) if isinstance(error, StartpointsError) else f"{image}: {error}"
                self._states.set(image, state="failed", error=message)
                self._error(message)
                if isinstance(error, Denied):
                    self.gate.deny(registry, error.reason)
                    if self.attempts is not None:
                        break  # one-shot: said once for the registry, the rest not asked
                    continue  # the registry's hold decides when it is asked again
                if isinstance(error, NotFound) and self.attempts is not None:
                    break  # an answer, not a failure to get one: a one-shot pull stops here
                if failure.kind(message) == "rate_limited":
                    self.gate.refused(registry, image)
                    if self.attempts is not None:
                        break  # one-shot: the runtime's answer stands, the hold spares the rest
                    continue  # the registry's hold, not this image's backoff, decides
                if self.attempts is None or attempt < self.attempts:
                    delay = self.backoff.delay(attempt)
                    log.warning(
                        "%s (attempt %d%s); retrying in %g s",
                        message,
                        attempt,
                        f" of {self.attempts}" if self.attempts else "",
                        delay,
                    )
                    self._sleep(delay)
        self.on_done(image, self._states.get(image).error)
        return False

    def _pull(self, image: str, held: Held | None, attempt: int) -> Held:
        """Pull `image` as recorded (by digest, tagged back); what the node holds then. A
        node holding other content under the tag has seen the tag moved; the registry is
        asked (one free HEAD per pull, never per recheck) what the tag names there now."""
        digest = self.digests.get(image)
        if held is not None and digest is not None:
            self._moved(
                image, digest, f"this node has {', '.join(sorted(held.digests)) or held.id}"
            )
        self._states.set(image, state="pulling", attempts=attempt)
        with self._lock:
            self._pulls += 1
        try:
            self.runtime.pull(image, digest, lambda fetched: self._states.fetched(image, fetched))
        except NotFound as error:
            if digest is None:
                raise
            raise NotFound(
                f"{image}: {digest}, as the catalog recorded it, cannot be pulled: {error}"
            ) from None
        now = self.runtime.held(image)
        if not self._as_recorded(image, now):
            raise StartpointsError(f"{image}: pulled, yet not present as {digest or 'tagged'}")
        assert now is not None
        if digest is not None and self.look is not None:
            try:
                there, _ = self.look(image)
            except StartpointsError as error:
                log.warning("%s: the registry's digest not read: %s", image, error)
            else:
                if there and there != digest:
                    self._moved(image, digest, f"registry has {there}")
        return now

    def _moved(self, image: str, digest: str, found: str) -> None:
        message = f"tag moved: {image} expected {digest} {found}"
        self._states.set(image, moved=message)
        log.warning("%s; the node keeps the catalog's", message)

    def _keep(self, image: str, held: Held | None) -> None:
        """Pin `image` against the node's image GC, where the runtime has one and this is
        the newest catalog (an older one's puller leaves pins to the newest)."""
        if held is None or held.pinned is None:
            return
        pinned = held.pinned
        if not pinned and self._newest:
            self.runtime.pin(image, True)
            pinned = True
        self._states.set(image, pinned=pinned)

    def _wait_for(self, registry: str, image: str) -> bool:
        """Wait while `registry` is held (False at once for a one-shot pull, which fails
        the image naming the hold). No request reaches a held registry."""
        waited = False
        while not self._stop.is_set():
            until = self.gate.until(registry)
            left = until - time.time()
            if left <= 0:
                if waited:
                    self.gate.reopened(registry, image)
                    if self.gate.until(registry) > time.time():
                        continue  # read again: still nothing left
                return True
            waited = True
            message = f"{image}: {self.gate.why(registry)} until ~{when(until)}"
            self._states.set(
                image, state="failed" if self.attempts is not None else "waiting", error=message
            )
            self._error(message)
            if self.attempts is not None:
                return False
            self._sleep(left)
        return False
