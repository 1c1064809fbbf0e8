"""The disk budget: what may still be pulled onto the runtime's image filesystem, counted as
the kubelet counts it, without leaving the kubelet's image GC work to do.

The kubelet reads used space as capacity less *available* space (`f_bavail`: ext4's root
reserve counts as used), starts collecting at 85% (`--image-gc-high-threshold`) and collects
down to 80% (`--image-gc-low-threshold`). Filling to the high threshold would leave the
next container's writes to cross it and the GC to delete what was just pulled: a
delete-and-re-pull loop. So images are pulled only up to LIMIT, the low threshold.

A compressed image costs more on disk than its size: the runtime keeps the compressed blobs
(containerd's content store) and the unpacked layers (its snapshots), and layers unpack to
about twice their gzip size for language images. EXPANSION, 3.0 bytes on disk per compressed
byte, is that sum; `--expansion` changes it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

EXPANSION = 3.0
LIMIT = 80.0  # percent: the kubelet's --image-gc-low-threshold default
HIGH = 85.0  # percent: its --image-gc-high-threshold default, never to be reached


@dataclass(frozen=True)
class Budget:
    path: Path
    limit: float = LIMIT  # percent of the filesystem that may be used, as the kubelet counts
    expansion: float = EXPANSION

    def room(self) -> int:
        """Bytes that may still be written before `limit` percent is used."""
        stat = os.statvfs(self.path)
        total = stat.f_blocks * stat.f_frsize
        used = (stat.f_blocks - stat.f_bavail) * stat.f_frsize
        return max(0, int(total * self.limit / 100) - used)

    def cost(self, size: int) -> int:
        return math.ceil(size * self.expansion)

    def split(
        self, missing: Sequence[str], sizes: Mapping[str, int]
    ) -> tuple[list[str], list[str], int, int]:
        """`missing` (in pull order) as (what fits, what does not, bytes the rest needs, room).
        Each image fits or not in turn, so a big one does not stop the small ones after it.
        An image of unknown size cannot be budgeted: it is let through."""
        room = self.room()
        left, fits, over, needed = room, [], [], 0
        for image in missing:
            cost = self.cost(sizes.get(image, 0))
            if cost <= left:
                fits.append(image)
                left -= cost
            else:
                over.append(image)
                needed += cost
        return fits, over, needed, room
