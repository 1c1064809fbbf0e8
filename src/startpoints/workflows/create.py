"""cyber-dojo's `start-point create NAME --languages|--custom|--exercises SOURCE...`: a catalog
image named NAME, in a local engine (as cyber-dojo makes it), a registry or an `oci:` layout.

With `build_images`, a local repo source holding docker/Dockerfile first gets its language
image built by the engine and tagged `<image_name>:<sha7>`, and its start point points at it:
a workstation tries a new language+test-framework end to end. Both are read as committed on
the repo's master (else main) branch, as the catalog reads the repo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from startpoints import git
from startpoints.core import manifest, reference
from startpoints.core.manifest import Kind
from startpoints.core.problem import Problem
from startpoints.core.reference import Reference
from startpoints.errors import CheckerFaults, InvalidStartPoint
from startpoints.oci.stores import Stores
from startpoints.workflows import assemble

if TYPE_CHECKING:
    from startpoints.oci.engine import Engine

Say = Callable[[str], None]
DOCKERFILE = Path("docker") / "Dockerfile"


@dataclass(frozen=True)
class Request:
    name: Reference
    kind: Kind
    sources: Sequence[str]
    push: bool = False  # to NAME's registry rather than the local engine
    engine: str | None = None  # Docker Engine API URL; None: DOCKER_HOST or the default socket
    base: Reference | None = None
    build_images: bool = False


def create(
    request: Request,
    stores: Stores,
    say: Say = lambda _: None,
    done: Callable[[str, str | None], None] = lambda _s, _e: None,
) -> str:
    """Returns NAME as created: `REF@sha256:...` when pushed, `NAME` when loaded into the engine."""
    into_engine = not (request.push or request.name.is_layout)
    assemble.parse_sources(request.sources, folders_as_git=True)  # named before any engine
    engine = _engine(request.engine) if into_engine or request.build_images else None
    image_names = (
        _build_language_images(request.sources, engine, say)
        if request.build_images and engine
        else {}
    )
    try:
        result = assemble.assemble(
            assemble.Request(
                sources=request.sources,
                kind=request.kind,
                tag=None if into_engine else request.name,
                keep_image=into_engine,
                base=request.base,
                image_names=image_names,
                folders_as_git=True,
                script_checks=True,
            ),
            stores,
            say=say,
            done=done,
        )
    except CheckerFaults:
        raise  # already in the script's words
    except InvalidStartPoint as error:
        raise InvalidStartPoint(str(error), _first_clone_said(error.problems, request)) from None
    if not into_engine:
        return str(result.image)
    assert engine is not None and result.built is not None
    base = result.base
    engine.load(
        result.built, _tagged(request.name), lambda d: base.blob(stores, d) if base else b""
    )
    say(f"loaded {request.name} into {engine.url}")
    return str(request.name)


def _first_clone_said(problems: list[object], request: Request) -> list[object]:
    """The script clones one source after another and stops at the first that fails, showing
    git's words for its own clone (`git clone --single-branch --branch main URL INDEX`): the
    first failed clone's words are got so, here, where only create needs them."""
    from startpoints import sources
    from startpoints.sources.git import GitSource

    for i, problem in enumerate(problems):
        if not isinstance(problem, Problem) or problem.rule != "unfetched" or problem.checkout:
            continue
        if problem.file not in request.sources or problem.detail is None:
            return problems
        source = sources.parse(problem.file, folders_as_git=True)
        if not isinstance(source, GitSource):
            return problems
        url = source.url if source.sha7 else source.text  # as given, without its tag
        said = git.clone_said(url, str(request.sources.index(problem.file)))
        return [*problems[:i], replace(problem, detail=said), *problems[i + 1 :]]
    return problems


def _engine(url: str | None) -> Engine:
    from startpoints.oci.engine import Engine  # the docker SDK only when an engine is used

    return Engine(url)


def _build_language_images(sources: Sequence[str], engine: Engine, say: Say) -> dict[str, str]:
    """Each local repo's docker/ and manifest as committed on its master (else main) branch,
    the commit the catalog reads it at (folders_as_git), so the image's sha7 tag names the
    commit it was built from, whatever the work tree holds."""
    import tempfile

    built: dict[str, str] = {}
    for text in sources:
        repo = Path(text)
        if not git.is_repo(repo):
            continue
        commit = git.default_branch(repo)
        if not git.is_folder(repo, commit, DOCKERFILE.parent.as_posix()):
            continue
        with tempfile.TemporaryDirectory(prefix=".startpoints-build-") as tmp:
            tree = Path(tmp)
            git.export(repo, commit, "start_point", tree)
            git.export(repo, commit, DOCKERFILE.parent.as_posix(), tree)
            if not (tree / DOCKERFILE).is_file():
                continue
            loaded, _ = manifest.load(tree / "start_point" / manifest.MANIFEST, text)
            name = loaded.get("image_name") if loaded else None
            if not isinstance(name, str):
                continue
            tag = f"{reference.parse(name).name}:{commit.sha7}"
            say(f"building {tag} from {repo / DOCKERFILE} at {commit.sha7}")
            engine.build(tree / DOCKERFILE.parent, tag)
        built[text] = tag
    return built


def _tagged(name: Reference) -> str:
    return str(name) if name.tag else str(name.with_tag("latest"))
