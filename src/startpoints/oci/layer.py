"""Byte-reproducible layers: a folder as one tar+gzip with sorted entries, fixed times and owners.

The same tree always gives the same bytes (and so the same digest), whatever the
clock, the user or the order the filesystem lists entries in: a daily rebuild of
an unchanged commit pushes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from startpoints.core import paths
from startpoints.errors import UnsafeContent
from startpoints.oci import mediatypes
from startpoints.oci.descriptor import Descriptor

# Far beyond any real start point (the corpus' largest is under 10 KB) yet small
# enough that a mistaken folder cannot become a huge image.
MAX_TREE_BYTES = 16 * 1024 * 1024
_EPOCH = 0


@dataclass(frozen=True)
class Layer:
    data: bytes  # gzip'ed tar
    diff_id: str  # sha256 of the uncompressed tar, as the image config lists it

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor.of(self.data, mediatypes.OCI_LAYER_GZIP)


def from_dir(root: Path, arcname: str, *, replace: Mapping[str, bytes] | None = None) -> Layer:
    """Pack `root` as `arcname/` in one layer; `replace` swaps the content of files (relative paths)."""
    tar = tar_dir(root, arcname, replace=replace or {})
    return Layer(gzip_reproducibly(tar), "sha256:" + hashlib.sha256(tar).hexdigest())


def tar_dir(root: Path, arcname: str, *, replace: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        parts = arcname.split("/")
        for depth in range(1, len(parts) + 1):  # parents first, so every tool sees them
            tar.addfile(_info("/".join(parts[:depth]) + "/", tarfile.DIRTYPE, 0o755))
        for relative in _walk(root):
            path = root / relative
            name = f"{arcname}/{relative}"
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                tar.addfile(_info(f"{name}/", tarfile.DIRTYPE, 0o755))
            elif stat.S_ISLNK(mode):
                target = os.readlink(path)
                _check_link(root, relative, target)
                info = _info(name, tarfile.SYMTYPE, 0o777)
                info.linkname = target
                tar.addfile(info)
            elif stat.S_ISREG(mode):
                data = replace[relative] if relative in replace else path.read_bytes()
                total += len(data)
                if total > MAX_TREE_BYTES:
                    raise UnsafeContent(f"{root}: more than {MAX_TREE_BYTES} bytes of files")
                info = _info(name, tarfile.REGTYPE, 0o755 if mode & 0o111 else 0o644)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                raise UnsafeContent(f"{path}: not a regular file, folder or link")
    return buffer.getvalue()


def gzip_reproducibly(data: bytes) -> bytes:
    """gzip -n: no file name, no timestamp in the header."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=_EPOCH, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def _walk(root: Path) -> list[str]:
    """Relative paths of everything below root, sorted by name, parents before children."""
    found = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(dirpath).relative_to(root)
        found += [(base / name).as_posix() for name in dirs + files]
    return sorted(found)


def _check_link(root: Path, relative: str, target: str) -> None:
    """Followed for real through the finished tree (chains included), it must stay inside."""
    try:
        paths.check_link(root, root / relative)
    except paths.Outside as error:
        raise UnsafeContent(
            f"{root / relative}: symlink to {target!r} leaves {root}: it {error}"
        ) from None


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, _EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
