"""Applying image layers to a folder, safely: nothing lands outside it, whiteouts apply, and a
budget stops a gzip bomb before it fills the disk.

Entries with `..` parts or absolute paths, links whose targets leave the folder, device
files and FIFOs are refused, naming the layer and the entry.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from startpoints.errors import UnsafeContent

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 16


@dataclass
class Budget:
    """How many bytes of files and how many entries one unpacking may still write."""

    bytes: int = 64 * 1024 * 1024
    entries: int = 20_000

    def spend(self, size: int, where: str) -> None:
        self.bytes -= size
        self.entries -= 1
        if self.bytes < 0 or self.entries < 0:
            raise UnsafeContent(f"{where}: unpacks to more than the limit for one start point")


def apply(data: bytes, root: Path, *, where: str, budget: Budget) -> None:
    """Apply one layer blob (tar, or gzip'ed tar) on top of `root`."""
    stream: IO[bytes] = io.BytesIO(data)
    if data[:2] == b"\x1f\x8b":
        stream = gzip.GzipFile(fileobj=stream)  # type: ignore[assignment]
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        raise UnsafeContent(f"{where}: zstd layers are not supported")
    root.mkdir(parents=True, exist_ok=True)
    real_root = root.resolve()
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                _apply_member(tar, member, real_root, where, budget)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as error:
        if isinstance(error, UnsafeContent):
            raise
        raise UnsafeContent(f"{where}: not a readable layer: {error}") from None


def _apply_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path, where: str, budget: Budget
) -> None:
    relative = _safe_name(member.name, where)
    if relative is None:
        return  # the root itself
    budget.spend(member.size if member.isreg() else 0, where)
    parent = _inside(root, root.joinpath(*relative.parts[:-1]), where, member.name)
    base = relative.name
    if base == OPAQUE:
        for child in list(parent.iterdir()) if parent.is_dir() else []:
            remove(child)
        return
    if base.startswith(WHITEOUT):
        remove(parent / base[len(WHITEOUT) :])
        return
    target = parent / base
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            remove(target)
        target.mkdir(parents=True, exist_ok=True)
        return
    parent.mkdir(parents=True, exist_ok=True)
    remove(target)
    if member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        target.chmod(0o755 if member.mode & 0o111 else 0o644)
    elif member.issym():
        link = PurePosixPath(member.linkname)
        if link.is_absolute():
            raise UnsafeContent(
                f"{where}: {member.name}: symlink to absolute path {member.linkname!r}"
            )
        _inside(root, Path(os.path.normpath(parent / link)), where, member.name)
        target.symlink_to(member.linkname)
    elif member.islnk():
        linked = _safe_name(member.linkname, where)
        source_path = _inside(root, root / linked, where, member.name) if linked else root
        if not source_path.is_file() or source_path.is_symlink():
            raise UnsafeContent(
                f"{where}: {member.name}: hard link to {member.linkname!r}, not a file unpacked before"
            )
        shutil.copyfile(source_path, target)
    else:
        raise UnsafeContent(f"{where}: {member.name}: device files and FIFOs are refused")


def _safe_name(name: str, where: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute():
        # Docker writes relative names; an absolute one is refused, never re-rooted.
        raise UnsafeContent(f"{where}: entry {name!r} has an absolute path")
    parts = [p for p in path.parts if p != "."]
    if ".." in parts:
        raise UnsafeContent(f"{where}: entry {name!r} climbs out with '..'")
    return PurePosixPath(*parts) if parts else None


def _inside(root: Path, path: Path, where: str, name: str) -> Path:
    """`path` with its links resolved, refused unless it stays under `root`."""
    real = path.resolve()
    if not real.is_relative_to(root):
        raise UnsafeContent(f"{where}: entry {name!r} leads outside the unpacked tree")
    return real


def remove(path: Path) -> None:
    """Remove a file, link or folder tree, whichever `path` is, without following links."""
    if path.is_symlink() or (path.exists() and not stat.S_ISDIR(path.lstat().st_mode)):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
