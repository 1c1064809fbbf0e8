"""A registry as a Store, over the OCI distribution API.

The only module that imports the registry client library (oras-py's auth backends, on
requests): they bring token auth (anonymous or from credentials, scoped per repository) and
Basic auth; the credentials come from oci/authn.py, looked up once per registry. Every
error they or requests raise leaves here as a StoreError, Denied or NotFound naming the
registry and the object.

Only `oras.auth` is imported, not `oras.provider`: the provider pulls in jsonschema
(~80 ms at every start, measured; docs/benchmarks.md) for manifest validation we do not
use, and its request loop sleeps up to 83 s between retries. The loop below is oras'
own `do_request` (401/403 → `authenticate_request` → again), with our retry policy.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import oras.auth
import requests
import requests.adapters
import requests.utils

from startpoints.core import ratelimit, strictjson
from startpoints.core.backoff import Backoff
from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.reference import Reference
from startpoints.core.words import count
from startpoints.errors import Denied, NotFound, StoreError, Unreachable
from startpoints.oci import authn, mediatypes
from startpoints.oci.descriptor import Descriptor, sha256

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_NEXT = re.compile(r'<([^>]+)>;\s*rel="?next"?')
_TIMEOUT = (10, 120)  # seconds to connect, then between bytes
_ERROR_BODY = 64 * 1024  # what an error answer may say; the rest is not read
# connection errors, 429 and 5xx: tried 5 times, 0.25 s apart and doubling, within the deadline
RETRY = Backoff(first=0.25, cap=4.0, attempts=5)


class RegistryStore:
    def __init__(
        self,
        host: str,
        *,
        plain_http: bool,
        docker_config: Path | None = None,
        retry: Backoff | None = None,
        pool_size: int = 16,
        limits: Limits = DEFAULT,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.host = host
        self.limits = limits
        self.cancelled = cancelled or threading.Event()
        self.scheme = "http" if plain_http else "https"
        self.retry = retry or RETRY
        self._docker_config = docker_config
        self._session = requests.Session()
        # Proxies and CA bundle from the environment, read once for this host: requests
        # otherwise re-reads os.environ on every request (~1 ms each, measured as 8% of
        # assembling 82 start points; docs/benchmarks.md).
        self._session.trust_env = False
        self._session.proxies = requests.utils.get_environ_proxies(f"{self.scheme}://{host}/")
        self._verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._clients: dict[str, Any] = {}
        self._basic: bool | None = None
        self._logins: list[tuple[str, str] | None] = []  # the credentials, once looked up

    # --- Store ---------------------------------------------------------------------------

    def resolve(self, ref: Reference) -> Descriptor | None:
        response = self._request(ref, "HEAD", f"manifests/{ref.identifier}", accept=True)
        if response.status_code == 404:
            return None
        self._check(response, ref, "resolving")
        digest = response.headers.get("Docker-Content-Digest")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        size = response.headers.get("Content-Length")
        if digest and media_type in mediatypes.MANIFESTS and size is not None:
            return Descriptor(media_type, digest, int(size))
        return self.fetch_manifest(ref)[1]  # a registry that HEADs poorly

    def fetch_manifest(self, ref: Reference) -> tuple[bytes, Descriptor]:
        response = self._request(
            ref,
            "GET",
            f"manifests/{ref.identifier}",
            accept=True,
            max_body=self.limits.manifest_bytes,
        )
        if response.status_code == 404:
            raise NotFound(f"{ref}: manifest not found in {self.host}")
        self._check(response, ref, "fetching manifest of")
        data = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if media_type not in mediatypes.MANIFESTS:
            media_type = _media_type_inside(data, ref)
        descriptor = Descriptor(media_type, sha256(data), len(data))
        if ref.digest and descriptor.digest != ref.digest:
            raise StoreError(f"{ref}: registry sent a manifest with digest {descriptor.digest}")
        return data, descriptor

    def head(self, ref: Reference) -> tuple[str | None, ratelimit.Limit]:
        """The digest `ref` names now (None where it names nothing) and the rate limit the
        answer states, from one manifest HEAD, which Docker Hub does not count as a pull."""
        response = self._request(ref, "HEAD", f"manifests/{ref.identifier}", accept=True)
        limit = ratelimit.read(response.headers, time.time())
        if response.status_code == 404:
            return None, limit
        self._check(response, ref, "resolving")
        return response.headers.get("Docker-Content-Digest") or None, limit

    def tags(self, ref: Reference) -> list[str]:
        """Every tag of `ref`'s repository (the tags/list API, following its Link pages). A
        tag list is not a pull: Docker Hub counts manifest GETs only."""
        found: list[str] = []
        path = "tags/list?n=1000"
        for _ in range(1000):  # pages; a registry that links forever is cut off
            response = self._request(ref, "GET", path, max_body=self.limits.manifest_bytes)
            if response.status_code == 404:
                return found
            self._check(response, ref, "listing tags of")
            try:
                value = strictjson.loads_bounded(response.content, self.limits.json_depth)
            except ValueError as error:
                raise StoreError(f"{ref.name}: {self.host} sent a bad tag list: {error}") from None
            listed = value.get("tags") if isinstance(value, dict) else None
            found += [t for t in listed or [] if isinstance(t, str)]
            link = _NEXT.search(response.headers.get("Link", ""))
            if not link:
                return found
            path = link.group(1).split(f"/v2/{ref.api_repository}/", 1)[-1]
        raise StoreError(f"{ref.name}: {self.host} pages its tag list without end")

    def fetch_blob(self, ref: Reference, descriptor: Descriptor) -> bytes:
        # One byte more than the descriptor says, so verify names a wrong size; never more.
        response = self._request(
            ref, "GET", f"blobs/{descriptor.digest}", max_body=descriptor.size + 1
        )
        if response.status_code == 404:
            raise NotFound(f"{ref}: blob {descriptor.digest} not found in {self.host}")
        self._check(response, ref, f"fetching blob {descriptor.digest} of")
        return descriptor.verify(response.content, str(ref))

    def has_blob(self, ref: Reference, descriptor: Descriptor) -> bool:
        response = self._request(ref, "HEAD", f"blobs/{descriptor.digest}")
        if response.status_code == 404:
            return False
        self._check(response, ref, f"checking blob {descriptor.digest} of")
        return True

    def push_blob(self, ref: Reference, descriptor: Descriptor, data: bytes) -> None:
        descriptor.verify(data, str(ref))

        def upload() -> requests.Response:
            # A monolithic upload: POST opens a session, PUT ?digest= sends it all and closes it.
            opened = self._request(ref, "POST", "blobs/uploads/", retry=False)
            self._check(opened, ref, "starting a blob upload to", raise_retryable=True)
            location = opened.headers.get("Location", "")
            if location.startswith("/"):
                location = f"{self.scheme}://{self.host}{location}"
            separator = "&" if "?" in location else "?"
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
            return self._send(
                ref, "PUT", f"{location}{separator}digest={descriptor.digest}", headers, data
            )

        response = self._with_retries(ref, upload)
        self._check(response, ref, f"uploading blob {descriptor.digest} to")

    def push_manifest(self, ref: Reference, data: bytes, media_type: str) -> Descriptor:
        descriptor = Descriptor.of(data, media_type)
        target = ref.tag or descriptor.digest
        headers = {"Content-Type": media_type}
        response = self._request(ref, "PUT", f"manifests/{target}", headers=headers, data=data)
        self._check(response, ref, "pushing manifest of")
        return descriptor

    # --- plumbing ------------------------------------------------------------------------

    def _auth(self, ref: Reference) -> Any:
        """One auth backend per repository: a bearer token is scoped to its repository."""
        repository = ref.api_repository
        if repository not in self._clients:
            backend = "basic" if self._challenges_basic() else "token"
            auth = oras.auth.get_auth_backend(
                backend, self._session, self.scheme == "http", self._verify
            )
            if (login := self._login()) is not None:
                auth.set_basic_auth(*login)
            self._clients[repository] = auth
        return self._clients[repository]

    def _login(self) -> tuple[str, str] | None:
        """This registry's credentials, looked up once (a credential helper is a process)."""
        if not self._logins:
            self._logins.append(authn.credentials(self.host, self._docker_config))
        return self._logins[0]

    def _challenges_basic(self) -> bool:
        """Whether the registry asks for Basic auth (htpasswd) rather than a bearer token.

        oras' token backend cannot answer a Basic challenge, so ask once, at `/v2/`.
        """
        if self._basic is None:
            try:
                response = self._fetch(
                    "GET", f"{self.scheme}://{self.host}/v2/", {}, None, _ERROR_BODY
                )
            except requests.RequestException:
                return False  # unreachable: the real request will say so, with retries
            challenge = response.headers.get("Www-Authenticate", "")
            self._basic = response.status_code == 401 and challenge.lower().startswith("basic")
        return self._basic

    def _request(
        self,
        ref: Reference,
        method: str,
        path: str,
        *,
        accept: bool = False,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        retry: bool = True,
        max_body: int = _ERROR_BODY,
    ) -> requests.Response:
        headers = dict(headers or {})
        if accept:
            headers["Accept"] = ", ".join(mediatypes.MANIFESTS)
        url = f"{self.scheme}://{self.host}/v2/{ref.api_repository}/{path}"

        def send() -> requests.Response:
            return self._send(ref, method, url, headers, data, max_body)

        return self._with_retries(ref, send) if retry else send()

    def _send(
        self,
        ref: Reference,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        max_body: int = _ERROR_BODY,
    ) -> requests.Response:
        auth = self._auth(ref)
        headers = dict(headers)
        if self._basic and self._login() is None:
            raise Denied(
                self.host,
                False,
                f"{self.host} asks for a login for {ref.name}: no credentials in docker config.json",
            )
        if self._basic or auth.token:
            headers.update(auth.get_auth_header())
        try:
            response = self._fetch(method, url, headers, data, max_body)
            if response.status_code in (401, 403):
                self._check_realm(response, ref)
                headers, changed = auth.authenticate_request(
                    response,
                    headers,
                    refresh=response.status_code == 403 or "Authorization" in headers,
                )
                if changed:
                    response = self._fetch(method, url, headers, data, max_body)
        except requests.RequestException as error:
            raise _Unreachable(self.host, _cause(error)) from None
        except oras.auth.AuthenticationException as error:
            raise StoreError(
                f"{self.host}: authentication for {ref.name} failed: {error}"
            ) from None
        return response

    def _check_realm(self, response: requests.Response, ref: Reference) -> None:
        """Credentials go to a token realm over HTTPS, or to the registry's own host; never in
        clear text to another host (authn.realm_refused)."""
        if self._login() is None:
            return
        challenge = response.headers.get("Www-Authenticate", "")
        if (where := authn.realm_refused(challenge, self.scheme, self.host)) is not None:
            raise StoreError(
                f"{self.host} asks for {ref.name}'s login to be sent to {where}, another "
                "host over plain HTTP: credentials not sent"
            )

    def _fetch(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None, max_body: int
    ) -> requests.Response:
        """One HTTP exchange; the body is read here, at most `max_body` bytes of a success
        (more is refused, naming the size) and at most 64 KiB of an error (the rest unread)."""
        response = self._session.request(
            method,
            url,
            data=data,
            headers=headers,
            timeout=_TIMEOUT,
            verify=self._verify,
            stream=True,
        )
        with response:
            ok = response.status_code < 400
            cap = max_body if ok else _ERROR_BODY
            declared = response.headers.get("Content-Length", "")
            if ok and method != "HEAD" and declared.isdigit() and int(declared) > cap:
                raise StoreError(
                    f"{self.host} sent {declared} bytes for {url}, over the limit of {cap}"
                )
            body = bytearray()
            if method != "HEAD":
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > cap:
                        if ok:
                            raise StoreError(
                                f"{self.host} sent more than {cap} bytes for {url}, the limit"
                            )
                        del body[cap:]
                        break
            # requests' own cache of the body: set, so .content and .json() read what was kept.
            response._content = bytes(body)
        return response

    def _with_retries(
        self, ref: Reference, call: Callable[[], requests.Response]
    ) -> requests.Response:
        """`call` with bounded retries, all within the registry deadline: a registry that
        drips or stalls ends the operation with an error, however it stalls (the exchange
        runs on a helper thread that is abandoned, not waited for, once time is up)."""
        deadline = self.limits.registry_deadline
        outcome: Future[requests.Response] = Future()
        stop = threading.Event()

        def run() -> None:
            try:
                outcome.set_result(self._retrying(ref, call, stop))
            except BaseException as error:  # handed to the waiting thread
                outcome.set_exception(error)

        threading.Thread(target=run, name=f"registry {self.host}", daemon=True).start()
        ends = time.monotonic() + deadline
        while True:
            try:
                return outcome.result(timeout=min(0.1, max(0.0, ends - time.monotonic())))
            except FutureTimeout:
                pass
            if self.cancelled.is_set():
                why = f"{ref}: cancelled"
            elif time.monotonic() >= ends:
                why = f"no complete answer for {ref} within {deadline:g} s (--registry-timeout)"
            else:
                continue
            stop.set()  # the helper makes no further attempt
            raise StoreError(f"{self.host}: {why}")

    def _retrying(
        self, ref: Reference, call: Callable[[], requests.Response], stop: threading.Event
    ) -> requests.Response:
        last = ""
        unreachable: _Unreachable | None = None
        waited = False  # a Retry-After already waited out stands for the backoff
        for attempt in range(self.retry.attempts):
            if attempt and not waited:
                time.sleep(self.retry.delay(attempt))
            waited = False
            if stop.is_set():
                break
            try:
                response = call()
            except _Unreachable as error:
                unreachable = error
                continue
            except _Retryable as error:
                last = str(error)
                unreachable = None
                continue
            if response.status_code not in _RETRY_STATUS:
                return response
            last = (
                f"{self.host} answered {response.status_code} for {response.request.method} {ref}"
            )
            if response.status_code == 429:
                self._wait_out(response, ref, attempt, stop)
                waited = True
        if unreachable is not None:  # one line naming the host and why, not the library's dump
            raise Unreachable(
                self.host, f"{unreachable.cause}; {count(self.retry.attempts, 'attempt')}"
            )
        raise StoreError(f"{last} (gave up after {count(self.retry.attempts, 'attempt')})")

    def _wait_out(
        self, response: requests.Response, ref: Reference, attempt: int, stop: threading.Event
    ) -> None:
        """A 429 is retried only when the registry says how soon (Retry-After) and that fits
        the tries and the deadline; otherwise it is the answer: every retry would count
        against the same quota (core/ratelimit.py)."""
        limit = ratelimit.read(response.headers, time.time())
        wait = limit.retry_after
        soon = wait is not None and wait <= self.limits.registry_deadline / 2
        if (
            soon
            and attempt + 1 < self.retry.attempts
            and not stop.wait(self.retry.delay(attempt + 1, wait))
        ):
            return
        until = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + limit.hold(default=0))
        )
        raise StoreError(
            f"{self.host} answered 429 Too Many Requests for {response.request.method} {ref}: "
            f"rate limited{f' until ~{until}' if limit.said else ''} (not retried: each try "
            "counts against the same quota)"
        )

    def _check(
        self,
        response: requests.Response,
        ref: Reference,
        doing: str,
        *,
        raise_retryable: bool = False,
    ) -> None:
        if response.status_code < 400:
            return
        message = f"{doing} {ref}: {self.host} answered {response.status_code}{_errors(response)}"
        if raise_retryable and response.status_code in _RETRY_STATUS:
            raise _Retryable(message)
        if response.status_code in (401, 403):  # GHCR's private packages: 401/403 "denied"
            raise Denied(self.host, self._login() is not None, message)
        raise StoreError(message)


class _Retryable(StoreError):
    """A failure worth another attempt: a connection error, 429 or 5xx."""


class _Unreachable(_Retryable, Unreachable):
    """No answer at all this attempt; after the last, an Unreachable leaves."""


def _cause(error: BaseException) -> str:
    """Why a request got no answer, in a few words: the innermost OS or TLS error beneath the
    requests and urllib3 wrappers (each wraps the next in `reason`, `args` or `__context__`)."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return f"TLS: {current.reason or current}"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, (TimeoutError, socket.timeout)):
            return "timed out"
        if type(current).__name__ == "NameResolutionError":
            return "host name not found"
        if isinstance(current, requests.Timeout):
            return "timed out"
        pending += [getattr(current, "reason", None), *current.args, current.__context__]
        pending.append(current.__cause__)
    return _short(error)


def _errors(response: requests.Response) -> str:
    """The distribution API's error codes and messages, each cut short: a registry's words."""
    try:
        errors = strictjson.loads_bounded(response.content).get("errors", [])
        return "".join(
            _short(f"; {e.get('code')}: {e.get('message')}")
            for e in errors[:5]
            if isinstance(e, dict)
        )
    except (ValueError, AttributeError, TypeError):
        return ""


def _short(error: BaseException | str) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:197] + "..."


def _media_type_inside(data: bytes, ref: Reference) -> str:
    try:
        media_type = strictjson.loads_bounded(data)["mediaType"]
        if not isinstance(media_type, str):
            raise TypeError(media_type)
        return media_type
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{ref}: registry sent something that is not a manifest") from None
