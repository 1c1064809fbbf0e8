"""Benchmark: assemble the 82 real start points (shared/corpus, files stubbed at their sizes)
from a loopback registry, against two references measured in the same run:

(a) the incumbent procedure: cyber-dojo's start-point-create.sh loop, sequential full-history
    `git clone --single-branch` over git:// (git daemon) then `git checkout sha7` and dropping
    .git, of LTF-shaped repos holding the same start points, a quarter of them carrying 3 jars
    replaced over 5 commits;
(b) a bare parallel HTTP fetch (16 threads, 16 connections) of the same manifests, configs and
    layers, no checks, nothing written: the floor.

Whole processes are timed, start-up included, as a user times them. Run: make bench
(BENCH_JAR_MB sets the jar size, default 2; BENCH_GIT=0 skips (a) and the git-source row;
BENCH_BEFORE=SRC adds a row timing the startpoints in SRC, another checkout's src/, the
same way: a change's figures before and after, from one run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CORPUS, git, push_language_image  # noqa: E402
from tests.servers import GitDaemon, Registry  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

from startpoints.core import reference  # noqa: E402
from startpoints.oci.stores import Stores  # noqa: E402
from startpoints.workflows import publish  # noqa: E402

JAR_MB = int(os.environ.get("BENCH_JAR_MB", "2"))
RUNS = 5  # the incumbent runs once: at ~100 s a run its spread is far from the ratio's margin
INCUMBENT = """
set -e
cd "$1"; shift
i=0
for source in "$@"; do
  sha7="${source%%@*}"; url="${source#*@}"
  git clone -q --single-branch --branch main "$url" "$i"
  git -C "$i" -c advice.detachedHead=false checkout -q "$sha7"
  rm -rf "$i/.git"
  i=$((i+1))
done
"""
BARE_FETCH = """
import json, sys, requests
from concurrent.futures import ThreadPoolExecutor
host, refs = sys.argv[1], sys.argv[2:]
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
accept = "application/vnd.oci.image.manifest.v1+json"
def get(ref):
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    manifest = session.get(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}).json()
    for blob in [manifest["config"], *manifest["layers"]]:
        session.get(f"http://{host}/v2/{repo}/blobs/{blob['digest']}").content
with ThreadPoolExecutor(16) as pool:
    list(pool.map(get, refs))
"""


def make_repos(work: Path) -> list[Path]:
    """One LTF-shaped repo per corpus language: start_point/ plus, for a quarter, docker/ jars."""
    stubbed = work / "stubbed"
    stub("languages", stubbed)
    rng = random.Random(42)
    repos = []
    for n, folder in enumerate(sorted(p for p in stubbed.iterdir() if p.name != "haskell-hunit")):
        repo = work / "repos" / folder.name
        shutil.copytree(folder, repo / "start_point")
        (repo / "README.md").write_text(f"# {folder.name}\n")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "start point")
        if n % 4 == 0:
            (repo / "docker").mkdir()
            for commit in range(5):
                for jar in range(3):
                    (repo / "docker" / f"lib{jar}.jar").write_bytes(
                        rng.randbytes(JAR_MB * 1024 * 1024)
                    )
                git(repo, "add", "-A")
                git(repo, "commit", "-q", "-m", f"jars {commit}")
        repos.append(repo)
    return repos


def timed(command: list[str], pythonpath: str | None = None) -> float:
    os.sync()  # each row starts on a settled disk, not under the last one's writeback
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    if not CORPUS.is_dir():
        raise SystemExit(f"needs the corpus at {CORPUS}")
    work = Path(tempfile.mkdtemp(prefix="bench-assemble-"))
    registry = Registry(work / "registry").start()
    served = work / "served"
    served.mkdir()
    daemon = GitDaemon(served).start()
    try:
        print(
            "setting up 82 repos, their language images and start-point images ...", file=sys.stderr
        )
        stores = Stores()
        git_sources, image_sources = [], []
        for repo in make_repos(work):
            name = repo.name.replace("-", "_")
            language = reference.parse(f"{registry.host}/cyberdojofoundation/{name}:ci")
            push_language_image(stores, language, name)
            result = publish.publish(publish.Request(repo_dir=repo, image=language), stores)
            image_sources.append(
                str(result.start_point.with_tag(result.start_point.tag or "")).split("@")[0]
            )
            git(served, "clone", "-q", "--bare", str(repo), f"{repo.name}.git")
            git_sources.append(f"{result.revision[:7]}@{daemon.url}/{repo.name}.git")
        listing = work / "start-points.txt"
        listing.write_text("\n".join(image_sources) + "\n")
        git_listing = work / "start-points-git.txt"
        git_listing.write_text("\n".join(git_sources) + "\n")
        git_bytes = sum(f.stat().st_size for f in served.rglob("*") if f.is_file())

        rows: dict[str, list[float]] = {
            "incumbent: sequential git clone (a)": [],
            "startpoints assemble": [],
            "startpoints assemble --jobs 16": [],
            "bare parallel HTTP fetch (b)": [],
            "startpoints --version (start-up alone)": [],
            "startpoints assemble, the sha7@git:// sources": [],
        }
        before = os.environ.get("BENCH_BEFORE")
        if before:
            rows["startpoints assemble, BENCH_BEFORE"] = []

        with_git = os.environ.get("BENCH_GIT", "1") != "0"
        if with_git:
            clones = work / "clones"
            clones.mkdir()
            rows["incumbent: sequential git clone (a)"].append(
                timed(["bash", "-c", INCUMBENT, "incumbent", str(clones), *git_sources])
            )
            shutil.rmtree(clones)
        else:
            del rows["incumbent: sequential git clone (a)"]
            del rows["startpoints assemble, the sha7@git:// sources"]
        for run in range(RUNS):
            ours = [
                sys.executable,
                "-m",
                "startpoints",
                "assemble",
                "--from",
                str(listing),
                "--output",
                str(work / f"catalog{run}"),
            ]
            rows["startpoints assemble"].append(timed(ours))
            if before:
                then = [*ours[:-1], str(work / f"catalog-before-{run}")]
                rows["startpoints assemble, BENCH_BEFORE"].append(timed(then, pythonpath=before))
            rows["startpoints assemble --jobs 16"].append(
                timed([*ours[:-1], str(work / f"catalog16-{run}"), "--jobs", "16"])
            )
            rows["bare parallel HTTP fetch (b)"].append(
                timed([sys.executable, "-c", BARE_FETCH, registry.host, *image_sources])
            )
            rows["startpoints --version (start-up alone)"].append(
                timed([sys.executable, "-m", "startpoints", "--version"])
            )
        # The git rows after all image rows: a git-source assemble leaves the disk writing
        # back hundreds of MB, which would land on whichever row came next.
        for run in range(RUNS if with_git else 0):
            if with_git:
                from_git = [
                    sys.executable,
                    "-m",
                    "startpoints",
                    "assemble",
                    "--from",
                    str(git_listing),
                ]
                from_git += ["--output", str(work / f"git-catalog{run}")]
                rows["startpoints assemble, the sha7@git:// sources"].append(timed(from_git))

        entries = json.loads((work / "catalog0" / "catalog.json").read_text())["start_points"]
    finally:
        daemon.stop()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)

    median = {name: statistics.median(times) for name, times in rows.items()}
    print(
        f"assemble {len(entries)} start points, median of {RUNS} runs (incumbent: 1), whole processes; git repos {git_bytes / 1e6:.0f} MB on the daemon (jars {JAR_MB} MB)"
    )
    for name, seconds in median.items():
        print(f"  {name:40} {seconds:8.3f} s")
    ours = median["startpoints assemble"]
    if "incumbent: sequential git clone (a)" in median:
        print(
            f"  incumbent / startpoints = {median['incumbent: sequential git clone (a)'] / ours:.0f}x faster (target >= 100x)"
        )
    print(
        f"  startpoints / bare fetch = {ours / median['bare parallel HTTP fetch (b)']:.2f} (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
