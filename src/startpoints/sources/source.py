"""The interface every source offers, and how a source's text picks which one it is."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from startpoints.core import reference
from startpoints.core.provenance import Provenance
from startpoints.errors import BadReference, StartpointsError
from startpoints.oci.stores import Stores

_GIT = re.compile(r"(?P<sha>[0-9a-f]{7})@(?P<url>.+)")
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


def parse(text: str) -> Source:
    from startpoints.sources.directory import DirSource
    from startpoints.sources.git import GitSource
    from startpoints.sources.image import ImageSource

    if Path(text).exists():
        return DirSource(text, Path(text))
    if match := _GIT.fullmatch(text):
        url = match["url"]
        return GitSource(text, match["sha"], url)
    try:
        ref = reference.parse(text)
    except BadReference as error:
        raise BadSource(
            f"{text}: not a folder, a sha7@git-url, or an image reference ({error})"
        ) from None
    if ref.tag is None and ref.digest is None:
        raise BadSource(f"{text}: an image source needs a tag or a digest (no implicit :latest)")
    if ref.tag == "latest" and ref.digest is None:
        raise BadSource(f"{text}: :latest moves; name the sha7 tag or a digest")
    return ImageSource(text, ref)
