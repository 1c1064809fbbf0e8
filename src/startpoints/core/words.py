"""Counts in messages that read right: "1 start point", "2 start points"."""

from __future__ import annotations


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
