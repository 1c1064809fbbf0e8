"""What the service asks of a pre-pull: whether the node is warm, and its progress. The
Puller answers it; a service that pulls nothing is always ready."""

from __future__ import annotations

from typing import Any, Protocol


class Readiness(Protocol):
    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether every language image is present, and progress; must answer at once."""
        ...

    def poke(self) -> None:
        """Called on each /ready: starts the one background pull if it has not started."""
        ...

    def states(self) -> dict[str, dict[str, Any]]:
        """Per language image: its pull state on this node (empty when not pulling)."""
        ...

    def progress(self) -> dict[str, Any]:
        """Bytes done and in all, and an ETA (empty when not pulling)."""
        ...

    def superseded(self) -> dict[str, Any]:
        """Superseded images on this node and the bytes removing them frees (empty when not
        pulling)."""
        ...


class AlwaysReady:
    def ready(self) -> tuple[bool, dict[str, Any]]:
        return True, {}

    def poke(self) -> None:
        pass

    def states(self) -> dict[str, dict[str, Any]]:
        return {}

    def progress(self) -> dict[str, Any]:
        return {}

    def superseded(self) -> dict[str, Any]:
        return {}
