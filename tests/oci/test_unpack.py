"""Unpacking layers: whiteouts apply; anything reaching outside, devices and bombs are refused."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        (info("sp/hard", tarfile.LNKTYPE, "../etc/passwd"), "leads outside"),
        (info("sp/hard", tarfile.LNKTYPE, "/etc/passwd"), "hard link to absolute path"),
        (("sp/" + "n" * 300, b"x"), "more than 255 bytes"),
        (("sp/" + "d/" * 600 + "x", b"x"), "a path of more than 1024 bytes"),
        (info("sp/blk", tarfile.BLKTYPE), "device files"),
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


def test_a_folder_turned_into_a_leaving_link_later_in_the_layer_is_not_written_through(
    tmp_path: Path,
) -> None:
    # Each file's parent folder is resolved once per layer; a later entry that replaces
    # that folder with a link must make the next file's parent be resolved again.
    # Each link is lexically inward; followed for real, sp is root/.. (tmp_path).
    root = tmp_path / "root"
    layer = tar(
        info("a/b/up", tarfile.SYMTYPE, "../.."),
        ("sp/a.txt", b"a"),
        info("sp", tarfile.SYMTYPE, "a/b/up/.."),
        ("sp/x.txt", b"x"),
    )
    with pytest.raises(UnsafeContent, match="leads outside"):
        apply(root, layer)
    assert not (tmp_path / "x.txt").exists()


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


# --- hostile layers: each attack as it was found, then refused -----------------------------


def canaries(beside: Path) -> list[Path]:
    """Files next to the unpack root (and in its parent, as $TMPDIR would be) that must survive."""
    made = [beside / "canary.txt", beside.parent / f"canary-{beside.name}.txt"]
    for path in made:
        path.write_text("still here")
    return made


@pytest.mark.parametrize("name", ["sp/.wh...", ".wh...", "sp/.wh..", ".wh.", "sp/.wh."])
def test_a_whiteout_must_name_one_real_component(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    alive = canaries(tmp_path)
    apply(root, tar(("sp/keep.txt", b"k")))
    with pytest.raises(UnsafeContent, match="whiteout"):
        apply(root, tar((name, b"")))
    assert all(p.read_text() == "still here" for p in alive)
    assert (root / "sp/keep.txt").read_text() == "k"


def test_a_whiteout_through_a_link_cannot_remove_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/victim.txt").write_text("x")
    with pytest.raises(UnsafeContent):
        apply(root, tar(info("sp", tarfile.SYMTYPE, "../outside"), ("sp/.wh.victim.txt", b"")))
    with pytest.raises(UnsafeContent):
        apply(root, tar(("up/.wh..wh..opq", b"")), unpack.Budget())
        apply(root, tar(info("up", tarfile.SYMTYPE, ".."), ("up/.wh..wh..opq", b"")))
    assert (tmp_path / "outside/victim.txt").read_text() == "x"


def test_removal_never_reaches_the_root_or_beside_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    alive = canaries(tmp_path)
    for victim in (root, tmp_path, root / "..", root / "."):
        with pytest.raises(UnsafeContent, match="refusing to remove"):
            unpack.remove(victim, root)
    assert root.is_dir() and all(p.exists() for p in alive)


def test_a_chain_of_inward_links_that_leaves_is_refused_once_laid_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    chain = tar(
        ("a/b/c/file.txt", b"x"),
        info("a/b/c/up", tarfile.SYMTYPE, "../../.."),  # the root: inside
        info("a/b/c/out", tarfile.SYMTYPE, "up/../../../../etc/passwd"),  # via up: outside
    )
    try:
        apply(root, chain)
    except UnsafeContent:
        return  # refused already while unpacking: fine too
    with pytest.raises(UnsafeContent, match="a/b/c/out"):
        unpack.check_links(root, "img")


def test_a_link_made_to_leave_by_a_later_link_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    apply(root, tar(info("a/b/out", tarfile.SYMTYPE, "x/../../../etc")))  # x absent: inside
    apply(root, tar(info("a/b/x", tarfile.SYMTYPE, "../..")))  # x is the root: inside
    with pytest.raises(UnsafeContent, match="a/b/out"):
        unpack.check_links(root, "img")


def test_inward_link_chains_pass(tmp_path: Path) -> None:
    root = tmp_path / "root"
    apply(
        root,
        tar(
            ("sp/real.txt", b"x"),
            info("sp/sub/up", tarfile.SYMTYPE, ".."),
            info("sp/alias", tarfile.SYMTYPE, "sub/up/real.txt"),
            info("sp/dangling", tarfile.SYMTYPE, "not-there.txt"),
        ),
    )
    unpack.check_links(root, "img")
    assert (root / "sp/alias").read_text() == "x"


def test_hard_links_count_against_the_budget(tmp_path: Path) -> None:
    big = ("sp/big", b"\0" * (8 * 1024 * 1024))
    links = [info(f"sp/link{i}", tarfile.LNKTYPE, "sp/big") for i in range(60)]
    with pytest.raises(UnsafeContent, match="more than the limit"):
        apply(tmp_path / "root", tar(big, *links))
    written = sum(p.stat().st_size for p in (tmp_path / "root").rglob("*") if p.is_file())
    assert written <= unpack.Budget().bytes


def raw_header(name: bytes, kind: bytes, size: int) -> bytes:
    """One ustar header block declaring `size` bytes that never follow."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"00000000000\0"
    block[156:157] = kind
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize(
    "kind", [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK]
)
def test_an_oversized_header_is_refused_before_it_is_read(tmp_path: Path, kind: bytes) -> None:
    # Declares 1 GiB of header; tarfile would read (and allocate) all of it first.
    layer = gzip.compress(raw_header(b"././@LongLink", kind, 1 << 30) + b"\0" * (1 << 20))
    with pytest.raises(UnsafeContent, match=r"a tar header of 1073741824 bytes \(limit 65536\)"):
        apply(tmp_path, layer)


def test_a_header_within_the_limit_is_read(tmp_path: Path) -> None:
    long_name = "sp/" + "n" * 200 + "/" + "m" * 200 + ".txt"  # a pax or GNU long name
    apply(tmp_path, tar((long_name, b"x")))
    assert (tmp_path / long_name).read_text() == "x"


def test_sparse_files_are_refused(tmp_path: Path) -> None:
    layer = raw_header(b"sp/sparse", tarfile.GNUTYPE_SPARSE, 0) + b"\0" * 1024
    with pytest.raises(UnsafeContent, match="sparse"):
        apply(tmp_path, layer)


def test_the_tarinfo_hooks_exist_in_this_python() -> None:
    # The header limits hook into TarInfo's private header processing; if a Python release
    # renames it, this fails rather than the limit silently not applying.
    assert callable(getattr(tarfile.TarInfo, "_proc_member", None))
    assert callable(getattr(tarfile.TarInfo, "_proc_gnusparse_10", None))


# --- properties: any tar stream is applied or refused, and nothing outside ever changes ----

names = st.lists(
    st.sampled_from(
        ["sp", "a", "b", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh...", "/", "x" * 300]
    ),
    min_size=1,
    max_size=4,
).map("/".join)
entries = st.tuples(
    names,
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]),
    st.sampled_from(["a", "sp/a", "..", "../..", "../outside/victim.txt", "/etc/passwd", "b/../..", "sp"]),
    st.binary(max_size=64),
)  # fmt: skip


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in folder.rglob("*")
        if "root" not in p.relative_to(folder).parts
    }


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layers=st.lists(st.lists(entries, max_size=6), min_size=1, max_size=3))
def test_any_layers_apply_or_are_refused_and_nothing_outside_changes(
    tmp_path_factory: pytest.TempPathFactory, layers: list
) -> None:
    base = tmp_path_factory.mktemp("prop")
    (base / "outside").mkdir()
    (base / "outside" / "victim.txt").write_text("victim")
    (base / "canary.txt").write_text("canary")
    before = snapshot(base)
    root = base / "root"
    try:
        for layer in layers:
            made = []
            for name, kind, link, data in layer:
                entry = tarfile.TarInfo(name)
                entry.type, entry.linkname = kind, link
                made.append((name, data) if kind == tarfile.REGTYPE else entry)
            apply(root, tar(*made), unpack.Budget(bytes=4096, entries=100))
        unpack.check_links(root, "img")
    except UnsafeContent as refused:
        assert str(refused)  # named
    assert snapshot(base) == before
