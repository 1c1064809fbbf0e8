"""Containment as the kernel resolves paths: links followed for real, `..` after a link taken
from the link's target, the root's own components resolved once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from startpoints.core import paths


def tree(root: Path) -> Path:
    (root / "a" / "sub" / "deep").mkdir(parents=True)
    (root / "a" / "in").symlink_to("sub/deep")  # inward
    (root / "a" / "up").symlink_to("../..")  # leaves root
    (root / "a" / "abs").symlink_to("/etc")
    return root


def test_dotdot_after_a_link_goes_where_the_kernel_goes(tmp_path: Path) -> None:
    root = tree(tmp_path / "root")
    # a/in/.. is a/sub (the target's parent), not a: lexical folding would say a
    assert (
        paths.inside(root, root / "a/in/..")
        == Path(os.path.realpath(root / "a/in/.."))
        == root / "a/sub"
    )
    with pytest.raises(paths.Outside):
        paths.inside(root, root / "a/up/x")
    with pytest.raises(paths.Outside):
        paths.inside(root, root / "a/abs/..")  # /etc/.. is /
    with pytest.raises(paths.Outside):
        paths.inside(root, root / "a/../..")


def test_a_root_resolved_once_gives_the_same_answers(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to("real")
    root = tree(tmp_path / "real" / "root")
    via_alias = tmp_path / "alias" / "root"
    for name in ["a", "a/in", "a/in/..", "a/sub/deep/missing/tail"]:
        expected = paths.inside(via_alias, via_alias / name)
        assert paths.inside(via_alias, via_alias / name, real_root=root) == expected
        assert expected == Path(os.path.realpath(root / name))
    with pytest.raises(paths.Outside):
        paths.inside(via_alias, via_alias / "a/up", real_root=root)


NAMES = st.sampled_from(["a", "b", "c", "..", "."])


@settings(max_examples=200, deadline=None)
@given(
    links=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "a/x", "b/y"]), st.lists(NAMES, min_size=1, max_size=4)
        ),
        max_size=4,
    ),
    path=st.lists(NAMES, min_size=1, max_size=6),
)
def test_real_agrees_with_the_kernel(
    tmp_path_factory: pytest.TempPathFactory, links: list[tuple[str, list[str]]], path: list[str]
) -> None:
    """Over generated trees of folders and relative links, `real` names what the kernel
    opens (os.path.realpath, strict, where the path exists)."""
    root = tmp_path_factory.mktemp("tree")
    for folder in ["a", "b", "c", "a/c"]:
        (root / folder).mkdir(exist_ok=True)
    for where, target in links:
        link = root / where
        if not link.exists() and not link.is_symlink() and link.parent.is_dir():
            link.symlink_to("/".join(target))
    candidate = root.joinpath(*path)
    try:
        expected = os.path.realpath(candidate, strict=True)
    except OSError:
        return  # missing or a loop: the kernel opens nothing to compare with
    assert str(paths.real(candidate)) == expected
    inside = expected == str(root) or expected.startswith(f"{root}/")
    if inside:
        assert str(paths.inside(root, candidate)) == expected
    else:
        with pytest.raises(paths.Outside):
            paths.inside(root, candidate)
