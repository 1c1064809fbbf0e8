"""The order a node's images are pulled in.

Smallest first makes the most start points usable soonest, but leaves the largest images to
start last and finish alone: at cyber-dojo's real sizes (swift's image is 1 GiB compressed)
the node is warm when its slowest image is, one pull on one stream long after the others.
So one of the pull slots takes the images from the largest end while the rest take them from
the smallest: the largest start at once, beside the smallest, and the two ends meet. Not
where the runtime queues every pull's downloads in one queue of its own (dockerd: 3 layers at
once over all pulls): there a large pull started early holds one of those 3 and delays the
small ones (half the images present 7% later, measured; docs/benchmarks.md), and the queue
keeps the tail short already.

The pool takes images in list order as slots free up, so the order is the one in which
`jobs` slots would start them, simulated with each pull lasting its size plus a fixed cost
per image (bench/prepull_mix.py measures the outcome).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence

LARGE_SLOTS = 1  # of the pull slots, those that take the largest images first
PER_IMAGE = 4 << 20  # bytes a pull's fixed cost (resolve, config, unpack, commit) weighs


def order(
    images: Sequence[str],
    sizes: Mapping[str, int],
    first: Sequence[str] = (),
    jobs: int = 8,
    large_slots: int = LARGE_SLOTS,
) -> list[str]:
    """`first` as given; then the images of known size, `large_slots` of the `jobs` slots
    taking them largest first and the others smallest first (all smallest first with one
    slot, or none large); unknown sizes last; ties by name."""
    unique = sorted(set(images))
    ahead = [image for image in dict.fromkeys(first) if image in unique]
    sized = deque(
        sorted(
            (image for image in unique if image in sizes and image not in ahead),
            key=lambda image: (sizes[image], image),
        )
    )
    unknown = [image for image in unique if image not in sizes and image not in ahead]
    large = large_slots if jobs > large_slots else 0
    slots = [(0, slot) for slot in range(max(1, jobs))]  # (free at, slot); slot < large: large
    started: list[str] = []
    while sized:
        free_at, slot = heapq.heappop(slots)
        image = sized.pop() if slot < large else sized.popleft()
        started.append(image)
        heapq.heappush(slots, (free_at + sizes[image] + PER_IMAGE, slot))
    return ahead + started + unknown
