"""What a registry says of its rate limit, read one way by the registry client and the puller.

Docker Hub counts a pull as a manifest GET, 100 (anonymous) or 200 (logged in) per rolling
six hours, and says so on every manifest answer, HEADs included (which it does not count):
`ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`. A 429 may carry
`Retry-After` (seconds, or an HTTP date). Waiting less than that, or than the window when
nothing remains, only spends the next refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    remaining: int | None = None  # pulls left in the window, where said
    window: float | None = None  # seconds the registry counts pulls over, where said
    retry_after: float | None = None  # seconds to wait, where a refusal said

    def hold(self, default: float) -> float:
        """How long to leave the registry alone after a refusal: what Retry-After says, else
        the advertised window (the quota is spent), else `default`."""
        if self.retry_after is not None:
            return self.retry_after
        if self.window is not None and not self.remaining:
            return self.window
        return default

    @property
    def said(self) -> bool:
        """Whether the registry said anything of a limit at all."""
        return any(v is not None for v in (self.remaining, self.window, self.retry_after))


def read(headers: Mapping[str, str], now: float) -> Limit:
    """The limit `headers` state (any case of their names); `now` dates an HTTP-date
    Retry-After."""
    lower = {key.lower(): value for key, value in headers.items()}
    remaining, window = _count(lower.get("ratelimit-remaining", ""))
    if window is None:
        window = _count(lower.get("ratelimit-limit", ""))[1]
    return Limit(remaining, window, _retry_after(lower.get("retry-after", ""), now))


def _count(value: str) -> tuple[int | None, float | None]:
    """`76;w=21600` as (76, 21600.0); what is not said, None."""
    parts = [part.strip() for part in value.split(";")]
    number = int(parts[0]) if parts and parts[0].isdigit() else None
    window = None
    for part in parts[1:]:
        key, _, seconds = part.partition("=")
        if key.strip() == "w" and seconds.strip().isdigit():
            window = float(seconds.strip())
    return number, window


def _retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    import email.utils  # here: ~10 ms at start, for an answer seldom given as a date

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)
