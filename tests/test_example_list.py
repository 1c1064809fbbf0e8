"""examples/start-points.txt, the runbook's example list: today's 83 `sha7@https://...` lines
are sources as they stand, each a git source of cyber-dojo-start-points."""

from __future__ import annotations

from startpoints import sources
from startpoints.sources.git import GitSource
from startpoints.workflows import assemble
from tests.conftest import CORPUS, ROOT


def test_the_example_list_is_todays_list_and_every_line_is_a_git_source() -> None:
    lines = (ROOT / "examples" / "start-points.txt").read_text().splitlines()
    texts = [t for t in (line.split("#", 1)[0].strip() for line in lines) if t]
    parsed = assemble.parse_sources(texts)  # refuses duplicates and bad lines, all at once
    assert all(isinstance(s, GitSource) for s in parsed) and len(parsed) == 83
    assert all(
        t.split("@", 1)[1].startswith("https://github.com/cyber-dojo-start-points/") for t in texts
    )
    if CORPUS.is_dir():
        listed = (CORPUS / "languages.tsv").read_text().splitlines()[1:]
        assert sorted(texts) == sorted(line.split("\t")[1] for line in listed)


def test_a_published_image_line_may_replace_a_git_line() -> None:
    assert not isinstance(
        sources.parse("ghcr.io/cyberdojostartpoints/bash_bats:9f53889"), GitSource
    )
