"""What a registry says of its rate limit (core/ratelimit.py)."""

from __future__ import annotations

import email.utils

from startpoints.core.ratelimit import Limit, read

NOW = 1_800_000_000.0


def test_docker_hubs_headers_give_the_pulls_left_and_the_window() -> None:
    limit = read({"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "76;w=21600"}, NOW)
    assert limit == Limit(remaining=76, window=21600.0)


def test_a_spent_quota_holds_for_the_window_not_the_default() -> None:
    spent = read({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}, NOW)
    assert spent.hold(default=900) == 21600
    assert read({"ratelimit-remaining": "5;w=21600"}, NOW).hold(default=900) == 900


def test_retry_after_in_seconds_or_as_a_date_comes_first() -> None:
    assert read({"Retry-After": "120", "ratelimit-remaining": "0;w=21600"}, NOW).hold(900) == 120
    date = email.utils.formatdate(NOW + 300, usegmt=True)
    assert read({"retry-after": date}, NOW).retry_after == 300


def test_nothing_said_or_nonsense_is_the_default() -> None:
    for headers in ({}, {"retry-after": "soon"}, {"ratelimit-remaining": "many;w=x"}):
        limit = read(headers, NOW)
        assert limit.hold(default=900) == 900 and not limit.said
