"""Start point sources: an image ref, a `sha7@git-url`, or a local folder; each yields a tree
holding one or more start points, plus where it came from. `parse` picks which a text names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from startpoints.sources.source import Source

_GIT = re.compile(r"(?P<sha>[0-9a-f]{7})@(?P<url>.+)")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://.+")  # https://, file:///, git://, ssh://
_PATH_LIKE = ("/", "~", ".")  # "." covers ./ and ../


def parse(text: str, *, folders_as_git: bool = False) -> Source:
    """The source `text` names. Each kind is imported only when named, so the CLI stays light.
    `folders_as_git`: a folder is a git repository to clone (its master, else main branch),
    as cyber-dojo's create script takes it; one that is not a repository fails to clone. So
    is any text that is not a sha7@url, a URL or an image reference with a tag or digest."""
    from startpoints.core import reference
    from startpoints.errors import BadReference
    from startpoints.sources.source import BadSource

    path = Path(text).expanduser()
    if path.exists() and folders_as_git:
        from startpoints.sources.git import GitSource

        return GitSource(text, None, path.resolve().as_uri())
    if path.exists():
        from startpoints.sources.directory import DirSource

        return DirSource(text, path)
    if text.startswith(_PATH_LIKE):
        raise BadSource(f"{text}: no such folder")
    if match := _GIT.fullmatch(text):
        from startpoints.sources.git import GitSource

        return GitSource(text, match["sha"], match["url"])
    if _URL.fullmatch(text):
        from startpoints.sources.git import GitSource

        return GitSource(text, None, text)
    try:
        ref = reference.parse(text)
    except BadReference as error:
        if folders_as_git:  # anything else is a git URL, cloned (or not) as the script clones it
            from startpoints.sources.git import GitSource

            return GitSource(text, None, text)
        raise BadSource(
            f"{text}: no such folder, and not a sha7@git-url or an image reference ({error})"
        ) from None
    if ref.tag is None and ref.digest is None and folders_as_git:
        from startpoints.sources.git import GitSource

        return GitSource(text, None, text)  # `b`: a git URL to cyber-dojo's script, not an image
    if ref.tag is None and ref.digest is None:
        raise BadSource(f"{text}: an image source needs a tag or a digest (no implicit :latest)")
    if ref.tag == "latest" and ref.digest is None:
        raise BadSource(f"{text}: :latest moves; name the sha7 tag or a digest")
    from startpoints.sources.image import ImageSource

    return ImageSource(text, ref)
