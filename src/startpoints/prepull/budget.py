"""The disk budget: what may still be pulled onto the runtime's image filesystem without
crossing kubelet's image-GC high threshold (85% used, by default). Filling the disk past it
feeds kubelet's garbage collector a loop: it evicts images, the puller pulls them again.

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
HIGH = 85.0  # percent: kubelet's --image-gc-high-threshold default


@dataclass(frozen=True)
class Budget:
    path: Path
    high: float = HIGH  # percent of the filesystem that may be used
    expansion: float = EXPANSION

    def room(self) -> int:
        """Bytes that may still be written before `high` percent is used."""
        stat = os.statvfs(self.path)
        total = stat.f_blocks * stat.f_frsize
        used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
        return max(0, int(total * self.high / 100) - used)

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
