"""`make demo`: the main job end to end with no registry and no container engine.

Each example under examples/ becomes a git repo, gets a small stand-in language image
in an OCI image layout (demo/layout), and is published there by the real
`startpoints publish` command, as a language repo's CI would publish to a registry; then
`startpoints assemble` makes the catalog from those images, and `startpoints serve` serves
it on 127.0.0.1:4524 until Ctrl-C (`--no-serve` stops after assembling).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from startpoints.core import reference
from startpoints.oci import image, layer, write
from startpoints.oci.layout import LayoutStore

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "demo"
LAYOUT = WORK / "layout"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "cyber-dojo",
    "GIT_AUTHOR_EMAIL": "demo@cyber-dojo.org",
    "GIT_COMMITTER_NAME": "cyber-dojo",
    "GIT_COMMITTER_EMAIL": "demo@cyber-dojo.org",
    "GIT_AUTHOR_DATE": "2026-06-20T12:00:00Z",
    "GIT_COMMITTER_DATE": "2026-06-20T12:00:00Z",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True)


def make_repo(example: Path) -> Path:
    repo = WORK / "repos" / example.name
    shutil.copytree(example, repo)
    git(repo, "init", "-q", "-b", "main")
    git(
        repo,
        "remote",
        "add",
        "origin",
        f"https://github.com/cyber-dojo-start-points/{example.name}",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start point")
    return repo


def stand_in_language_image(image_name: str) -> str:
    """A tiny image standing in for the real (large) language image, in the layout, tagged
    as a CI build would leave it before publish gives it its sha7 tag."""
    ref = reference.parse(f"oci:{LAYOUT}:{image_name}:ci-build")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "README").write_text(f"stand-in for {image_name}\n")
        packed = layer.from_dir(Path(tmp), "usr/share/cyber-dojo")
    built = image.build([packed], created="2026-06-20T12:00:00Z", annotations={"demo": image_name})
    write.write(LayoutStore(LAYOUT), ref, built)
    return str(ref)


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    published = []
    for example in sorted(p for p in (ROOT / "examples").iterdir() if (p / "start_point").is_dir()):
        repo = make_repo(example)
        image_name = json.loads((example / "start_point" / "manifest.json").read_text())[
            "image_name"
        ]
        language = stand_in_language_image(image_name)
        print(f"$ startpoints publish {repo.relative_to(ROOT)} --image {language}", flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "startpoints", "publish", str(repo), "--image", language],
            stdout=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            return done.returncode
        published.append(done.stdout.splitlines()[-1])
        print(published[-1], flush=True)
    print(f"\nOCI layout {LAYOUT.relative_to(ROOT)} now holds:")
    for name in LayoutStore(LAYOUT).tags():
        print(f"  {name}")
    catalog = WORK / "catalog"
    print(
        f"\n$ startpoints assemble <the {len(published)} start-point images> --output {catalog.relative_to(ROOT)}",
        flush=True,
    )
    sources = [ref.split("@")[0] for ref in published]
    assembled = subprocess.run(
        [sys.executable, "-m", "startpoints", "assemble", *sources, "--output", str(catalog)]
    )
    if assembled.returncode != 0:
        return assembled.returncode
    if "--no-serve" in sys.argv:
        return 0
    print(f"\n$ startpoints serve {catalog.relative_to(ROOT)} --host 127.0.0.1 --port 4524")
    print(
        "  try: curl http://127.0.0.1:4524/names   (open http://127.0.0.1:4524/ for the status page; Ctrl-C stops)",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "startpoints",
                "serve",
                str(catalog),
                "--host",
                "127.0.0.1",
                "--port",
                "4524",
            ]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
