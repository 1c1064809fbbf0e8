"""The one background pull: every language image of a catalog onto this node, once.

`poke()` (each /ready) starts it; any number of overlapping probes share it. `ready()` only
reads state, so it answers at once whatever the pull is doing. Images already present are
skipped without registry traffic; a failed pull is retried with capped exponential backoff
until it succeeds, so a registry outage heals without a restart. When every image is present
a marker file is written (by atomic rename), keyed by the catalog's identity and image list.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from startpoints.core import failure
from startpoints.errors import NotFound, StartpointsError
from startpoints.oci.runtime import Runtime
from startpoints.prepull import plan
from startpoints.prepull.budget import Budget
from startpoints.prepull.gate import Gate, Quota, registry_of, when
from startpoints.prepull.state import States
from startpoints.prepull.threads import on_daemon_threads

log = logging.getLogger("startpoints.pull")


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2 ** max(0, attempt - 1)))


class Puller:
    def __init__(
        self,
        images: Sequence[str],
        runtime: Runtime,
        *,
        identity: str,
        marker: Path | None = None,
        jobs: int = 8,
        backoff: Backoff | None = None,
        recheck: float | None = None,
        attempts: int | None = None,
        sleep: Callable[[float], None] | None = None,
        sizes: Mapping[str, int] | None = None,
        first: Sequence[str] = (),
        rate_limit_wait: float = 900.0,
        evict: bool = False,
        budget: Budget | None = None,
        quota: Quota | None = None,
    ) -> None:
        """`attempts`: per image per run (None: until it succeeds, as a server wants).
        `sizes`: compressed bytes per image (the catalog's); `first`: images to pull before
        the rest. `rate_limit_wait`, `quota`: the registry gate (prepull/gate.py). `evict`:
        remove superseded images once every image is present (prepull/superseded.py);
        without it they are only listed. `budget`: pull only what fits below the image
        filesystem's GC threshold (prepull/budget.py); the rest is reported, not pulled."""
        self.sizes = dict(sizes or {})
        self.images = plan.order(images, self.sizes, first)
        self.runtime = runtime
        self.identity = identity
        self.marker = marker
        self.jobs = max(1, jobs)
        self.backoff = backoff or Backoff()
        self.recheck = recheck
        self.attempts = attempts
        self.evict = evict
        self.budget = budget
        self.gate = Gate(wait=rate_limit_wait, quota=quota)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._states = States(self.images, self.sizes)
        self._lock = self._states.lock
        self._superseded: list[dict[str, Any]] | None = None  # None: not reviewed yet
        self._started = False
        self._warm = False  # latched: every image was present once
        self._last_error: str | None = None
        self._pulls = 0
        self.marker_matched = False
        self.on_done: Callable[[str, str | None], None] = lambda _image, _error: None

    # --- read by probes: cheap, never blocks on the pull ---------------------------------

    def ready(self) -> tuple[bool, dict[str, Any]]:
        limits = self.gate.limits()
        with self._lock:
            if self._warm:
                return True, {}
            done, images = self._states.counts()
            return False, {
                "done": done,
                "total": len(self.images),
                **self._states.bytes(),
                **limits,
                "images": images,
                "last_error": self._last_error,
            }

    def progress(self) -> dict[str, Any]:
        """Bytes done and to do over every image, an ETA from this run's rate, and the
        registries that rate-limit this node and until when."""
        limits = self.gate.limits()
        with self._lock:
            return {**self._states.bytes(), **limits}

    def superseded(self) -> dict[str, Any]:
        """What this node holds of the catalog's repositories under tags it no longer names:
        each with its bytes and what became of it; `bytes`, what removing them frees (or
        freed). Listed once every image is present: empty until then."""
        with self._lock:
            if self._superseded is None:
                return {}
            images = [dict(entry) for entry in self._superseded]
        freeing = sum(e["bytes"] for e in images if e["state"] in ("would remove", "removed"))
        return {"images": images, "bytes": freeing}

    def states(self) -> dict[str, dict[str, Any]]:
        return self._states.as_json()

    @property
    def pulls_started(self) -> int:
        return self._pulls

    def poke(self) -> None:
        """Start the background pull unless it has started; safe under any concurrency."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="startpoints-pull", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    # --- the one background pull ------------------------------------------------------------

    def run_once(self) -> bool:
        """Check every image, pull the missing ones (retrying each until it succeeds or the
        puller stops); True when every image is present."""
        self.marker_matched = self._marker_matches()
        self._states.new_run()
        self.gate.read_quotas(self.images)
        over = self._over_budget() if self.budget else []
        todo = [image for image in self.images if image not in over]
        results = on_daemon_threads(self._ensure, todo, self.jobs)
        if all(results) and not over:
            self._write_marker()
            with self._lock:
                self._warm = True
            self._review_superseded()
            return True
        return False

    def _over_budget(self) -> list[str]:
        """The missing images that do not fit below the threshold, each marked so (with
        `evict`, superseded images are removed first to make room)."""
        assert self.budget is not None
        missing = [image for image in self.images if not self._present(image)]
        fits, over, needed, room = self.budget.split(missing, self.sizes)
        if over and self.evict:
            self._review_superseded()
            fits, over, needed, room = self.budget.split(missing, self.sizes)
        if over:
            from startpoints.core.words import count, size

            why = (
                f"does not fit: {size(needed)} needed, {size(room)} free below "
                f"{self.budget.high:g}% of {self.budget.path}"
            )
            for image in over:
                self._states.set(image, state="no room", error=f"{image}: {why}")
            with self._lock:
                self._last_error = f"{count(len(over), 'image')} {why}"
            log.warning("%s %s", count(len(over), "image"), why)
        return over

    def _present(self, image: str) -> bool:
        try:
            return self.runtime.present(image)
        except StartpointsError:
            return False  # asked again, and reported, when it is pulled

    def _review_superseded(self) -> None:
        """List (and with `evict`, remove) the superseded images; never one in use."""
        from startpoints.errors import InUse
        from startpoints.prepull import superseded

        try:
            found = superseded.superseded(self.images, self.runtime.local())
        except Exception as error:  # noqa: BLE001 - a listing failure never fails the pull
            log.warning("superseded images not listed: %s", error)
            return
        entries = []
        for image in found:
            state = "in use" if image.in_use else "removed" if self.evict else "would remove"
            if state == "removed":
                try:
                    self.runtime.remove(image)
                except InUse:
                    state = "in use"
                except StartpointsError as error:
                    state = f"not removed: {error}"
                else:
                    log.warning(
                        "removed superseded %s (%d bytes)", ", ".join(image.tags), image.size
                    )
            entries.append({"image": ", ".join(image.tags), "bytes": image.size, "state": state})
        with self._lock:
            self._superseded = entries

    def _run(self) -> None:
        try:
            self.run_once()
            while self.recheck and not self._stop.is_set():
                self._sleep(self.recheck)
                if not self._stop.is_set():
                    self.run_once()
        except Exception:  # a pull failure never ends the process
            log.exception("pre-pull stopped")

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
                if not self.runtime.present(image):
                    if not self.gate.take(registry):
                        attempt -= 1  # not a try: the quota is spent, the registry held
                        continue
                    self._states.set(image, state="pulling", attempts=attempt)
                    with self._lock:
                        self._pulls += 1
                    self.runtime.pull(image, lambda fetched: self._states.fetched(image, fetched))
                    if not self.runtime.present(image):
                        raise StartpointsError(f"{image}: pulled, yet not present")
                self._states.fetched(image, self._states.get(image).size or 0)
                self._states.set(
                    image, state="present", error=None, seconds=round(time.monotonic() - started, 3)
                )
                self.on_done(image, None)
                return True
            except Exception as error:  # noqa: BLE001 - any failure is retried, and reported
                message = str(error) if isinstance(error, StartpointsError) else f"{image}: {error}"
                self._states.set(image, state="failed", error=message)
                with self._lock:
                    self._last_error = message
                if isinstance(error, NotFound) and self.attempts is not None:
                    break  # an answer, not a failure to get one: a one-shot pull stops here
                if failure.kind(message) == "rate_limited":
                    self.gate.hold(registry)
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

    def _wait_for(self, registry: str, image: str) -> bool:
        """Wait while `registry` is held (False at once for a one-shot pull, which fails
        the image naming the hold). No request reaches a held registry."""
        waited = False
        while not self._stop.is_set():
            until = self.gate.until(registry)
            left = until - time.time()
            if left <= 0:
                if waited:
                    self.gate.reopened(registry)
                return True
            waited = True
            message = f"{image}: rate limited by {registry} until ~{when(until)}"
            self._states.set(
                image, state="failed" if self.attempts is not None else "waiting", error=message
            )
            with self._lock:
                self._last_error = message
            if self.attempts is not None:
                return False
            self._sleep(left)
        return False

    # --- the marker -----------------------------------------------------------------------------

    def _key(self) -> dict[str, Any]:
        return {"identity": self.identity, "images": self.images}

    def _marker_matches(self) -> bool:
        if self.marker is None:
            return False
        try:
            return bool(json.loads(self.marker.read_text()) == self._key())
        except (OSError, ValueError):
            return False

    def _write_marker(self) -> None:
        if self.marker is None or self._marker_matches():
            return
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.marker.parent, prefix=f".{self.marker.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(self._key(), out)
        os.replace(tmp, self.marker)
