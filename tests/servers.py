"""Real servers on loopback for tests and benchmarks: a CNCF Distribution registry, and a
fault-injecting HTTP proxy in front of it (registries that fail mid-push cannot be asked to)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], what: str, deadline: float = 20.0) -> None:
    """Poll `check` until it is true, failing after `deadline` seconds (never a bare sleep)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what}: not within {deadline}s")


def wait_serving(process: subprocess.Popen[Any], port: int, what: str) -> None:
    """Poll until `process` answers /alive on `port`; fail at once, with its stderr, if it exits."""

    def up() -> bool:
        if process.poll() is not None:
            err = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"{what} exited {process.returncode}: {err!r}")
        return _answers(f"http://127.0.0.1:{port}/alive")

    wait_until(up, what)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Registry:
    """`docker-registry serve` (Debian's CNCF Distribution 2.8) on 127.0.0.1, filesystem-backed."""

    BLOB_GET = re.compile(r'"GET /v2/(?P<repo>[^ ]+)/blobs/(?P<digest>sha256:[0-9a-f]{64}) HTTP')
    BLOB_UPLOAD = re.compile(r'"(?:PUT|PATCH) /v2/(?P<repo>[^ ]+)/blobs/uploads/')
    MANIFEST_ASKED = re.compile(r'"(?:GET|HEAD) /v2/[^ ]+/manifests/[^ ]+ HTTP')

    def __init__(self, workdir: Path) -> None:
        if shutil.which("docker-registry") is None:
            raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
        self.workdir = workdir
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.log = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.yml").write_text(
            "version: 0.1\n"
            "log: {level: info, accesslog: {disabled: false}}\n"
            f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.host}'}}\n"
        )

    def start(self) -> Registry:
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self._process = subprocess.Popen(
                ["docker-registry", "serve", str(self.workdir / "config.yml")],
                stdout=log,
                stderr=log,
            )
        wait_until(lambda: _answers(f"http://{self.host}/v2/"), f"registry on {self.host}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def blob_fetches(self) -> list[str]:
        return [m["digest"] for m in self.BLOB_GET.finditer(self.log_text())]

    def blob_uploads(self) -> int:
        return len(self.BLOB_UPLOAD.findall(self.log_text()))

    def manifest_requests(self) -> int:
        """GETs and HEADs of manifests the registry logged, answered or refused."""
        return len(self.MANIFEST_ASKED.findall(self.log_text()))

    def tags(self, repository: str) -> list[str]:
        try:
            with urllib.request.urlopen(
                f"http://{self.host}/v2/{repository}/tags/list", timeout=5
            ) as r:
                import json

                return sorted(json.load(r).get("tags") or [])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise


Fault = Callable[[str, str], int | None]  # (method, path) -> a status to answer instead, or None


class FaultyProxy:
    """Forwards every request to a registry unless `fault(method, path)` names a status to
    answer instead; records each request as 'METHOD path'."""

    def __init__(
        self, upstream: str, fault: Fault, tamper: Callable[[str, str, bytes], bytes] | None = None
    ) -> None:
        self.upstream = upstream
        self.fault = fault
        self.tamper = tamper or (lambda _method, _path, body: body)

        self.requests: list[str] = []
        self.blob_bytes_uploaded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _any(self) -> None:
                proxy.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command in ("PUT", "PATCH") and "/blobs/uploads/" in self.path:
                    proxy.blob_bytes_uploaded += len(body)
                status = proxy.fault(self.command, self.path)
                if status is not None:
                    payload, extra = proxy.refusal(status)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":  # a HEAD answer has no body
                        self.wfile.write(payload)
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = proxy.tamper(self.command, self.path, response.read())

                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(key, value)
                for key, value in proxy.extra_headers(self.command, self.path).items():
                    self.send_header(key, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def extra_headers(self, method: str, path: str) -> dict[str, str]:
        """Headers added to a forwarded answer."""
        return {}

    def refusal(self, status: int) -> tuple[bytes, dict[str, str]]:
        """The body and extra headers of an injected refusal."""
        return b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}', {}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DockerHubLimits(FaultyProxy):
    """A registry behind Docker Hub's pull limit: `allowed` manifest GETs (a "pull", as Docker
    Hub counts them), then 429 with its TOOMANYREQUESTS error and ratelimit headers; HEADs are
    free, and answer the quota left in `ratelimit-remaining`. `allowed` may be raised to let pulls through again; `manifest_gets` counts them all,
    refused ones too."""

    def __init__(self, upstream: str, allowed: int) -> None:
        self.allowed = allowed
        self.manifest_gets = 0
        self.refused = 0  # 429s answered
        self.retry_after: str | None = None  # a Retry-After to send with each refusal
        self.window = 21600  # seconds, as ratelimit-limit's w= says: Docker Hub's six hours
        super().__init__(upstream, self._limit)

    def _limit(self, method: str, path: str) -> int | None:
        if method != "GET" or "/manifests/" not in path:
            return None
        self.manifest_gets += 1
        refused = self.manifest_gets > self.allowed
        self.refused += refused
        return 429 if refused else None

    def extra_headers(self, method: str, path: str) -> dict[str, str]:
        """On a manifest HEAD (free), the quota left, as Docker Hub says it."""
        if method != "HEAD" or "/manifests/" not in path:
            return {}
        left = max(0, self.allowed - self.manifest_gets)
        return {
            "ratelimit-limit": f"100;w={self.window}",
            "ratelimit-remaining": f"{left};w={self.window}",
        }

    def refusal(self, status: int) -> tuple[bytes, dict[str, str]]:
        message = (
            "You have reached your unauthenticated pull rate limit. "
            "https://www.docker.com/increase-rate-limit"
        )
        body = f'{{"errors":[{{"code":"TOOMANYREQUESTS","message":"{message}"}}]}}'.encode()
        headers = {
            "ratelimit-limit": f"100;w={self.window}",
            "ratelimit-remaining": f"0;w={self.window}",
        }
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return body, headers


class AuthRegistry(Registry):
    """A registry that asks for a login (htpasswd, Basic auth), as self-hosted ones do."""

    def __init__(self, workdir: Path, user: str, password: str) -> None:
        import bcrypt

        super().__init__(workdir)
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (workdir / "htpasswd").write_text(f"{user}:{hashed}\n")
        with open(workdir / "config.yml", "a") as config:
            config.write(
                f"auth: {{htpasswd: {{realm: startpoints-test, path: {workdir / 'htpasswd'}}}}}\n"
            )

    def start(self) -> Registry:
        self._process = subprocess.Popen(
            ["docker-registry", "serve", str(self.workdir / "config.yml")],
            stdout=open(self.log, "ab"),  # noqa: SIM115 - owned by the process
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: _status(f"http://{self.host}/v2/") == 401, f"registry on {self.host}")
        return self


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


class GitDaemon:
    """`git daemon` serving every repo under `base` over git:// on 127.0.0.1, with partial
    clone (filters) allowed as GitHub allows it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.url = f"git://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> GitDaemon:
        self._process = subprocess.Popen(
            [
                "git", "-c", "uploadpack.allowFilter=true", "-c", "uploadpack.allowAnySHA1InWant=true",
                "daemon", "--reuseaddr", "--export-all", "--enable=upload-pack",
                f"--base-path={self.base}", "--listen=127.0.0.1", f"--port={self.port}", str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self._answers, f"git daemon on {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


class Podman:
    """`podman system service`: the Docker Engine API on a unix socket (vfs storage, its own
    root), trusting the given plain-HTTP registries as Docker trusts loopback ones."""

    def __init__(self, workdir: Path, insecure_registries: tuple[str, ...] = ()) -> None:
        if shutil.which("podman") is None:
            raise RuntimeError("podman is not installed (Debian package podman)")
        self.workdir = workdir
        self.socket = workdir / "podman.sock"
        self.url = f"unix://{self.socket}"
        workdir.mkdir(parents=True, exist_ok=True)
        registries = "".join(
            f'[[registry]]\nlocation = "{r}"\ninsecure = true\n\n' for r in insecure_registries
        )
        (workdir / "registries.conf").write_text(
            "unqualified-search-registries = []\n\n" + registries
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Podman:
        import os

        env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(self.workdir / "registries.conf")}
        storage = [
            "--root",
            str(self.workdir / "root"),
            "--runroot",
            str(self.workdir / "run"),
            "--storage-driver",
            "vfs",
        ]
        self._process = subprocess.Popen(
            ["podman", *storage, "system", "service", "--time=0", self.url],
            stdout=open(self.workdir / "podman.log", "ab"),  # noqa: SIM115 - owned by the process
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_until(self.socket.exists, f"podman service on {self.socket}")
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._process = None


class Dockerd:
    """A real Docker Engine: Debian's `dockerd` (20.10) on a socket, root and exec-root of its
    own, no iptables and no bridge (containers run with `--network none` or the host's
    network); overlay2, else vfs where the kernel refuses overlay. Loopback registries are
    plain HTTP to it by default, as to any Docker."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("dockerd") is None:
            raise RuntimeError("dockerd is not installed (Debian package docker.io)")
        self.workdir = workdir
        self.socket = workdir / "docker.sock"
        self.url = f"unix://{self.socket}"
        self._process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> Dockerd:
        for driver in ("overlay2", "vfs"):
            self._process = subprocess.Popen(
                [
                    "dockerd", "--host", self.url, "--data-root", str(self.workdir / "root"),
                    "--exec-root", str(self.workdir / "exec"), "--pidfile", str(self.workdir / "pid"),
                    "--iptables=false", "--ip6tables=false", "--bridge=none",
                    f"--storage-driver={driver}",
                ],
                stdout=open(self.workdir / "dockerd.log", "ab"),  # noqa: SIM115 - owned by the process
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_until(self._answers, f"dockerd on {self.socket}", deadline=60)
                return self
            except (TimeoutError, AssertionError):
                self.stop()
        raise RuntimeError(
            f"dockerd did not start: {(self.workdir / 'dockerd.log').read_text()[-2000:]}"
        )

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"dockerd exited {self._process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(self.socket))
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b" 200 " in s.recv(64)
        except OSError:
            return False

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Debian's own CLI, `/usr/bin/docker`, against this engine."""
        import os

        env = {**os.environ, "DOCKER_HOST": self.url, "DOCKER_CONFIG": str(self.workdir / "cli")}
        return subprocess.run(["/usr/bin/docker", *args], capture_output=True, text=True, env=env)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
        # dockerd leaves its network namespace and layer mounts behind: let the folder go
        with open("/proc/mounts") as mounts:
            inside = [line.split()[1] for line in mounts if f" {self.workdir}/" in line]
        for mount in reversed(inside):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)


class Containerd:
    """containerd with its CRI plugin (native snapshotter, its own root/state/socket), pulling
    from the given plain-HTTP registries through `hosts.toml`: what a Kubernetes node runs."""

    def __init__(self, workdir: Path, plain_http_registries: tuple[str, ...] = ()) -> None:
        if shutil.which("containerd") is None:
            raise RuntimeError("containerd is not installed (Debian package containerd)")
        self.workdir = workdir
        self.socket = workdir / "containerd.sock"
        self.url = f"unix://{self.socket}"
        for host in plain_http_registries:
            hosts = workdir / "certs.d" / host
            hosts.mkdir(parents=True, exist_ok=True)
            (hosts / "hosts.toml").write_text(
                f'server = "http://{host}"\n\n[host."http://{host}"]\n  capabilities = ["pull", "resolve"]\n'
            )
        (workdir / "config.toml").write_text(
            "version = 2\n"
            f'root = "{workdir / "root"}"\nstate = "{workdir / "state"}"\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            '[plugins."io.containerd.grpc.v1.cri"]\n  disable_tcp_service = true\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n'
            f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{workdir / "certs.d"}"\n'
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Containerd:
        self._process = subprocess.Popen(
            ["containerd", "--config", str(self.workdir / "config.toml")],
            stdout=open(self.workdir / "containerd.log", "ab"),  # noqa: SIM115 - owned by the process
            stderr=subprocess.STDOUT,
        )
        wait_until(self.socket.exists, f"containerd on {self.socket}")
        return self

    def ctr_images(self) -> list[str]:
        done = subprocess.run(
            ["ctr", "--address", str(self.socket), "-n", "k8s.io", "images", "ls", "-q"],
            capture_output=True,
            text=True,
            check=True,
        )
        return sorted(line for line in done.stdout.splitlines() if not line.startswith("sha256:"))

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=20)
            self._process = None


class TokenRegistry(Registry):
    """A registry that wants bearer tokens (as GHCR and Docker Hub do), with the token server
    beside it: tokens are JWTs signed by a key the registry trusts; `user`/`password` get
    every action asked for, anonymous callers get none."""

    def __init__(self, workdir: Path, user: str, password: str) -> None:
        import base64
        import datetime
        import json
        import urllib.parse

        import jwt
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        super().__init__(workdir)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "startpoints test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        (workdir / "issuer.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        chain = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.tokens_issued = 0
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                query = urllib.parse.urlparse(self.path).query
                scopes = [v for k, v in urllib.parse.parse_qsl(query) if k == "scope"]
                granted = self.headers.get("Authorization") == expected
                access = []
                for scope in scopes if granted else []:
                    kind, repository, actions = scope.split(":")
                    access.append({"type": kind, "name": repository, "actions": actions.split(",")})
                issued = int(time.time())
                claims = {"iss": "startpoints-test", "sub": user if granted else "", "aud": "startpoints-test-registry",
                          "iat": issued, "nbf": issued - 10, "exp": issued + 300, "jti": str(issued) + str(registry.tokens_issued), "access": access}  # fmt: skip
                token = jwt.encode(claims, key, algorithm="ES256", headers={"x5c": chain})
                registry.tokens_issued += 1
                body = json.dumps(
                    {"token": token, "access_token": token, "expires_in": 300}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                # containerd asks by OAuth2 POST first and falls back to GET on a 404, as
                # GHCR's and Docker Hub's token servers may answer it
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._tokens = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._tokens.serve_forever, daemon=True).start()
        realm = f"http://127.0.0.1:{self._tokens.server_address[1]}/token"
        with open(workdir / "config.yml", "a") as config:
            config.write(
                f"auth: {{token: {{realm: '{realm}', service: startpoints-test-registry, issuer: startpoints-test, "
                f"rootcertbundle: {workdir / 'issuer.pem'}}}}}\n"
            )

    def start(self) -> Registry:
        self._process = subprocess.Popen(
            ["docker-registry", "serve", str(self.workdir / "config.yml")],
            stdout=open(self.log, "ab"),  # noqa: SIM115 - owned by the process
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: _status(f"http://{self.host}/v2/") == 401, f"registry on {self.host}")
        return self

    def stop(self) -> None:
        super().stop()
        self._tokens.shutdown()
        self._tokens.server_close()


Script = Callable[[http.server.BaseHTTPRequestHandler, threading.Event], None]


class HostileRegistry:
    """A registry that answers whatever `script(handler, closing)` writes: oversized,
    malformed, dripping or stalled answers a real registry cannot be asked to give.
    `closing` is set when the test ends, so a script that stalls stops too."""

    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        self.requests: list[str] = []
        self.closing = threading.Event()
        hostile = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _any(self) -> None:
                hostile.requests.append(f"{self.command} {self.path}")
                # the client may hang up on us, as it should
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    script(self, hostile.closing)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _any

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.host = f"{host}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


def answer(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
