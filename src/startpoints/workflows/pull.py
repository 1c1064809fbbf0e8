"""Pre-pull: put every language image of a catalog onto this node, once, in the background.

`poke()` (each /ready) starts the one pull; any number of overlapping probes share it.
Images are pulled smallest first (sizes from the catalog), so the most start points become
usable soonest; a priority list goes before. Progress is kept in bytes: the Docker Engine
API's stream gives each layer's bytes as they arrive, the CRI only each image's completion.
A registry that answers "too many requests" is left alone as a whole, not per image, for a
long window with jitter: Docker Hub counts each manifest GET, and every retry would spend
the quota of every node behind the same address.
`ready()` only reads state, so it answers at once whatever the pull is doing. Images
already present are skipped without registry traffic; a failed pull is retried with
capped exponential backoff until it succeeds, so a registry outage heals without a
restart. When every image is present a marker file is written (by atomic rename), keyed
by the catalog's identity and image list: a restart with a matching marker is ready
after a presence check only.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from startpoints.core import failure
from startpoints.errors import NotFound, StartpointsError
from startpoints.workflows.disk import Budget
from startpoints.workflows.evict import Local

log = logging.getLogger("startpoints.pull")


Progress = Callable[[int], None]  # bytes of an image fetched so far


class Backend(Protocol):
    """Where images are pulled to: a Docker Engine API, or a node's CRI ImageService."""

    def present(self, image: str) -> bool: ...

    def local(self) -> list[Local]:
        """Every image on the node, with whether a container uses it."""
        ...

    def remove(self, image: Local) -> None:
        """Remove it; InUse when a container uses it."""
        ...

    def pull(self, image: str, progress: Progress) -> None:
        """Pull `image`, calling `progress` as its bytes arrive where the runtime says."""
        ...


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2 ** max(0, attempt - 1)))


@dataclass
class ImageState:
    state: str = "waiting"  # waiting | checking | pulling | present | failed | no room
    attempts: int = 0
    error: str | None = None
    seconds: float | None = None
    size: int | None = None  # compressed bytes, as the catalog records them
    fetched: int = 0  # bytes this node has of it (all of them once present)


def order(images: Sequence[str], sizes: Mapping[str, int], first: Sequence[str] = ()) -> list[str]:
    """The order to pull in: `first` as given, then smallest first, unknown sizes last, ties
    by name. Smallest first makes the most start points usable soonest (bench/prepull.py)."""
    unique = sorted(set(images))
    ahead = [image for image in dict.fromkeys(first) if image in unique]
    rest = sorted(
        (image for image in unique if image not in ahead),
        key=lambda image: (image not in sizes, sizes.get(image, 0), image),
    )
    return ahead + rest


class Puller:
    def __init__(
        self,
        images: Sequence[str],
        backend: Backend,
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
        quota: Callable[[str], int | None] | None = None,
    ) -> None:
        """`attempts`: per image per run (None: until it succeeds, as a server wants).
        `sizes`: compressed bytes per image (the catalog's); `first`: images to pull before
        the rest. `rate_limit_wait`: how long a rate-limited registry is left alone (±20%).
        `evict`: remove superseded images once every image is present (workflows/evict.py);
        without it they are only listed. `budget`: pull only what fits below the image
        filesystem's GC threshold (workflows/disk.py); the rest is reported, not pulled.
        `quota(image)`: the pulls its registry still allows this node (a free HEAD), asked
        once per registry per run; no more pulls than that are started, then the registry
        is held as if it had refused."""
        self.quota = quota
        self._allowed: dict[str, int] = {}  # registry → pulls it may still take this run
        self.evict = evict
        self.budget = budget
        self._superseded: list[dict[str, Any]] | None = None  # None: not reviewed yet
        self.sizes = dict(sizes or {})
        self.rate_limit_wait = rate_limit_wait
        self._held: dict[str, float] = {}  # registry → time.time() it may be asked again
        self.images = order(images, self.sizes, first)
        self.backend = backend
        self.identity = identity
        self.marker = marker
        self.jobs = max(1, jobs)
        self.backoff = backoff or Backoff()
        self.recheck = recheck
        self.attempts = attempts
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self._states = {image: ImageState(size=self.sizes.get(image)) for image in self.images}
        self._run_started = time.monotonic()
        self._run_fetched = 0  # bytes pulled in this run, for the ETA
        self._started = False
        self._warm = False  # latched: every image was present once
        self._last_error: str | None = None
        self._pulls = 0
        self.marker_matched = False
        self.on_done: Callable[[str, str | None], None] = lambda _image, _error: None

    # --- read by probes: cheap, never blocks on the pull ---------------------------------

    def ready(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            if self._warm:
                return True, {}
            done = sum(s.state == "present" for s in self._states.values())
            return False, {
                "done": done,
                "total": len(self.images),
                **self._bytes(),
                **self._limits(),
                "images": {image: s.state for image, s in self._states.items()},
                "last_error": self._last_error,
            }

    def progress(self) -> dict[str, Any]:
        """Bytes done and to do over every image, an ETA from this run's rate, and the
        registries that rate-limit this node and until when."""
        with self._lock:
            return {**self._bytes(), **self._limits()}

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

    def _limits(self) -> dict[str, Any]:
        """Under the lock: {"rate_limited": {registry: "until ~T"}} while any is held."""
        now = time.time()
        held = {r: _when(until) for r, until in sorted(self._held.items()) if until > now}
        return {"rate_limited": held} if held else {}

    def _bytes(self) -> dict[str, Any]:
        """Under the lock. Totals count only images whose size is known; `sized` says how
        many those are."""
        sized = [s for s in self._states.values() if s.size is not None]
        total = sum(s.size or 0 for s in sized)
        done = sum(min(s.fetched, s.size or 0) for s in sized)
        elapsed = time.monotonic() - self._run_started
        rate = self._run_fetched / elapsed if elapsed > 0 else 0.0
        eta = round((total - done) / rate, 1) if rate > 0 and done < total else None
        return {
            "bytes_done": done,
            "bytes_total": total,
            "sized": len(sized),
            "eta_seconds": 0.0 if done >= total and sized else eta,
        }

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {image: dict(vars(s)) for image, s in self._states.items()}

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
        with self._lock:
            self._run_started, self._run_fetched = time.monotonic(), 0
        self._allowed = self._quotas() if self.quota else {}
        over = self._over_budget() if self.budget else []
        todo = [image for image in self.images if image not in over]
        results = _on_daemon_threads(self._ensure, todo, self.jobs)
        if all(results) and not over:
            self._write_marker()
            with self._lock:
                self._warm = True
            self._review_superseded()
            return True
        return False

    def _quotas(self) -> dict[str, int]:
        """Each registry's pulls left, by one HEAD of its first image; unknown ones unbounded."""
        assert self.quota is not None
        allowed: dict[str, int] = {}
        asked: set[str] = set()
        for image in self.images:
            registry = _registry(image)
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
        return allowed

    def _take_pull(self, registry: str) -> bool:
        """One pull from `registry` within its quota; False (and the registry held) when none
        is left."""
        with self._lock:
            left = self._allowed.get(registry)
            if left is None:
                return True
            if left > 0:
                self._allowed[registry] = left - 1
                return True
        self._hold(registry)
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
                self._set(image, state="no room", error=f"{image}: {why}")
            with self._lock:
                self._last_error = f"{count(len(over), 'image')} {why}"
            log.warning("%s %s", count(len(over), "image"), why)
        return over

    def _present(self, image: str) -> bool:
        try:
            return self.backend.present(image)
        except StartpointsError:
            return False  # asked again, and reported, when it is pulled

    def _review_superseded(self) -> None:
        """List (and with `evict`, remove) the superseded images; never one in use."""
        from startpoints.errors import InUse
        from startpoints.workflows import evict

        try:
            found = evict.superseded(self.images, self.backend.local())
        except Exception as error:  # noqa: BLE001 - a listing failure never fails the pull
            log.warning("superseded images not listed: %s", error)
            return
        entries = []
        for image in found:
            state = "in use" if image.in_use else "removed" if self.evict else "would remove"
            if state == "removed":
                try:
                    self.backend.remove(image)
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
        registry = _registry(image)
        while not self._stop.is_set() and (self.attempts is None or attempt < self.attempts):
            if not self._wait_for(registry, image):
                break  # a one-shot pull does not wait out a rate limit: it says so
            attempt += 1
            started = time.monotonic()
            try:
                self._set(image, state="checking")
                if not self.backend.present(image):
                    if not self._take_pull(registry):
                        attempt -= 1  # not a try: the quota is spent, the registry held
                        continue
                    self._set(image, state="pulling", attempts=attempt)
                    with self._lock:
                        self._pulls += 1
                    self.backend.pull(image, lambda fetched: self._fetched(image, fetched))
                    if not self.backend.present(image):
                        raise StartpointsError(f"{image}: pulled, yet not present")
                self._fetched(image, self._states[image].size or 0)
                self._set(
                    image, state="present", error=None, seconds=round(time.monotonic() - started, 3)
                )
                self.on_done(image, None)
                return True
            except Exception as error:  # noqa: BLE001 - any failure is retried, and reported
                message = str(error) if isinstance(error, StartpointsError) else f"{image}: {error}"
                self._set(image, state="failed", error=message)
                with self._lock:
                    self._last_error = message
                if isinstance(error, NotFound) and self.attempts is not None:
                    break  # an answer, not a failure to get one: a one-shot pull stops here
                if failure.kind(message) == "rate_limited":
                    self._hold(registry)
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
        self.on_done(image, self._states[image].error)
        return False

    def _hold(self, registry: str) -> None:
        """Leave `registry` alone for the window, with jitter so nodes do not return at once."""
        until = time.time() + self.rate_limit_wait * random.uniform(0.8, 1.2)
        with self._lock:
            self._held[registry] = max(self._held.get(registry, 0.0), until)
        log.warning("rate limited by %s: no pull from it until ~%s", registry, _when(until))

    def _wait_for(self, registry: str, image: str) -> bool:
        """Wait while `registry` is held (False at once for a one-shot pull, which fails
        the image naming the hold). No request reaches a held registry."""
        waited = False
        while not self._stop.is_set():
            with self._lock:
                until = self._held.get(registry, 0.0)
                left = until - time.time()
                if left <= 0:
                    if waited:  # a new window: its quota is unknown again, as before any HEAD
                        self._allowed.pop(registry, None)
                    return True
            waited = True
            message = f"{image}: rate limited by {registry} until ~{_when(until)}"
            self._set(
                image, state="failed" if self.attempts is not None else "waiting", error=message
            )
            with self._lock:
                self._last_error = message
            if self.attempts is not None:
                return False
            self._sleep(left)
        return False

    def _fetched(self, image: str, fetched: int) -> None:
        """`image` has `fetched` bytes now; only what a pull adds counts toward the rate."""
        with self._lock:
            state = self._states[image]
            grown = max(0, fetched - state.fetched)
            if state.state == "pulling":
                self._run_fetched += grown
            state.fetched = max(state.fetched, fetched)

    def _set(self, image: str, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._states[image], key, value)

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


def _registry(image: str) -> str:
    from startpoints.core.reference import parse
    from startpoints.errors import BadReference

    try:
        return parse(image).domain
    except BadReference:
        return image.split("/", 1)[0]


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _on_daemon_threads(work: Callable[[str], bool], items: Sequence[str], jobs: int) -> list[bool]:
    """`work` over `items` on at most `jobs` daemon threads. Not a ThreadPoolExecutor: Python
    joins its workers at exit, so a pull hanging in the runtime, or one sleeping before a
    retry, would hold a stopping process past its grace period. Daemon threads end with it."""
    pending = iter(enumerate(items))
    taking = threading.Lock()
    results: list[bool] = [False] * len(items)

    def worker() -> None:
        while True:
            with taking:
                index, item = next(pending, (-1, ""))
            if index < 0:
                return
            results[index] = work(item)

    threads = [
        threading.Thread(target=worker, name="startpoints-pull", daemon=True)
        for _ in range(min(jobs, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # interruptible: a signal's handler runs in the waiting main thread
    return results


class EngineBackend:
    """Pulls through a Docker Engine API (docker, podman), as on a commander-started server."""

    def __init__(self, endpoint: str | None, docker_config: Path | None) -> None:
        from startpoints.oci.engine import Engine

        self.engine = Engine(endpoint)
        self.docker_config = docker_config

    def present(self, image: str) -> bool:
        return self.engine.image_id(image) is not None

    def local(self) -> list[Local]:
        used = self.engine.in_use()
        return [Local(i, tuple(tags), size, i in used) for i, tags, size in self.engine.listed()]

    def remove(self, image: Local) -> None:
        for tag in image.tags:  # the engine untags; the image goes with its last tag
            self.engine.remove(tag)

    def pull(self, image: str, progress: Progress) -> None:
        found = _credentials(image, self.docker_config)
        auth = {"username": found[0], "password": found[1]} if found else None
        self.engine.pull(image, auth, progress)


class CriBackend:
    """Pulls through a node's CRI ImageService (containerd, CRI-O), as kubelet does."""

    def __init__(self, endpoint: str, docker_config: Path | None) -> None:
        from startpoints.oci.cri import Cri

        self.cri = Cri(endpoint)
        self.docker_config = docker_config

    def present(self, image: str) -> bool:
        return self.cri.present(image)

    def local(self) -> list[Local]:
        used = self.cri.in_use()
        return [
            Local(i, tuple(tags), size, i in used or bool(used.intersection(tags)))
            for i, tags, size in self.cri.listed()
        ]

    def remove(self, image: Local) -> None:
        # the CRI's containers are not checked by RemoveImage: asked again, just before
        used = self.cri.in_use()
        if image.id in used or used.intersection(image.tags):
            from startpoints.errors import InUse

            raise InUse(f"{image.id}: in use")
        self.cri.remove(image.id)

    def pull(self, image: str, progress: Progress) -> None:
        # the CRI's PullImage is one call that answers when done: no bytes on the way
        self.cri.pull(image, _credentials(image, self.docker_config))


DEFAULT_ENDPOINTS = {"cri": "unix:///run/containerd/containerd.sock", "docker": None}


def backend(kind: str, endpoint: str | None, docker_config: Path | None) -> Backend:
    if kind == "docker":
        return EngineBackend(endpoint, docker_config)
    if kind == "cri":
        return CriBackend(endpoint or str(DEFAULT_ENDPOINTS["cri"]), docker_config)
    raise StartpointsError(f"--pull {kind}: not docker, cri or none")


def _credentials(image: str, docker_config: Path | None) -> tuple[str, str] | None:
    from startpoints.core.reference import parse
    from startpoints.oci.registry import credentials

    return credentials(parse(image).domain, docker_config) if docker_config else None
