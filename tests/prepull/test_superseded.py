"""Which of a node's images the catalog supersedes (prepull/superseded.superseded)."""

from __future__ import annotations

from startpoints.oci.runtime import Local
from startpoints.prepull.superseded import superseded

CATALOG = ["cyberdojofoundation/python_pytest:752c5b5", "ghcr.io/cdl/java_junit:7aa5992"]


def names(images: list[Local]) -> list[tuple[str, ...]]:
    return [image.tags for image in superseded(CATALOG, images)]


def test_yesterdays_tags_of_the_catalogs_repositories_whatever_the_runtime_calls_them() -> None:
    local = [
        Local("1", ("docker.io/cyberdojofoundation/python_pytest:1111111",), 10),  # containerd
        Local("2", ("cyberdojofoundation/python_pytest:2222222",), 10),  # Docker
        Local("3", ("ghcr.io/cdl/java_junit:3333333",), 10),
        Local("4", ("docker.io/cyberdojofoundation/python_pytest:752c5b5",), 10),  # today's
    ]
    assert names(local) == [
        ("cyberdojofoundation/python_pytest:2222222",),
        ("docker.io/cyberdojofoundation/python_pytest:1111111",),
        ("ghcr.io/cdl/java_junit:3333333",),
    ]


def test_never_outside_the_repositories_nor_sharing_an_image_with_a_wanted_or_foreign_tag() -> None:
    local = [
        Local("a", ("docker.io/library/python:3.12",), 10),  # another repository
        Local("b", ("ghcr.io/other/java_junit:1111111",), 10),  # same name, another owner
        Local("c", ("ghcr.io/cdl/java_junit:old", "ghcr.io/cdl/java_junit:7aa5992"), 10),
        Local("d", ("ghcr.io/cdl/java_junit:old2", "docker.io/library/busybox:1"), 10),
        Local("e", (), 10),  # untagged
        Local("f", ("oci:/tmp/x:y",), 10),
    ]
    assert names(local) == []


def test_an_image_in_use_is_listed_with_it_so_it_can_be_reported() -> None:
    used = Local("u", ("ghcr.io/cdl/java_junit:old",), 10, in_use=True)
    assert superseded(CATALOG, [used]) == [used]
