"""What several verbs share: where docker's credentials are, and the stores every verb opens
with the limits its options set. A leaf module: verbs import it, it imports no verb."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from startpoints.oci.stores import Stores


CATALOG_EXAMPLE = "ghcr.io/cyber-dojo/languages-start-points:4edf92a"


class _Help(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (unless None or off, or the help already says it) and
    keeps the example's layout."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS) and not action.required
        if shown and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def add_verb(verbs: Any, name: str, *, help: str, example: str) -> argparse.ArgumentParser:
    """A verb's parser: its one-line help, every default shown, and an example to copy."""
    parser: argparse.ArgumentParser = verbs.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=_Help,
    )
    return parser


def add_catalog_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """CATALOG, the verb's positional: required unless the verb has a default."""
    parser.add_argument(
        "catalog",
        metavar="CATALOG",
        nargs="?" if default else None,
        default=default,
        help="a catalog folder or catalog image reference",
    )


def add_kind_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--kind", choices=("languages", "custom", "exercises"), default="languages", help=help
    )


CREDENTIALS_ENV = "STARTPOINTS_CREDENTIALS"


def docker_config() -> Path | None:
    """config.json where Docker looks for it ($DOCKER_CONFIG, else ~/.docker), with the
    credentials $STARTPOINTS_CREDENTIALS holds (`HOST=USER:TOKEN`, several separated by
    spaces or commas: a secret an orchestrator puts in the environment, ECS's or compose's)
    laid over it, in a private file this process alone reads; None when there are none.
    Every pull, the registry client's, the engine's and the CRI's, reads them from there."""
    folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    path = Path(folder) / "config.json"
    found = path if path.is_file() else None
    given = tuple(os.environ.get(CREDENTIALS_ENV, "").replace(",", " ").split())
    if not given:
        return found
    return _with_credentials(found, given)


@functools.cache  # stores and runtime both ask: one private file per process, not one each
def _with_credentials(base: Path | None, given: tuple[str, ...]) -> Path:
    import atexit
    import base64
    import json
    import shutil
    import tempfile

    from startpoints.errors import StartpointsError

    config: dict[str, Any] = {}
    if base is not None:
        try:
            loaded = json.loads(base.read_text())
            config = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError) as error:
            raise StartpointsError(f"{base}: not a docker config.json: {error}") from None
    auths = config.setdefault("auths", {})
    for entry in given:
        host, _, secret = entry.partition("=")
        user, _, token = secret.partition(":")
        if not host or not user or not token:
            # the entry is a secret: it is never echoed, only where it stands
            raise StartpointsError(
                f"${CREDENTIALS_ENV}: entry {given.index(entry) + 1} is not HOST=USER:TOKEN"
            )
        auths[host] = {"auth": base64.b64encode(f"{user}:{token}".encode()).decode()}
        config.get("credHelpers", {}).pop(host, None)  # the environment's word wins
    folder = tempfile.mkdtemp(prefix="startpoints-auth-")  # 0700: this process's alone
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "config.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(config, out)
    return path


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    from startpoints.core.limits import DEFAULT

    parser.add_argument(
        "--registry-timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT.registry_deadline,
        help="the most one registry operation may take, retries included "
        f"(default {DEFAULT.registry_deadline:g})",
    )


def stores(args: Any) -> Stores:
    """Stores with docker's credentials and the limits the options set."""
    from dataclasses import replace

    from startpoints.core.limits import DEFAULT
    from startpoints.oci.stores import Stores

    timeout = getattr(args, "registry_timeout", None) or DEFAULT.registry_deadline
    return Stores(docker_config=docker_config(), limits=replace(DEFAULT, registry_deadline=timeout))


def list_sources(path: Path) -> list[str]:
    """A list's sources: one per line, `#` comments and blank lines skipped."""
    from startpoints.errors import StartpointsError

    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise StartpointsError(f"{path}: {error.strerror}") from None
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def open_catalog(args: Any) -> Any:
    """args.catalog, a folder or an image reference, opened with the verb's stores."""
    from startpoints.workflows import serve

    return serve.open_catalog(args.catalog, stores(args))


def say(message: str) -> None:
    """A verb's progress and warnings: stderr, so stdout holds only its answer."""
    print(message, file=sys.stderr)
