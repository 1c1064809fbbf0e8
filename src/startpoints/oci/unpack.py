"""Applying image layers to a folder, safely: nothing is written or removed outside it,
whiteouts apply, and a budget stops bombs before they fill memory or the disk.

Every entry gets the refusals of Python's `data` extraction filter (PEP 706: absolute names
and links, names or links leaving the folder, device files and FIFOs, modes made plain),
checked here rather than by `tarfile.data_filter` itself: that calls `os.path.realpath` on
the root and on the entry, twice a dozen `lstat`s per entry, which measured as most of the
system calls of an assemble (docs/benchmarks.md), and its containment is the weaker one
(CVE-2025-4517); core.paths resolves every name for real instead. Added to those: whiteouts
that must name one real component, removals checked for containment, a budget that counts
every byte written (hard links too), headers refused by size before tarfile reads them, and,
once every layer is laid out, links whose chains end outside (core.paths).
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from startpoints.core import paths
from startpoints.core.limits import DEFAULT, Limits
from startpoints.errors import UnsafeContent

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 16


@dataclass
class Budget:
    """What one unpacking may still write: file bytes and entries; and its header limits."""

    bytes: int = DEFAULT.start_point_bytes
    entries: int = DEFAULT.entries
    header_bytes: int = DEFAULT.header_bytes
    path_bytes: int = DEFAULT.path_bytes

    @classmethod
    def for_start_point(cls, limits: Limits) -> Budget:
        return cls(limits.start_point_bytes, limits.entries, limits.header_bytes, limits.path_bytes)

    @classmethod
    def for_catalog(cls, limits: Limits) -> Budget:
        return cls(limits.catalog_bytes, limits.entries, limits.header_bytes, limits.path_bytes)

    def spend(self, size: int, where: str, entries: int = 1) -> None:
        self.bytes -= size
        self.entries -= entries
        if self.bytes < 0 or self.entries < 0:
            raise UnsafeContent(f"{where}: unpacks to more than the limit for one start point")


def apply(data: bytes, root: Path, *, where: str, budget: Budget) -> int:
    """Apply one layer blob (tar, or gzip'ed tar) on top of `root`; the number of symlinks
    it made (none: no link to follow in check_links)."""
    stream: IO[bytes] = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        raise UnsafeContent(f"{where}: zstd layers are not supported")
    root.mkdir(parents=True, exist_ok=True)
    real_root = paths.real(root)
    info = _bounded_tarinfo(budget.header_bytes, where)
    # Folders already resolved and made in this layer, so each file's parent is resolved
    # once, not per file. Emptied at every removal and link, the only changes that could
    # make a folder resolved before lead anywhere else.
    folders: dict[tuple[str, ...], Path] = {}
    links = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=info) as tar:
            for member in tar:
                links += _apply_member(tar, member, real_root, where, budget, folders)
    except UnsafeContent:
        raise
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError, ValueError) as error:
        raise UnsafeContent(f"{where}: not a readable layer: {error}") from None
    except RecursionError:
        raise UnsafeContent(f"{where}: not a readable layer: headers nested too deep") from None
    return links


def check_links(root: Path, where: str) -> None:
    """Refuse the tree when any link's final target, followed for real, is outside `root`."""
    leaving = paths.escaping_links(root)
    if leaving:
        raise UnsafeContent(
            f"{where}: links lead outside the unpacked tree: {', '.join(leaving[:10])}"
        )


def _apply_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    root: Path,
    where: str,
    budget: Budget,
    folders: dict[tuple[str, ...], Path],
) -> int:
    parts = [p for p in member.name.split("/") if p not in ("", ".")]
    if not parts:
        return 0  # the root itself
    if problem := paths.relative_problem(member.name, budget.path_bytes):
        raise UnsafeContent(f"{where}: entry {member.name!r}: {problem}")
    if member.sparse is not None:
        raise UnsafeContent(f"{where}: {member.name}: sparse files are refused")
    budget.spend(member.size if member.isreg() else 0, where)
    key = tuple(parts[:-1])
    known = folders.get(key)
    parent = known or _inside(root, root.joinpath(*key), where, member.name)
    base = parts[-1]
    if base == OPAQUE:
        folders.clear()
        for child in list(parent.iterdir()) if parent.is_dir() else []:
            remove(child, root)
        return 0
    if base.startswith(WHITEOUT):
        hidden = base[len(WHITEOUT) :]
        if problem := paths.component_problem(hidden):
            raise UnsafeContent(f"{where}: whiteout {member.name!r}: {problem}")
        folders.clear()
        remove(parent / hidden, root)
        return 0
    mode = _plain_mode(member, where)
    target = parent / base
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            folders.clear()
            remove(target, root)
        target.mkdir(parents=True, exist_ok=True)
        return 0
    if known is None:
        if not parent.is_dir():
            parent.mkdir(parents=True, exist_ok=True)
        folders[key] = parent  # resolved, link-free, and a folder now
    if os.path.lexists(target):  # a later layer's file replaces an earlier one
        folders.clear()
        remove(target, root)
    if member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        target.chmod(mode)
    elif member.issym():
        if len(member.linkname.encode()) > budget.path_bytes:
            raise UnsafeContent(f"{where}: {member.name}: link target longer than the limit")
        folders.clear()
        target.symlink_to(member.linkname)
        return 1
    elif member.islnk():
        linked = _inside(root, root / member.linkname, where, member.name)
        if not linked.is_file() or linked.is_symlink():
            raise UnsafeContent(
                f"{where}: {member.name}: hard link to {member.linkname!r}, not a file unpacked before"
            )
        # Copied, not linked, and counted: 60 links to one 8 MB file write 480 MB.
        budget.spend(linked.stat().st_size, where, entries=0)  # the entry counted above
        shutil.copyfile(linked, target)
    else:
        raise UnsafeContent(f"{where}: {member.name}: device files and FIFOs are refused")
    return 0


def _plain_mode(member: tarfile.TarInfo, where: str) -> int:
    """The `data` filter's refusals for one entry (PEP 706), and the plain mode a file gets:
    0o755 when its owner may run it, else 0o644. Names were checked by paths.relative_problem
    and are resolved for real by paths.inside; here, what only the entry's header says."""
    if member.issym() or member.islnk():
        kind = "symlink" if member.issym() else "hard link"
        if member.linkname.startswith("/"):
            raise UnsafeContent(
                f"{where}: {member.name}: {kind} to absolute path {member.linkname!r}"
            )
        # Read lexically here; followed for real once the tree is laid out (check_links).
        start = posixpath.dirname(member.name) if member.issym() else ""
        if posixpath.normpath(posixpath.join(start, member.linkname)).split("/")[0] == "..":
            raise UnsafeContent(
                f"{where}: entry {member.name!r} leads outside: {kind} to {member.linkname!r}"
            )
    elif not (member.isreg() or member.isdir()):
        raise UnsafeContent(f"{where}: {member.name}: device files and FIFOs are refused")
    return 0o755 if member.mode & 0o100 else 0o644


def _inside(root: Path, path: Path, where: str, name: str) -> Path:
    try:
        return paths.inside(root, path, real_root=root)  # apply() resolved it
    except paths.Outside as error:
        raise UnsafeContent(f"{where}: entry {name!r} {error}") from None


def remove(path: Path, root: Path) -> None:
    """Remove the file, link or folder tree named `path`, without following links, and only
    when it is one real name in a folder that resolves inside `root` (so never `root` itself,
    nor anything beside it)."""
    if problem := paths.component_problem(path.name):
        raise UnsafeContent(f"refusing to remove {path}: {problem}")
    try:
        folder = paths.inside(root, path.parent)
    except paths.Outside as error:
        raise UnsafeContent(f"refusing to remove {path}: its folder {error}") from None
    victim = folder / path.name
    if victim.is_symlink() or (victim.exists() and not stat.S_ISDIR(victim.lstat().st_mode)):
        victim.unlink()
    elif victim.is_dir():
        shutil.rmtree(victim)


# tarfile reads a pax extended header or a GNU long name whole, and a GNU sparse map entry
# by entry, before any filter sees the member: 1 MiB of gzip becomes a 1 GiB read. These
# hooks into TarInfo's header processing (CPython 3.11-3.14 names; tests/oci/test_unpack.py
# fails loudly if they move) refuse such headers by their declared size first.
_LONG_HEADERS = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


def _bounded_tarinfo(max_header: int, where: str) -> type[tarfile.TarInfo]:
    class BoundedTarInfo(tarfile.TarInfo):
        def _proc_member(self, tarfile_: tarfile.TarFile) -> Any:
            if self.type in _LONG_HEADERS and self.size > max_header:
                raise UnsafeContent(
                    f"{where}: a tar header of {self.size} bytes (limit {max_header})"
                )
            if self.type == tarfile.GNUTYPE_SPARSE:
                raise UnsafeContent(f"{where}: {self.name}: sparse files are refused")
            return super()._proc_member(tarfile_)  # type: ignore[misc]

        def _proc_gnusparse_10(self, *_: Any) -> Any:
            raise UnsafeContent(f"{where}: sparse files are refused")

    return BoundedTarInfo
