"""Unpacking layers: whiteouts apply; anything reaching outside, devices and bombs are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from startpoints.errors import UnsafeContent
from startpoints.oci import unpack


def tar(*entries: tarfile.TarInfo | tuple[str, bytes], compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                out.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                out.addfile(info, io.BytesIO(entry[1]))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


def info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.linkname = kind, linkname
    return entry


def apply(root: Path, data: bytes, budget: unpack.Budget | None = None) -> None:
    unpack.apply(data, root, where="img layer 0", budget=budget or unpack.Budget())


def test_layers_apply_in_order_with_whiteouts(tmp_path: Path) -> None:
    apply(
        tmp_path,
        tar(
            ("start_point/a.txt", b"a"),
            ("start_point/b.txt", b"b"),
            ("start_point/sub/c.txt", b"c"),
        ),
    )
    apply(
        tmp_path, tar(("start_point/.wh.b.txt", b""), ("start_point/a.txt", b"A"), compress=False)
    )
    apply(tmp_path, tar(("start_point/sub/.wh..wh..opq", b""), ("start_point/sub/d.txt", b"d")))
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["start_point/a.txt", "start_point/sub/d.txt"]
    assert (tmp_path / "start_point/a.txt").read_text() == "A"


def test_inward_links_are_kept(tmp_path: Path) -> None:
    apply(
        tmp_path,
        tar(
            ("sp/real.txt", b"x"),
            info("sp/alias.txt", tarfile.SYMTYPE, "real.txt"),
            info("sp/hard.txt", tarfile.LNKTYPE, "sp/real.txt"),
        ),
    )
    assert (tmp_path / "sp/alias.txt").read_text() == "x"
    assert (tmp_path / "sp/hard.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (("../evil.txt", b"x"), "climbs out"),
        (("sp/../../evil.txt", b"x"), "climbs out"),
        (("/etc/evil.txt", b"x"), "absolute path"),
        (info("sp/link", tarfile.SYMTYPE, "/etc/passwd"), "symlink to absolute path"),
        (info("sp/link", tarfile.SYMTYPE, "../../etc/passwd"), "leads outside"),
        (info("sp/hard", tarfile.LNKTYPE, "../etc/passwd"), "climbs out"),
        (info("sp/dev", tarfile.CHRTYPE), "device files"),
        (info("sp/fifo", tarfile.FIFOTYPE), "device files"),
    ],
)
def test_unsafe_entries_are_refused(
    tmp_path: Path, entry: tarfile.TarInfo | tuple[str, bytes], reason: str
) -> None:
    root = tmp_path / "root"
    with pytest.raises(UnsafeContent, match=reason):
        apply(root, tar(entry))
    assert not (tmp_path / "evil.txt").exists()


def test_writing_through_a_link_that_leaves_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (tmp_path / "outside").mkdir()
    with pytest.raises(UnsafeContent):
        apply(root, tar(info("sp", tarfile.SYMTYPE, "../outside"), ("sp/x.txt", b"x")))
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_gzip_bomb_stops_at_the_budget(tmp_path: Path) -> None:
    bomb = tar(("sp/zeros", b"\0" * (8 * 1024 * 1024)))
    assert len(bomb) < 20_000
    with pytest.raises(UnsafeContent, match="more than the limit"):
        apply(tmp_path, bomb, unpack.Budget(bytes=1024 * 1024))
    assert not (tmp_path / "sp/zeros").exists()


def test_too_many_entries(tmp_path: Path) -> None:
    with pytest.raises(UnsafeContent, match="more than the limit"):
        apply(tmp_path, tar(*[(f"sp/{i}", b"") for i in range(20)]), unpack.Budget(entries=10))


def test_garbage_is_not_a_layer(tmp_path: Path) -> None:
    with pytest.raises(UnsafeContent, match="not a readable layer"):
        apply(tmp_path, gzip.compress(b"not a tar at all" * 100))
    with pytest.raises(UnsafeContent, match="zstd"):
        apply(tmp_path, b"\x28\xb5\x2f\xfd" + b"\0" * 10)
