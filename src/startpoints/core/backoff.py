"""Capped exponential backoff: the one policy for trying again, used by the registry client
(its attempts within one request's deadline) and by the pre-pull (an image's attempts across
runs). A registry's Retry-After, where it gives one, stands for the next delay."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first: float = 1.0  # the delay after the first failure
    cap: float = 60.0  # no delay is longer
    attempts: int = 5  # tries in all, where the caller bounds them

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """How long to wait after `failures` failures in a row (1 or more); the registry's
        Retry-After when it said one."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return float(min(self.cap, self.first * 2 ** max(0, failures - 1)))
