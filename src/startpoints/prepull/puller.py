"""The one background pull: every language image of a catalog onto this node, and kept there.

`poke()` (each /ready) starts it; any number of overlapping probes share it. `ready()` only
reads state, so it answers at once whatever the pull is doing.

An image is its tag and the digest the catalog recorded: the node must hold that digest
under that tag. What the runtime holds is compared with the record, so a warm node notices
a moved tag without asking any registry; a missing or moved image is pulled by digest and
given the tag back, and the move is named. A failed pull is retried with capped exponential
backoff until it succeeds, so a registry outage heals without a restart; any other error is
reported and the loop goes on.

When every image is present a marker naming the catalog and its digests is written (by
atomic rename): a restart whose marker matches is ready at once, and verifies in the
background. On the node's record (prepull/record.py) the newest catalog alone pins its
images and keeps superseded ones pinned for the grace period, then unpins them and, with
`evict`, removes them; and only once all of its own images are present.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from startpoints.core.backoff import Backoff
from startpoints.oci.runtime import Runtime
from startpoints.prepull import marker as marker_file
from startpoints.prepull import plan
from startpoints.prepull.budget import Budget
from startpoints.prepull.gate import Gate, Look
from startpoints.prepull.image_pull import ImagePull
from startpoints.prepull.record import NodeRecord
from startpoints.prepull.state import States
from startpoints.prepull.threads import on_daemon_threads

log = logging.getLogger("startpoints.pull")

# cyber-dojo's runner notes (docs/purge-stale-images.txt) keep an image used within a month:
# a kata keeps the image it was created with, so last month's katas still run on it
KEEP_SUPERSEDED = 30 * 24 * 3600.0


class Puller(ImagePull):
    def __init__(
        self,
        images: Sequence[str],
        runtime: Runtime,
        *,
        identity: str,
        digests: Mapping[str, str] | None = None,
        marker: Path | None = None,
        record: NodeRecord | None = None,
        jobs: int = 8,
        backoff: Backoff | None = None,
        recheck: float | None = None,
        attempts: int | None = None,
        sleep: Callable[[float], None] | None = None,
        sizes: Mapping[str, int] | None = None,
        first: Sequence[str] = (),
        rate_limit_wait: float = 900.0,
        look: Look | None = None,
        check_quota: bool = False,
        evict: bool = False,
        keep_superseded: float = KEEP_SUPERSEDED,
        budget: Budget | None = None,
    ) -> None:
        """`digests`: what the catalog recorded per image (pulled by it, tagged back).
        `attempts`: per image per run (None: until it succeeds, as a server wants).
        `sizes`: compressed bytes per image (the catalog's); `first`: images to pull before
        the rest. `rate_limit_wait`, `look`, `check_quota`: the registry gate (gate.py);
        `look` also names what a moved tag names in the registry now. `record`: the node's
        record, shared by every puller of this node. `evict`: remove superseded images
        `keep_superseded` seconds after they stopped being named (superseded.py); without
        it they are only listed. `budget`: pull only what fits (budget.py)."""
        self.sizes = dict(sizes or {})
        self.digests = {image: digest for image, digest in (digests or {}).items() if digest}
        self.images = plan.order(images, self.sizes, first)
        self.runtime = runtime
        self.identity = identity
        self.marker = marker
        self.record = record
        self.jobs = max(1, jobs)
        self.backoff = backoff or Backoff()
        self.recheck = recheck
        self.attempts = attempts
        self.evict = evict
        self.keep_superseded = keep_superseded
        self.budget = budget
        self.look = look
        self.gate = Gate(wait=rate_limit_wait, look=look, check_quota=check_quota)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._states = States(self.images, self.sizes, self.digests)
        self._lock = self._states.lock
        self._superseded: list[dict[str, Any]] | None = None  # None: not reviewed yet
        self._started = False
        self._newest = True  # whether this catalog is the node's newest, as last reviewed
        self._last_error: str | None = None
        self._pulls = 0
        self.marker_matched = self._marker_matches()
        self._warm = self.marker_matched  # latched: every image was present once
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
        """Bytes done and to do over every image, an ETA from this run's rate, the
        registries that rate-limit this node and until when, the tags found moved, and the
        last error of the loop."""
        limits = self.gate.limits()
        moved = self._states.moves()
        with self._lock:
            return {
                **self._states.bytes(),
                **limits,
                **({"moved": moved} if moved else {}),
                **({"last_error": self._last_error} if self._last_error else {}),
            }

    def superseded(self) -> dict[str, Any]:
        """What this node holds of the catalog's repositories under tags it no longer names:
        each with its bytes, since when it is superseded, when it goes, and what became of
        it; `bytes`, what removing them frees (or freed). Listed once every image is
        present: empty until then."""
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
        """Check every image, pull the missing and moved ones (retrying each until it
        succeeds or the puller stops); True when every image is present as recorded."""
        if self.record is not None:
            try:
                self._newest = self.record.seen(self.identity)
            except OSError as error:  # pulling goes on; without the record nothing is evicted
                self._error(
                    f"node record {self.record.path} not written: {error.strerror or error}"
                )
        self._states.new_run()
        self.gate.read_quotas(self.images)
        over = self._over_budget() if self.budget else []
        todo = [image for image in self.images if image not in over]
        results = on_daemon_threads(self._ensure, todo, self.jobs)
        complete = all(results) and not over
        if complete:
            self._write_marker()
            with self._lock:
                self._warm = True
            self._review_superseded()
        return complete

    def _run(self) -> None:
        """run_once, then again every `recheck` seconds; an unexpected error is reported
        (last_error, the log) and the loop goes on after a backoff."""
        failures = 0
        while not self._stop.is_set():
            try:
                self.run_once()
                failures = 0
            except Exception as error:  # noqa: BLE001 - the loop outlives any one error
                failures += 1
                self._error(f"pre-pull: {type(error).__name__}: {error}")
                log.exception("pre-pull run failed (%d in a row); going on", failures)
                self._sleep(self.backoff.delay(failures))
                continue
            if not self.recheck:
                return
            self._sleep(self.recheck)

    def _over_budget(self) -> list[str]:
        """The missing images that do not fit below the limit, each marked so. Nothing is
        evicted to make room: superseded images are unpinned, and the kubelet's GC frees
        them when it needs the room."""
        assert self.budget is not None
        missing = [image for image in self.images if not self._holds(image)]
        _, over, needed, room = self.budget.split(missing, self.sizes)
        if over:
            from startpoints.core.words import count, size

            why = (
                f"does not fit: {size(needed)} needed, {size(room)} free below "
                f"{self.budget.limit:g}% of {self.budget.path}"
            )
            for image in over:
                self._states.set(image, state="no room", error=f"{image}: {why}")
            self._error(f"{count(len(over), 'image')} {why}")
            log.warning("%s %s", count(len(over), "image"), why)
        return over

    def _review_superseded(self) -> None:
        """List the superseded images; if this is the node's newest catalog, unpin them and,
        with `evict`, remove those past the grace period; never one in use."""
        from startpoints.prepull import superseded

        try:
            found = superseded.superseded(self.images, self.runtime.local())
            tags = [tag for image in found for tag in image.tags]
            since = self.record.supersede(self.identity, tags) if self.record else {}
        except Exception as error:  # noqa: BLE001 - a listing failure never fails the pull
            self._error(f"superseded images not listed: {error}")
            return
        self._newest = since is not None
        entries = [
            superseded.settle(image, since, self.keep_superseded, self.evict, self.runtime)
            for image in found
        ]
        with self._lock:
            self._superseded = entries

    def _error(self, message: str) -> None:
        with self._lock:
            self._last_error = message

    # --- the marker (prepull/marker.py) ------------------------------------------------

    def _key(self) -> dict[str, Any]:
        return marker_file.key(self.identity, self.images, self.digests)

    def _marker_matches(self) -> bool:
        return marker_file.matches(self.marker, self._key())

    def _write_marker(self) -> None:
        """Written once warm; a marker that cannot be written is reported, never fatal."""
        if self.marker is None or self._marker_matches():
            return
        try:
            marker_file.write(self.marker, self._key())
        except OSError as error:
            self._error(f"marker {self.marker} not written: {error.strerror or error}")
            log.warning("marker %s not written: %s", self.marker, error)
