"""The kind of a pull failure, read from the message a runtime gives (no runtime says it
otherwise): what the puller's backoff and /metrics go by."""

from __future__ import annotations

import re

KINDS = ("unreachable", "not_found", "rate_limited", "other")

# Docker Hub answers 429 with the error code TOOMANYREQUESTS; containerd says
# "unexpected status ... 429 Too Many Requests", podman and Docker "toomanyrequests: ...".
_RATE_LIMITED = re.compile(r"toomanyrequests|too many requests|rate limit|\b429\b", re.I)
_UNREACHABLE = re.compile(r"unreachable|connection refused|no such host|i/o timeout", re.I)
_NOT_FOUND = re.compile(r"not found|manifest unknown|name unknown|does not exist", re.I)


def kind(message: str) -> str:
    if _RATE_LIMITED.search(message):
        return "rate_limited"
    if _UNREACHABLE.search(message):
        return "unreachable"
    if _NOT_FOUND.search(message):
        return "not_found"
    return "other"
