"""Counts and sizes in messages that read right: "1 start point", "2 start points", "1.5 GiB"."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def size(n: int) -> str:
    """Bytes in binary units, one decimal past KiB: "512 B", "1.5 MiB", "22.5 GiB"."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    """About how long: "40 s", "3 min", "2 h"."""
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{round(seconds / 3600)} h"
