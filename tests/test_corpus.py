"""Every real cyber-dojo manifest in shared/corpus passes, with its files stubbed at their sizes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from startpoints.core.lint import lint
from startpoints.core.manifest import Kind
from tests.conftest import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared/corpus is not beside the repo")


def stub(kind: str, target: Path) -> int:
    """Copy each manifest of `kind` with stand-in files (sizes from files.tsv when listed)."""
    count = 0
    for path in sorted((CORPUS / kind).rglob("manifest.json")):
        folder = target / path.parent.relative_to(CORPUS / kind)
        folder.mkdir(parents=True)
        shutil.copy(path, folder)
        data = json.loads(path.read_text())
        sizes = {name: 1 for name in data.get("visible_filenames", [])}
        if data.get("rag_lambda"):
            sizes[data["rag_lambda"]] = 1
        listing = path.parent / "files.tsv"
        if listing.exists():
            for line in listing.read_text().splitlines():
                name, size = line.split("\t")
                sizes[name] = int(size)
        for name, size in sizes.items():
            if name != "manifest.json":
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(b"x" * size)
        count += 1
    return count


@pytest.mark.parametrize(
    ("kind", "expected"), [("languages", 83), ("custom", 22), ("exercises", 61)]
)
def test_corpus_passes(tmp_path: Path, kind: Kind, expected: int) -> None:
    assert stub(kind, tmp_path) == expected
    report = lint([tmp_path], kind)
    assert len(report.entries) == expected
    assert [str(p) for p in report.problems] == []
