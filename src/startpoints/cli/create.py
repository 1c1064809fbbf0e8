"""`startpoints create NAME --languages|--custom|--exercises SOURCE...`: cyber-dojo's command,
its argument checks, messages and exit codes (4-14) kept, so scripts around it keep working."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from startpoints.errors import CheckerFaults, InvalidStartPoint, StartpointsError

SERVICE_REPOSITORY = "ghcr.io/cyber-dojo/startpoints"  # published by .github/workflows/release.yml
TYPES = ("--custom", "--exercises", "--languages")  # cyber-dojo's order: exit codes follow it
# The script's show_use, word for word (tests/workflows/test_create_help.py compares it), its
# base image being the startpoints service image, then the options of startpoints' own.
USE = """
  Use:
    [ENV-VAR]... cyber-dojo start-point create <name> --custom    <url>...
    [ENV-VAR]... cyber-dojo start-point create <name> --exercises <url>...
    [ENV-VAR]... cyber-dojo start-point create <name> --languages <url>...

  Creates a cyber-dojo start-point image named <name>
  containing git clones of the specified git-repo <url>s.
  Unless overridden with environment variables, its base image will be
      {image}:{tag}

  <url> can be a plain git-repo url
      Eg https://github.com/cyber-dojo-start-points/gcc-assert
  <url> can be prefixed with a 7-character tag.
      This will git checkout the tag after the git clone.
      Eg 7686e9d@https://github.com/cyber-dojo-start-points/gcc-assert

  [ENV-VAR] can be
      CYBER_DOJO_START_POINTS_BASE_IMAGE
          The base image name. Overrides {image}
      CYBER_DOJO_START_POINTS_BASE_TAG
          The base image tag. Overrides {tag}
      CYBER_DOJO_DEBUG
          When set to 'true' prints extra debug information.

  Example 1: non-local tagged git-repo <url>

    cyber-dojo start-point create eg/first \\
        --languages 384f486@https://github.com/cyber-dojo-start-points/java-junit

  Example 2: non-local tagged git-repo <url> with base-image tag set by env-var

    export CYBER_DOJO_START_POINTS_BASE_TAG=e8f8d56
    cyber-dojo start-point create eg/first \\
        --languages 384f486@https://github.com/cyber-dojo-start-points/java-junit

  Example 3: read tagged git-repo <url>s from a local file

    cyber-dojo start-point create eg/second \\
        --languages $(< my-language-selection.txt)

    cat my-language-selection.txt
    384f486@https://github.com/cyber-dojo-start-points/java-junit
    cfbd925@https://github.com/cyber-dojo-start-points/javascript-jasmine
    c14a87e@https://github.com/cyber-dojo-start-points/python-pytest
    8fe0d11@https://github.com/cyber-dojo-start-points/ruby-minitest

  Example 4: read tagged git-repo <url>s from a curl'd file

    ORG=https://raw.githubusercontent.com/cyber-dojo
    REPO=languages-start-points

    cyber-dojo start-point create eg/third \\
        --languages $(curl --silent ${{ORG}}/${{REPO}}/main/git_repo_urls.tagged)

"""
OWN = """  startpoints' own (read after the arguments above are checked):
    <name> may be oci:PATH:NAME (an OCI layout); a <url> may also be a local git
    repository ($PWD: its committed master, else main) or a start-point image by
    sha7 tag or digest.
    --push            push <name> to its registry (default: load it into the local engine)
    --engine URL      Docker Engine API (default: $DOCKER_HOST, else the local socket)
    --base REF        the base image in one (none: a data-only image)
    --build-images    also build a local repo's docker/Dockerfile as <image_name>:<sha7>
    --json            print a JSON summary"""


class UsageError(StartpointsError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add(verbs: Any) -> None:
    parser = verbs.add_parser("create", help="cyber-dojo's start-point create", add_help=False)
    parser.add_argument("words", nargs=argparse.REMAINDER)
    parser.set_defaults(run=run)


def parse(words: list[str]) -> dict[str, Any]:
    """cyber-dojo's bad_args.rb checks, in its order, with its exit codes."""
    options: dict[str, Any] = {
        "push": False,
        "engine": None,
        "base": None,
        "build_images": False,
        "json": False,
    }
    rest: list[str] = []
    items = iter(words)
    for word in items:
        if word in ("--push", "--build-images", "--json"):
            options[word[2:].replace("-", "_")] = True
        elif word in ("--engine", "--base"):
            options[word[2:]] = next(items, None)
            if options[word[2:]] is None:
                raise UsageError(f"{word} needs a value", 2)
        else:
            rest.append(word)
    if rest and rest[0] in TYPES:
        raise UsageError(f"{rest[0]} requires preceding <image_name>", 4 + TYPES.index(rest[0]))
    if len(rest) < 2 or rest[1] not in TYPES:
        raise UsageError(
            "<image-name> must be followed by one of --custom/--exercises/--languages", 7
        )
    name, kind, sources = rest[0], rest[1], rest[2:]
    if not sources:
        raise UsageError(f"{kind} requires at least one <git-repo-url>", 8 + TYPES.index(kind))
    duplicates = list(dict.fromkeys(s for s in sources if sources.count(s) > 1))  # first seen
    if duplicates:
        raise UsageError(
            "\n".join([f"{kind} duplicated git-repo-urls", *duplicates]), 11 + TYPES.index(kind)
        )
    from startpoints.core import reference

    try:  # as bad_args.rb judges names (tests/workflows/test_create_help.py compares them)
        ref = reference.parse(name)
    except StartpointsError:
        raise UsageError(f"malformed <image-name> {name}", 14) from None
    return {**options, "name": ref, "given": name, "kind": kind[2:], "sources": sources}


def run(args: argparse.Namespace) -> int:
    if not args.words or args.words[0] in ("-h", "--help"):
        from startpoints import __version__

        print(USE.format(image=SERVICE_REPOSITORY, tag=f"v{__version__}") + OWN)
        return 0
    try:
        parsed = parse(args.words)
    except UsageError as error:  # as bad_args.rb, then the create script, print it
        print(f"ERROR: {error}", file=sys.stderr)
        print("ERROR: bad args", file=sys.stderr)
        return error.code
    import json

    from startpoints.cli import common, progress
    from startpoints.workflows import create

    request = create.Request(
        name=parsed["name"],
        kind=parsed["kind"],
        sources=parsed["sources"],
        push=parsed["push"],
        engine=parsed["engine"] or os.environ.get("DOCKER_HOST"),
        base=_base(parsed["base"]),
        build_images=parsed["build_images"],
    )
    quiet = os.environ.get("CYBER_DOJO_DEBUG") != "true"  # as the script: its steps only on debug
    try:
        with progress.sources(len(request.sources), f"creating {request.name}") as done:
            created = create.create(
                request,
                common.stores(None),
                say=(lambda _: None) if quiet else common.say,
                done=done,
            )
    except CheckerFaults as error:  # the script's lines after its own first line
        _progress(request.kind, request.sources)
        print(f"ERROR: Failed to build {parsed['given']}", *error.lines, sep="\n", file=sys.stderr)
        return error.code
    except InvalidStartPoint as error:
        first = next((p for p in error.problems if _unfetched(p)), None)
        failed = str(getattr(first, "file", "")) if first is not None else None
        _progress(request.kind, request.sources, failed, getattr(first, "checkout", False))
        if first is not None and _cloned(str(getattr(first, "file", ""))):
            # the script clones one source after another and stops at the first that fails
            print(*_as_the_script_shows(first, request.kind), sep="\n", file=sys.stderr)
            return 3
        print(f"ERROR: Failed to build {parsed['given']}", file=sys.stderr)
        for problem in error.problems:
            print(*_as_the_script_shows(problem, request.kind), sep="\n", file=sys.stderr)
        return _exit_code(error.problems, request.kind)
    _progress(request.kind, request.sources)
    if parsed["json"]:
        print(
            json.dumps({"image": created, "kind": request.kind, "sources": list(request.sources)})
        )
    # stdout, as cyber-dojo's create prints it: the name as given (--json has the digest)
    print(f"Successfully built {parsed['given']}")
    return 0


def _as_the_script_shows(problem: Any, kind: str) -> list[str]:
    """A problem in the form of cyber-dojo's checkers (show_error.rb): a title, the source as
    `--KIND URL`, the manifest's path in that source, and the key with its value as JSON.
    The title's words are ours (the same rule, as its exit code shows)."""
    from startpoints.core.problem import Problem

    if not isinstance(problem, Problem):
        return [f"ERROR: {problem}"]
    if problem.rule == "no_manifest":  # its words, as read_manifest_filenames.rb says them
        return ["ERROR: no manifest.json files in", f"--{kind} {problem.source or problem.file}"]
    source = _cloned(problem.file) if problem.rule == "unfetched" else None
    if source is not None and problem.detail is not None:
        said = problem.detail.splitlines()
        if problem.checkout:  # the script's words for a failed checkout, then git's own
            return [f"ERROR: git checkout {source.sha7}", f"--{kind}", *said]
        # for a failed clone ("<url>" is literal there), the url without its tag
        return [
            "ERROR: bad git clone <url>",
            f"--{kind} {source.url if source.sha7 else problem.file}",
            *said,
        ]
    if problem.source is None:
        return [f"ERROR: {problem}"]
    title = f"{problem.key} {problem.reason}" if problem.key else problem.reason
    # the file is INDEX/PATH in the catalog: PATH is where it is in the source, as shown there
    index, _, path = problem.file.partition("/")
    lines = [f"ERROR: {title}", f"--{kind} {problem.source}"]
    if path and index.isdigit():
        lines.append(f"manifest='{path}'")
    if problem.key and problem.has_value:
        lines.append(f"{json.dumps(problem.key)}: {problem.shown_value}")
    return lines


def _base(given: str | None) -> Any:
    """The image the catalog goes on: by default the startpoints service image (so the created
    image serves itself, as cyber-dojo's does), its name and tag overridden by the script's
    CYBER_DOJO_START_POINTS_BASE_IMAGE and _TAG; `--base none` makes a data-only image."""
    from startpoints import __version__
    from startpoints.core import reference

    if given is None:
        name = os.environ.get("CYBER_DOJO_START_POINTS_BASE_IMAGE") or SERVICE_REPOSITORY
        tag = os.environ.get("CYBER_DOJO_START_POINTS_BASE_TAG") or f"v{__version__}"
        given = f"{name}:{tag}"
    return None if given == "none" else reference.parse(given)


def _progress(
    kind: str, sources: Sequence[str], until: str | None = None, checkout: bool = False
) -> None:
    """The lines the create script prints on stdout as it clones each source (all of them
    fetched at once here, so printed after, in order), up to the first that failed: with
    its clone's lines too when it was its checkout that failed."""
    from startpoints import sources as kinds
    from startpoints.sources.git import GitSource

    for text in sources:
        if text == until and not checkout:
            return
        source = kinds.parse(text, folders_as_git=True)
        if isinstance(source, GitSource):
            print(f"git clone {source.url if source.sha7 else text}")
            if source.sha7:
                print(f"git checkout {source.sha7}")
        if text == until:
            return
        print(f"--{kind} \t {text}")


def _cloned(text: str) -> Any:
    """The git source the create script would `git clone` for `text`, or None."""
    from startpoints import sources
    from startpoints.errors import StartpointsError
    from startpoints.sources.git import GitSource

    try:
        found = sources.parse(text, folders_as_git=True)
    except StartpointsError:
        return None
    return found if isinstance(found, GitSource) else None


def _unfetched(problem: object) -> bool:
    return getattr(problem, "rule", "") == "unfetched"


def _exit_code(problems: list[object], kind: str) -> int:
    """cyber-dojo's codes: 3 for a source that could not be fetched (its failed clone or
    checkout), else the manifest checkers' own code."""
    from startpoints.core import check_codes
    from startpoints.core.problem import Problem

    found = [p for p in problems if isinstance(p, Problem)]
    if any(_unfetched(p) for p in found):
        return 3
    return check_codes.exit_code(found, kind)  # type: ignore[arg-type]
