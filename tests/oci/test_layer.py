"""Reproducible layers: same tree → same bytes; unsafe trees are refused."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from startpoints.errors import UnsafeContent
from startpoints.oci import layer


def make_tree(root: Path, order: list[str], mtime: int, umask: int) -> Path:
    old = os.umask(umask)
    try:
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"content of {name}\n")
            os.utime(path, (mtime, mtime))
        (root / "run.sh").chmod(0o700)
    finally:
        os.umask(old)
    return root


def test_same_tree_gives_same_digest_whatever_order_time_and_umask(tmp_path: Path) -> None:
    names = ["run.sh", "b.txt", "a/z.txt", "a/y.txt"]
    one = make_tree(tmp_path / "one", names, 1_000, 0o022)
    two = make_tree(tmp_path / "two", list(reversed(names)), 2_000_000, 0o077)
    first, second = layer.from_dir(one, "start_point"), layer.from_dir(two, "start_point")
    assert first.data == second.data
    assert first.descriptor.digest == second.descriptor.digest
    (two / "b.txt").write_text("changed\n")
    assert layer.from_dir(two, "start_point").descriptor.digest != first.descriptor.digest


def test_entries_are_sorted_with_fixed_owner_time_and_modes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh", "b.txt", "a/z.txt"], 5, 0o022)
    packed = layer.from_dir(tree, "start_point")
    raw = gzip.decompress(packed.data)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "start_point",
        "start_point/a",
        "start_point/a/z.txt",
        "start_point/b.txt",
        "start_point/run.sh",
    ]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    assert {m.name: oct(m.mode) for m in members if m.isfile()} == {
        "start_point/a/z.txt": "0o644",
        "start_point/b.txt": "0o644",
        "start_point/run.sh": "0o755",
    }
    assert packed.diff_id.startswith("sha256:")


def test_gzip_header_holds_no_name_and_no_time(tmp_path: Path) -> None:
    data = layer.from_dir(make_tree(tmp_path / "t", ["run.sh"], 5, 0o022), "x").data
    assert data[:2] == b"\x1f\x8b"
    assert data[3] == 0  # FLG: no FNAME
    assert data[4:8] == b"\x00\x00\x00\x00"  # MTIME


def test_replace_swaps_file_content(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh", "manifest.json"], 5, 0o022)
    packed = layer.from_dir(tree, "sp", replace={"manifest.json": b"{}"})
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(packed.data))) as tar:
        assert tar.extractfile("sp/manifest.json").read() == b"{}"  # type: ignore[union-attr]


def test_links_inside_the_tree_are_kept(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh", "a/real.txt"], 5, 0o022)
    (tree / "a" / "alias.txt").symlink_to("real.txt")
    (tree / "up.txt").symlink_to("a/real.txt")
    packed = layer.from_dir(tree, "sp")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(packed.data))) as tar:
        links = {m.name: m.linkname for m in tar.getmembers() if m.issym()}
    assert links == {"sp/a/alias.txt": "real.txt", "sp/up.txt": "a/real.txt"}


@pytest.mark.parametrize("target", ["../outside.txt", "/etc/passwd", "a/../../x", ".."])
def test_links_leaving_the_tree_are_refused(tmp_path: Path, target: str) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh", "a/real.txt"], 5, 0o022)
    (tree / "evil").symlink_to(target)
    with pytest.raises(UnsafeContent, match="evil.*leaves"):
        layer.from_dir(tree, "sp")


def test_special_files_are_refused(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh"], 5, 0o022)
    os.mkfifo(tree / "pipe")
    with pytest.raises(UnsafeContent, match="pipe: not a regular file"):
        layer.from_dir(tree, "sp")


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = make_tree(tmp_path / "t", ["run.sh", "big.bin"], 5, 0o022)
    monkeypatch.setattr(layer, "MAX_TREE_BYTES", 30)
    with pytest.raises(UnsafeContent, match="more than 30 bytes"):
        layer.from_dir(tree, "sp")
