"""Registry credentials and where they may be sent.

Credentials come from docker's config.json (`auths`, `credsStore`, `credHelpers`), read by
the docker SDK's public `docker.auth`, the code Docker's own Python client uses, so the pull
path (an engine or a CRI pulling on our behalf) needs no registry client to find them. The
CLI lays `STARTPOINTS_CREDENTIALS` over that file (cli/common.py).
"""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

DOCKER_HUB = "docker.io"  # the name `docker login` files Docker Hub's credentials under
DOCKER_HUB_HOSTS = ("docker.io", "registry-1.docker.io", "index.docker.io")


def credentials(host: str, docker_config: Path | None) -> tuple[str, str] | None:
    """The user and password docker config.json holds for `host`; None when none."""
    import docker.auth  # docker.auth, not the client: ~20 ms once requests is in

    config = docker.auth.load_config(config_path=str(docker_config) if docker_config else None)
    registry = DOCKER_HUB if host in DOCKER_HUB_HOSTS else host
    found = docker.auth.resolve_authconfig(config, registry=registry)
    if not found or not found.get("username") or found.get("password") is None:
        return None
    return str(found["username"]), str(found["password"])


def realm_refused(challenge: str, scheme: str, host: str) -> str | None:
    """Where a Bearer challenge would have credentials sent, when that is neither HTTPS nor
    the registry's own host (a hostile registry's realm would harvest them in clear text);
    None when sending them is safe."""
    if challenge[:6].lower() != "bearer":
        return None
    match = re.search(r'realm="([^"]*)"', challenge)
    realm = match.group(1) if match else ""
    parts = urllib.parse.urlsplit(realm if "://" in realm else f"{scheme}://{realm}")
    own = urllib.parse.urlsplit(f"{scheme}://{host}").hostname
    if parts.scheme == "https" or parts.hostname == own:
        return None
    return f"{parts.scheme}://{parts.netloc[:100]}"
