"""The kind of a pull failure, from each runtime's wording of it."""

from __future__ import annotations

import pytest

from startpoints.core import failure


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        # Docker Engine and podman relay the registry's error code
        ("toomanyrequests: You have reached your pull rate limit. You may increase the limit "
         "by authenticating and upgrading: https://www.docker.com/increase-rate-limit", "rate_limited"),
        # containerd's resolver
        ('failed to pull and unpack image "docker.io/library/x:1": failed to copy: '
         "httpReadSeeker: failed open: unexpected status code "
         "https://registry-1.docker.io/v2/library/x/manifests/1: 429 Too Many Requests",
         "rate_limited"),
        ("docker.io: unreachable (connection refused; 5 attempts)", "unreachable"),
        ("dial tcp: lookup ghcr.io: no such host", "unreachable"),
        ("manifest unknown: manifest unknown", "not_found"),
        ('failed to resolve reference "ghcr.io/x/y:1": ghcr.io/x/y:1: not found', "not_found"),
        ("pulled, yet not present", "other"),
        # a registry that wants credentials, or refuses the ones sent, as each runtime says it
        ('Head "http://127.0.0.1:1/v2/x/manifests/1": no basic auth credentials', "denied"),
        ("unauthorized: authentication required", "denied"),
        ("pull access denied for ghcr.io/x/y, repository does not exist or may require "
         "'docker login': denied: requested access to the resource is denied", "denied"),
        ("failed to resolve reference: pulling from host ghcr.io failed with status code "
         "[manifests 1]: 401 Unauthorized", "denied"),
        ("image 4290abc: layer size mismatch", "other"),  # 429 inside a word is not a status
    ],
)  # fmt: skip
def test_each_runtimes_wording_is_read_as_its_kind(message: str, kind: str) -> None:
    assert failure.kind(message) == kind
