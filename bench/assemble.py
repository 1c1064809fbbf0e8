"""Benchmark: assemble the 82 real start points (shared/corpus, files stubbed at their sizes)
from a loopback registry, at N = 82 and N = 656 (each image also copied into 7 more
repositories), with and without the language-image lookup, against two references measured
in the same run:

(a) the incumbent procedure: cyber-dojo's start-point-create.sh loop, sequential full-history
    `git clone --single-branch` over git:// (git daemon) then `git checkout sha7` and dropping
    .git, of LTF-shaped repos holding the same start points, a quarter of them carrying 3 jars
    replaced over 5 commits (N = 82);
(b) a bare parallel fetch, the floor: on 16 threads and 16 connections (requests), GET each
    manifest, GET its layer, unpack it (tarfile, the `data` filter): nothing more.

Whole processes are timed, start-up included, as a user times them. Run: make bench
(BENCH_JAR_MB sets the jar size, default 2; BENCH_GIT=0 skips (a) and the git-source row;
BENCH_BEFORE=SRC adds rows timing the startpoints in SRC, another checkout's src/, the
same way: a change's figures before and after, from one run).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CORPUS, git, push_language_image  # noqa: E402
from tests.servers import GitDaemon, Registry  # noqa: E402
from tests.test_corpus import stub  # noqa: E402

from startpoints.core import reference  # noqa: E402
from startpoints.oci.descriptor import Descriptor  # noqa: E402
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
import io, sys, tarfile, requests
from concurrent.futures import ThreadPoolExecutor
host, into, listing = sys.argv[1:]
refs = open(listing).read().split()
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
accept = "application/vnd.oci.image.manifest.v1+json"
def get(i_ref):
    i, ref = i_ref
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    manifest = session.get(f"http://{host}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}).json()
    for layer in manifest["layers"]:
        blob = session.get(f"http://{host}/v2/{repo}/blobs/{layer['digest']}").content
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(f"{into}/{i}", filter="data")
with ThreadPoolExecutor(16) as pool:
    list(pool.map(get, enumerate(refs)))
"""
COPIES = 8  # N = 82 * COPIES: the same images in 7 more repositories each


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


def copy_image(stores: Stores, source: str, target: str, copy: int) -> None:
    """`source` pushed again under `target` (another repository), its start point's
    display_name made its own (a catalog's names are unique): its one layer rewritten, the
    config's diff_id and the manifest with it, the annotations kept."""
    src, dst = reference.parse(source), reference.parse(target)
    store = stores.for_ref(src)
    data, descriptor = store.fetch_manifest(src)
    value = json.loads(data)
    (layer,) = value["layers"]
    blob = store.fetch_blob(src, Descriptor.from_json(layer, source))
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar,
        tarfile.open(fileobj=out, mode="w") as new,
    ):
        for member in tar:
            body = tar.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
            if member.name.endswith("manifest.json") and body is not None:
                manifest = json.loads(body)
                manifest["display_name"] += f" ({copy})"
                body = json.dumps(manifest).encode()
                member.size = len(body)
            new.addfile(member, io.BytesIO(body) if body is not None else None)
    raw = out.getvalue()
    packed = gzip.compress(raw, mtime=0)
    config = json.loads(store.fetch_blob(src, Descriptor.from_json(value["config"], source)))
    config["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(raw).hexdigest()]
    config_data = json.dumps(config).encode()
    new_layer = Descriptor.of(packed, layer["mediaType"])
    new_config = Descriptor.of(config_data, value["config"]["mediaType"])
    store.push_blob(dst, new_layer, packed)
    store.push_blob(dst, new_config, config_data)
    value["layers"] = [new_layer.to_json()]
    value["config"] = new_config.to_json()
    store.push_manifest(dst, json.dumps(value).encode(), descriptor.media_type)


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
        many = list(image_sources)
        for copy in range(1, COPIES):
            for source in image_sources:
                target = source.replace("/cyberdojostartpoints/", f"/copy{copy}/")
                copy_image(stores, source, target, copy)
                many.append(target)
        listings = {}
        for sources in (image_sources, many):
            listings[len(sources)] = work / f"start-points-{len(sources)}.txt"
            listings[len(sources)].write_text("\n".join(sources) + "\n")
        git_listing = work / "start-points-git.txt"
        git_listing.write_text("\n".join(git_sources) + "\n")
        git_bytes = sum(f.stat().st_size for f in served.rglob("*") if f.is_file())

        before = os.environ.get("BENCH_BEFORE")
        with_git = os.environ.get("BENCH_GIT", "1") != "0"
        rows: dict[str, list[float]] = {}

        def row(name: str, command: list[str], pythonpath: str | None = None) -> None:
            rows.setdefault(name, []).append(timed(command, pythonpath))

        if with_git:
            clones = work / "clones"
            clones.mkdir()
            row("incumbent: sequential git clone (a), N=82", ["bash", "-c", INCUMBENT, "incumbent", str(clones), *git_sources])  # fmt: skip
            shutil.rmtree(clones)
        out = iter(range(1_000_000))
        for _ in range(RUNS):
            for n, listing in listings.items():
                ours = [sys.executable, "-m", "startpoints", "assemble", "--from", str(listing)]
                for lookup, extra in (("", []), (", --no-verify-images", ["--no-verify-images"])):
                    command = [*ours, *extra, "--output", str(work / f"catalog{next(out)}")]
                    row(f"startpoints assemble, N={n}{lookup}", command)
                    if before:
                        command = [*command[:-1], str(work / f"catalog{next(out)}")]
                        row(f"BENCH_BEFORE assemble, N={n}{lookup}", command, pythonpath=before)
                floor = [sys.executable, "-c", BARE_FETCH, registry.host]
                row(
                    f"bare fetch (b), N={n}",
                    [*floor, str(work / f"floor{next(out)}"), str(listing)],
                )
            row("startpoints --version (start-up alone)", [sys.executable, "-m", "startpoints", "--version"])  # fmt: skip
        # The git rows after all image rows: a git-source assemble leaves the disk writing
        # back hundreds of MB, which would land on whichever row came next.
        for _ in range(RUNS if with_git else 0):
            from_git = [sys.executable, "-m", "startpoints", "assemble", "--from", str(git_listing)]
            from_git += ["--output", str(work / f"catalog{next(out)}")]
            row("startpoints assemble, the sha7@git:// sources, N=82", from_git)
        entries = json.loads((work / "catalog0" / "catalog.json").read_text())["start_points"]
    finally:
        daemon.stop()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)

    median = {name: statistics.median(times) for name, times in rows.items()}
    print(
        f"assemble {len(entries)} and {len(entries) * COPIES} start points, median of {RUNS} runs "
        f"(incumbent: 1), whole processes; git repos {git_bytes / 1e6:.0f} MB on the daemon "
        f"(jars {JAR_MB} MB)"
    )
    for name, seconds in median.items():
        print(f"  {name:55} {seconds:8.3f} s")
    for n in listings:
        floor = median[f"bare fetch (b), N={n}"]
        for lookup in ("", ", --no-verify-images"):
            ours = median[f"startpoints assemble, N={n}{lookup}"]
            print(f"  N={n}{lookup}: startpoints / bare fetch = {ours / floor:.2f} (target <= 1.5)")
    if with_git:
        ours = median["startpoints assemble, N=82"]
        incumbent = median["incumbent: sequential git clone (a), N=82"]
        print(f"  N=82: incumbent / startpoints = {incumbent / ours:.0f}x faster (target >= 100x)")


if __name__ == "__main__":
    main()
