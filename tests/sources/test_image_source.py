"""Image sources against a real registry: any tool's images, layers in order, blobs verified."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from startpoints import sources
from startpoints.core.reference import Reference, parse
from startpoints.errors import StartpointsError, StoreError
from startpoints.oci import mediatypes
from startpoints.oci.descriptor import Descriptor, sha256
from startpoints.oci.image import canonical_json
from startpoints.oci.stores import Stores
from startpoints.sources import source
from startpoints.sources.image import ImageSource
from startpoints.workflows import publish
from tests.conftest import RepoFactory
from tests.servers import Registry

MANIFEST = b'{"display_name": "x", "visible_filenames": ["readme.txt"]}'


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, data in files.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            out.addfile(entry, io.BytesIO(data))
    return gzip.compress(buffer.getvalue())


def push_raw_image(
    stores: Stores,
    ref: Reference,
    layers: list[bytes],
    *,
    docker: bool = False,
    lie: Callable[[dict], None] | None = None,
) -> Descriptor:
    """An image as another tool would write it (Docker media types if asked), optionally
    with a manifest that lies about a layer (`lie` edits the layer descriptor)."""
    store = stores.for_ref(ref)
    layer_type = mediatypes.DOCKER_LAYER_GZIP if docker else mediatypes.OCI_LAYER_GZIP
    diff_ids = [sha256(gzip.decompress(data)) for data in layers]
    config = canonical_json(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    )
    config_desc = Descriptor.of(
        config, mediatypes.DOCKER_CONFIG if docker else mediatypes.OCI_CONFIG
    )
    store.push_blob(ref, config_desc, config)
    descriptors = []
    for data in layers:
        desc = Descriptor.of(data, layer_type)
        store.push_blob(ref, desc, data)
        descriptors.append(desc.to_json())
    if lie:
        lie(descriptors[-1])
    media_type = mediatypes.DOCKER_MANIFEST if docker else mediatypes.OCI_MANIFEST
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": config_desc.to_json(),
            "layers": descriptors,
        }
    )
    return store.push_manifest(ref, manifest, media_type)


def fetch(ref: Reference, stores: Stores, tmp_path: Path) -> tuple[Path, object]:
    into = tmp_path / "out" / "0"
    into.parent.mkdir(parents=True, exist_ok=True)
    provenance = sources.parse(str(ref)).fetch(into, stores, lambda _: None)
    return into, provenance


def test_a_published_image_yields_its_start_point_and_provenance(
    make_repo: RepoFactory, language_image: Callable[..., Reference], stores: Stores, tmp_path: Path
) -> None:
    published = publish.publish(
        publish.Request(repo_dir=make_repo(), image=language_image()), stores
    )
    into, provenance = fetch(published.start_point, stores, tmp_path)
    assert sorted(p.name for p in (into / "start_point").iterdir()) == [
        "cyber-dojo.sh", "hiker.py", "manifest.json", "red_amber_green.rb", "test_hiker.py",
    ]  # fmt: skip
    assert provenance.source_kind == "image"  # type: ignore[attr-defined]
    assert provenance.revision == published.revision  # type: ignore[attr-defined]
    assert provenance.start_point_digest == published.start_point.digest  # type: ignore[attr-defined]
    assert provenance.language_image == str(published.language_image)  # type: ignore[attr-defined]
    assert provenance.repository == "https://github.com/cyber-dojo-start-points/python-pytest"  # type: ignore[attr-defined]


def test_docker_media_types_and_several_layers_with_whiteouts(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    ref = parse(f"{registry.host}/other{unique}/sp:1")
    push_raw_image(
        stores,
        ref,
        [
            layer_tar(
                {
                    "start_point/manifest.json": MANIFEST,
                    "start_point/readme.txt": b"old",
                    "start_point/stale.txt": b"x",
                }
            ),
            layer_tar({"start_point/.wh.stale.txt": b"", "start_point/readme.txt": b"new"}),
        ],
        docker=True,
    )
    into, _ = fetch(ref, stores, tmp_path)
    assert sorted(p.name for p in (into / "start_point").iterdir()) == [
        "manifest.json",
        "readme.txt",
    ]
    assert (into / "start_point" / "readme.txt").read_text() == "new"


def test_an_index_resolves_to_linux_amd64(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    amd = push_raw_image(
        stores,
        parse(f"{registry.host}/idx{unique}/sp:amd"),
        [layer_tar({"start_point/manifest.json": MANIFEST})],
    )
    arm = push_raw_image(
        stores,
        parse(f"{registry.host}/idx{unique}/sp:arm"),
        [layer_tar({"start_point/arm.txt": b""})],
    )
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [
                {**arm.to_json(), "platform": {"os": "linux", "architecture": "arm64"}},
                {**amd.to_json(), "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
    )
    ref = parse(f"{registry.host}/idx{unique}/sp:multi")
    stores.for_ref(ref).push_manifest(ref, index, mediatypes.OCI_INDEX)
    into, provenance = fetch(ref, stores, tmp_path)
    assert sorted(p.name for p in (into / "start_point").iterdir()) == ["manifest.json"]
    assert provenance.start_point_digest == amd.digest  # type: ignore[attr-defined]


def test_an_image_without_start_point_is_refused(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    ref = parse(f"{registry.host}/none{unique}/sp:1")
    push_raw_image(stores, ref, [layer_tar({"app/readme.txt": b"x"})])
    with pytest.raises(StartpointsError, match="holds no /start_point/ folder"):
        fetch(ref, stores, tmp_path)


def link_tar(links: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, target in links.items():
            entry = tarfile.TarInfo(name)
            entry.type, entry.linkname = tarfile.SYMTYPE, target
            out.addfile(entry)
    return gzip.compress(buffer.getvalue())


def test_links_that_leave_once_every_layer_is_laid_out_are_refused(
    registry: Registry, stores: Stores, unique: str, tmp_path: Path
) -> None:
    # Each link is inward as its layer lays it; together, start_point/out leads to tmp_path.
    ref = parse(f"{registry.host}/chain{unique}/sp:1")
    files = layer_tar({"start_point/manifest.json": b"{}", "start_point/a/b/keep": b"k"})
    first = link_tar({"start_point/a/b/up": "../.."})
    second = link_tar({"start_point/out": "a/b/up/../.."})
    push_raw_image(stores, ref, [files, first, second])
    with pytest.raises(
        StartpointsError, match="links lead outside the unpacked tree: start_point/out"
    ):
        fetch(ref, stores, tmp_path)


@pytest.mark.parametrize("lie", ["size", "digest"])
def test_a_layer_whose_size_or_digest_does_not_match_is_refused(
    tmp_path: Path, stores: Stores, lie: str
) -> None:
    ref = parse(f"oci:{tmp_path / 'layout'}:liar/sp:1")
    real = layer_tar({"start_point/manifest.json": MANIFEST})
    other = layer_tar({"start_point/manifest.json": b"{}"})
    stores.for_ref(ref).push_blob(ref, Descriptor.of(other, mediatypes.OCI_LAYER_GZIP), other)

    def edit(desc: dict) -> None:
        if lie == "size":
            desc["size"] += 1
        else:  # a digest naming other (present) content than the descriptor's size says
            desc["digest"] = sha256(other)

    push_raw_image(stores, ref, [real], lie=edit)
    with pytest.raises(StoreError, match="does not match|its descriptor says"):
        fetch(ref, stores, tmp_path)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ghcr.io/cdsp/java_junit", "needs a tag or a digest"),
        ("ghcr.io/cdsp/java_junit:latest", ":latest moves"),
        ("Not A Ref", "no such folder, and not a sha7@git-url or an image reference"),
        ("/no/such/place", "no such folder$"),
        ("./nor/here", "no such folder$"),
    ],
)
def test_bad_image_sources_are_refused(text: str, reason: str) -> None:
    with pytest.raises(source.BadSource, match=reason):
        sources.parse(text)


def test_a_digest_or_sha7_tag_is_an_image_source() -> None:
    assert isinstance(sources.parse("ghcr.io/cdsp/java_junit:4edf92a"), ImageSource)
    assert isinstance(sources.parse("ghcr.io/cdsp/java_junit@sha256:" + "a" * 64), ImageSource)


def test_a_blob_changed_on_the_way_is_refused(
    make_repo: RepoFactory,
    language_image: Callable[..., Reference],
    stores: Stores,
    registry: Registry,
    tmp_path: Path,
) -> None:
    """A mirror or a man in the middle sending other bytes for a digest: refused, named."""
    from tests.servers import FaultyProxy

    published = publish.publish(
        publish.Request(repo_dir=make_repo(), image=language_image()), stores
    )
    layer = json.loads(
        stores.for_ref(published.start_point).fetch_manifest(published.start_point)[0]
    )["layers"][0]

    def swap(method: str, path: str, body: bytes) -> bytes:
        return (
            layer_tar({"start_point/manifest.json": b"{}"})
            if path.endswith(layer["digest"])
            else body
        )

    proxy = FaultyProxy(registry.host, lambda _m, _p: None, tamper=swap)
    try:
        ref = parse(f"{proxy.host}/{published.start_point.repository}:{published.start_point.tag}")
        with pytest.raises(
            StoreError, match=f"does not match {layer['digest']}|its descriptor says"
        ):
            fetch(ref, Stores(), tmp_path)
    finally:
        proxy.close()
