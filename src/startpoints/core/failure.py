"""The kind of a pull failure, read from the message a runtime gives (no runtime says it
otherwise): what the puller's backoff and /metrics go by."""

from __future__ import annotations

import re

KINDS = ("unreachable", "not_found", "rate_limited", "denied", "other")

# Docker Hub answers 429 with the error code TOOMANYREQUESTS; containerd says
# "unexpected status ... 429 Too Many Requests", podman and Docker "toomanyrequests: ...".
_RATE_LIMITED = re.compile(r"toomanyrequests|too many requests|rate limit|\b429\b", re.I)
# A registry that wants credentials, or refuses the ones sent: Docker says "no basic auth
# credentials", "unauthorized: authentication required" or "pull access denied … may require
# 'docker login'" (also what Docker Hub says of a repository that does not exist), containerd
# "401 Unauthorized" or "failed to authorize", GHCR "denied".
_DENIED = re.compile(
    r"\bdenied\b|unauthori[sz]ed|authentication required|no basic auth credentials|"
    r"failed to authorize|\b40[13]\b",
    re.I,
)
_UNREACHABLE = re.compile(r"unreachable|connection refused|no such host|i/o timeout", re.I)
_NOT_FOUND = re.compile(r"not found|manifest unknown|name unknown|does not exist", re.I)


def kind(message: str) -> str:
    if _RATE_LIMITED.search(message):
        return "rate_limited"
    if _DENIED.search(message):
        return "denied"
    if _UNREACHABLE.search(message):
        return "unreachable"
    if _NOT_FOUND.search(message):
        return "not_found"
    return "other"
