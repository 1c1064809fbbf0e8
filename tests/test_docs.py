"""The operator's runbook holds what it promises, in words an operator knows."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from startpoints.core import served
from startpoints.http import app
from tests.conftest import EXAMPLES, ROOT

RUNBOOK = ROOT / "docs" / "operations.md"


def test_the_runbook_uses_no_words_from_inside_this_projects_history() -> None:
    text = RUNBOOK.read_text().lower()
    for word in ["incumbent", "the seed", "issue #", "shared/seed"]:
        assert word not in text, word


def test_the_runbook_covers_moving_rolling_back_answers_and_metrics() -> None:
    text = RUNBOOK.read_text()
    for heading in ["## Moving the existing languages list", "## Deploying, and rolling back",
                    "## What the service answers", "## The three kinds of image"]:  # fmt: skip
        assert heading in text
    assert "examples/start-points.txt" in text and "sha7@https://github.com/" in text
    for route in ["/start_points", "/status", "/ready"]:
        assert f"`GET {route}`" in text


def test_every_metric_the_runbook_names_is_served_and_every_served_one_is_named(
    tmp_path: Path,
) -> None:
    metrics = TestClient(app.build(served.load(EXAMPLES / "bash-bats"), sha=None)).get("/metrics")
    served_names = set(re.findall(r"^# TYPE (\w+) ", metrics.text, re.MULTILINE))
    named = set(re.findall(r"`(startpoints_\w+)`", RUNBOOK.read_text()))
    assert named == served_names
