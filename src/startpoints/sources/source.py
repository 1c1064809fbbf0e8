"""The interface every source offers. Each source imports it; it imports no source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from startpoints.core.provenance import Provenance
from startpoints.errors import StartpointsError
from startpoints.oci.stores import Stores

Say = Callable[[str], None]


class BadSource(StartpointsError):
    """A source's text names nothing usable (an untagged or :latest image, a bad reference)."""


class Source(Protocol):
    @property
    def text(self) -> str:
        """The source exactly as given."""
        ...

    def fetch(self, into: Path, stores: Stores, say: Say) -> Provenance:
        """Write the source's tree into the empty folder `into`."""
        ...
