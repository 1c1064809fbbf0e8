"""The order a node's images are pulled in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def order(images: Sequence[str], sizes: Mapping[str, int], first: Sequence[str] = ()) -> list[str]:
    """`first` as given, then smallest first, unknown sizes last, ties by name. Smallest
    first makes the most start points usable soonest (bench/prepull.py)."""
    unique = sorted(set(images))
    ahead = [image for image in dict.fromkeys(first) if image in unique]
    rest = sorted(
        (image for image in unique if image not in ahead),
        key=lambda image: (image not in sizes, sizes.get(image, 0), image),
    )
    return ahead + rest
