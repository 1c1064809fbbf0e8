"""Differential: cyber-dojo's own start-points server (Ruby, puma) and `startpoints serve` on the
same catalog folders, sent the same requests over real sockets; status, content type and body
must be equal. Bodies are compared byte for byte, except that the real server's backtrace
(its file paths and source lines) is replaced by the empty one ours sends. Requests whose
answers differ on purpose (docs/formats.md) are not sent here; tests/http/test_app.py pins them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from startpoints.oci.stores import Stores
from startpoints.workflows import assemble
from tests.conftest import CORPUS, CYBERDOJO, EXAMPLES
from tests.servers import free_port, wait_until
from tests.test_corpus import stub

MISSING = [tool for tool in ("ruby", "puma") if shutil.which(tool) is None]
if not (CYBERDOJO / "real-server.sh").exists():
    MISSING.append(str(CYBERDOJO / "real-server.sh"))
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"needs {', '.join(MISSING)} (Debian packages ruby, puma, ruby-rack)"
)
SHA = "0123456789abcdef0123456789abcdef01234567"
ROUTES = ["alive", "ready", "sha", "names", "manifests", "image_names", "manifest", "nope", "Names"]
_BACKTRACE = re.compile(rb'"backtrace": \[.*?\n    \]', re.S)


def answer(port: int, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # the path exactly as given: no client-side normalising of `//` or `%6D`
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def comparable(answered: tuple[int, str, bytes]) -> tuple[int, str, bytes]:
    status, kind, body = answered
    return status, kind, _BACKTRACE.sub(b'"backtrace": []', body)


class Pair:
    def __init__(self, real: int, ours: int, repos: Path) -> None:
        self.real, self.ours, self.repos = real, ours, repos

    def check(self, method: str, path: str, body: bytes) -> None:
        real = comparable(answer(self.real, method, path, body))
        ours = answer(self.ours, method, path, body)
        assert ours == real, f"{method} {path} {body[:80]!r}"


def _up(port: int) -> bool:
    try:
        return answer(port, "GET", "/alive", b"")[0] == 200
    except OSError:
        return False


@pytest.fixture(
    scope="module", params=["examples", "nested", "corpus languages", "assembled catalog"]
)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    """Both servers over one folder laid out as the real server's image lays it out."""
    repos = tmp_path_factory.mktemp("repos")
    if request.param == "examples":
        for i, example in enumerate(["bash-bats", "python-pytest"]):
            shutil.copytree(EXAMPLES / example / "start_point", repos / str(i) / "start_point")
    elif request.param == "nested":
        # a start point at an index folder's root with others below it, and one in a
        # dot-folder, which neither server may find
        shutil.copytree(EXAMPLES / "bash-bats" / "start_point", repos / "0")
        shutil.copytree(EXAMPLES / "python-pytest" / "start_point", repos / "0" / "deeper" / "py")
        shutil.copytree(EXAMPLES / "python-pytest" / "start_point", repos / "1" / ".hidden" / "py")
        hidden = json.loads((repos / "1/.hidden/py/manifest.json").read_text())
        (repos / "1/.hidden/py/manifest.json").write_text(
            json.dumps({**hidden, "display_name": "Hidden, x"})
        )
        shutil.copytree(EXAMPLES / "bash-bats" / "start_point", repos / "1" / "b")
        bats = json.loads((repos / "1/b/manifest.json").read_text())
        (repos / "1/b/manifest.json").write_text(
            json.dumps({**bats, "display_name": "Bash 5, bats 2", "language": ["Bash", "5"],
                        "test_framework": ["bats", "2"]})
        )  # fmt: skip
    elif not CORPUS.is_dir():
        pytest.skip(f"needs the corpus at {CORPUS}")
    elif request.param == "assembled catalog":
        # 12 start points, as `assemble --output` lays them out: 0/ 1/ ... 11/ and catalog.json,
        # which the real server ignores and finds 0, 1, 10, 11, 2, ... in; and the 6 of the
        # catalog it replaced that it no longer serves, in .previous/, which neither server
        # may list (ours answers /manifest for them alone: tests/workflows/test_previous.py)
        stubbed = tmp_path_factory.mktemp("stubbed")
        stub("languages", stubbed)
        sources = [str(p) for p in sorted(stubbed.iterdir())]
        previous = tmp_path_factory.mktemp("previous") / "catalog"
        assemble.assemble(assemble.Request(sources=sources[:12], output=previous), Stores())
        shutil.rmtree(repos)
        request = assemble.Request(sources=sources[6:18], output=repos, previous=str(previous))
        assemble.assemble(request, Stores())
        assert len(list((repos / ".previous").iterdir())) == 6
    else:
        stub("languages", repos)
    real_port, our_port = free_port(), free_port()
    env = {**os.environ, "SHA": SHA}
    real = subprocess.Popen(
        ["bash", str(CYBERDOJO / "real-server.sh"), str(repos), str(real_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ours = subprocess.Popen(
        [sys.executable, "-m", "startpoints", "serve", str(repos), "--host", "127.0.0.1",
         "--port", str(our_port), "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _up(real_port), "cyber-dojo's server", deadline=60)
        wait_until(lambda: _up(our_port), "startpoints serve")
        yield Pair(real_port, our_port, repos)
    finally:
        for process in (real, ours):
            process.terminate()
            process.wait(timeout=10)


def names(pair: Pair) -> list[str]:
    return list(json.loads(answer(pair.real, "GET", "/names", b"")[2])["names"])


BODIES = [
    b"", b"{}", b'{"name": null}', b'{"name": 42}', b'{"name": ["a"]}', b'{"name": "Cobol"}',
    b'{"name": ""}', b'{"other": 1}', b" ", b"\n", b"{", b"{not json", b"[1, 2]", b'"text"',
    b"7", b"null", b'{"name": NaN}', b'{"a": 1} x', b"[" * 101 + b"]" * 101, b'{"name": 1e999}',
    b'"\\0"', b'{"name": "\\q"}', b'{"name": "a\\ \\\\\\x"}', b'{"name": "\\uZZZZ"}', b'{"name": "\\u00e9"}',
]  # fmt: skip


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("route", ROUTES)
def test_every_route_and_body_answers_alike(pair: Pair, route: str, method: str) -> None:
    for body in BODIES:
        pair.check(method, f"/{route}", body)
    if route == "manifest":
        first = names(pair)[0]
        for body in (
            json.dumps({"name": first}).encode(),
            json.dumps({"name": first, "x": 1}).encode(),
        ):
            pair.check(method, "/manifest", body)


@pytest.mark.parametrize(
    "path",
    ["/names/", "//names", "/names//", "/na%6Des", "/names?", "/names?x=1", "/ready?", "/alive?",
     "/", "/manifest/", "/%20names", "/names%3F"],
)  # fmt: skip
def test_path_variants_answer_alike(pair: Pair, path: str) -> None:
    if path == "/":
        pytest.skip("/ is the status page here, a 400 there (docs/formats.md)")
    for body in (b"", b"{}", b" "):
        pair.check("GET", path, body)


def test_every_name_and_display_name_is_served_alike(pair: Pair) -> None:
    manifests = json.loads(answer(pair.real, "GET", "/manifests", b"")[2])["manifests"]
    found = sorted(pair.repos.rglob("manifest.json"))
    raw = [  # not .previous/'s: ours answers those on purpose, the real server cannot
        json.loads(p.read_text())["display_name"]
        for p in found
        if ".previous" not in p.relative_to(pair.repos).parts
    ]
    for name in [*manifests, *raw]:
        pair.check("GET", "/manifest", json.dumps({"name": name}).encode())


@settings(max_examples=60, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    route=st.sampled_from(["manifest", "names", "ready", "sha"]),
)
def test_generated_bodies_answer_alike(pair: Pair, value: object, route: str) -> None:
    body = json.dumps({"name": value} if route == "manifest" else value).encode()
    pair.check("POST", f"/{route}", body)


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet='{}[]":, 0123456789abnlutrefNI-.+eE\n\t\\/é', max_size=12))
def test_generated_bad_json_answers_alike(pair: Pair, text: str) -> None:
    pair.check("GET", "/names", text.encode())
