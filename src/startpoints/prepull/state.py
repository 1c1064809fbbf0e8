"""Per-image pull state and progress in bytes, read by probes while the pull writes it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class ImageState:
    state: str = "waiting"  # waiting | checking | pulling | present | failed | no room
    attempts: int = 0
    error: str | None = None
    seconds: float | None = None
    size: int | None = None  # compressed bytes, as the catalog records them
    fetched: int = 0  # bytes this node has of it (all of them once present)
    digest: str | None = None  # what the catalog recorded: what this node must hold
    moved: str | None = None  # "tag moved: …" when the tag names other content than that
    pinned: bool | None = None  # kept from the image GC (None: the runtime has none)


class States:
    """Every image's state, behind one lock: the pull writes, probes read, neither waits long."""

    def __init__(
        self, images: Sequence[str], sizes: Mapping[str, int], digests: Mapping[str, str]
    ) -> None:
        self.lock = threading.Lock()
        self._states = {
            image: ImageState(size=sizes.get(image), digest=digests.get(image)) for image in images
        }
        self._run_started = time.monotonic()
        self._run_fetched = 0  # bytes pulled in this run, for the ETA

    def new_run(self) -> None:
        with self.lock:
            self._run_started, self._run_fetched = time.monotonic(), 0

    def set(self, image: str, **changes: Any) -> None:
        with self.lock:
            for key, value in changes.items():
                setattr(self._states[image], key, value)

    def get(self, image: str) -> ImageState:
        return self._states[image]

    def fetched(self, image: str, fetched: int) -> None:
        """`image` has `fetched` bytes now; only what a pull adds counts toward the rate."""
        with self.lock:
            state = self._states[image]
            grown = max(0, fetched - state.fetched)
            if state.state == "pulling":
                self._run_fetched += grown
            state.fetched = max(state.fetched, fetched)

    def as_json(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {image: dict(vars(s)) for image, s in self._states.items()}

    def moves(self) -> dict[str, str]:
        """Each image whose tag was found moved, and what was found."""
        with self.lock:
            return {image: s.moved for image, s in self._states.items() if s.moved}

    def counts(self) -> tuple[int, dict[str, str]]:
        """Under the lock: how many are present, and each image's state."""
        done = sum(s.state == "present" for s in self._states.values())
        return done, {image: s.state for image, s in self._states.items()}

    def bytes(self) -> dict[str, Any]:
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
