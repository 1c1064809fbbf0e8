"""A registry as a Store, over the OCI distribution API.

The only module that imports the registry client library (oras-py's auth backends, on
requests): they bring token auth (anonymous or from credentials, scoped per repository) and
Basic auth; the credentials come from oci/authn.py, looked up once per registry. Both are
imported, and the credentials looked up, only once a registry asks for a login: an open
registry costs neither (~100 ms of imports). Every error raised leaves here as a
StoreError, Denied or NotFound naming the registry and the object.

Only `oras.auth` is imported, not `oras.provider`: the provider pulls in jsonschema
(~80 ms at every start, measured; docs/benchmarks.md) for manifest validation we do not
use, and its request loop sleeps up to 83 s between retries. The loop below is oras'
own `do_request` (401/403 → `authenticate_request` → again), with our retry policy.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from startpoints.core import ratelimit, strictjson
from startpoints.core.backoff import Backoff
from startpoints.core.limits import DEFAULT, Limits
from startpoints.core.reference import Reference
from startpoints.errors import Denied, NotFound, StoreError
from startpoints.oci import authn, mediatypes
from startpoints.oci.descriptor import Descriptor, sha256
from startpoints.oci.transport import RETRY_STATUS, Answer, Retryable, Transport, errors

if TYPE_CHECKING:
    import oras.auth.base

_NEXT = re.compile(r'<([^>]+)>;\s*rel="?next"?')
_ERROR_BODY = 64 * 1024  # what an error answer may say (transport reads no more)
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
        self._transport = Transport(
            host,
            self.scheme,
            retry=self.retry,
            limits=limits,
            cancelled=self.cancelled,
            pool_size=pool_size,
        )
        self._auths: dict[str, oras.auth.base.AuthBackend] = {}  # per repository, once asked
        self._basic: bool | None = None
        self._logins: list[tuple[str, str] | None] = []  # the credentials, once looked up
        self._lock = threading.RLock()  # one /v2/ probe, lookup, backend per repository

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

        def upload() -> Answer:
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

        response = self._transport.with_retries(str(ref), upload)
        self._check(response, ref, f"uploading blob {descriptor.digest} to")

    def push_manifest(self, ref: Reference, data: bytes, media_type: str) -> Descriptor:
        descriptor = Descriptor.of(data, media_type)
        target = ref.tag or descriptor.digest
        headers = {"Content-Type": media_type}
        response = self._request(ref, "PUT", f"manifests/{target}", headers=headers, data=data)
        self._check(response, ref, "pushing manifest of")
        return descriptor

    # --- plumbing ------------------------------------------------------------------------

    def _auth(self, ref: Reference) -> oras.auth.base.AuthBackend:
        """One auth backend per repository: a bearer token is scoped to its repository."""
        repository = ref.api_repository
        with self._lock:
            if repository not in self._auths:
                import oras.auth

                backend = "basic" if self._basic else "token"
                auth = oras.auth.get_auth_backend(
                    backend,
                    self._transport.token_session(),
                    self.scheme == "http",
                    self._transport.verify,
                )
                if (login := self._login()) is not None:
                    auth.set_basic_auth(*login)
                self._auths[repository] = auth
            return self._auths[repository]

    def _login(self) -> tuple[str, str] | None:
        """This registry's credentials, looked up once (a credential helper is a process)."""
        with self._lock:
            if not self._logins:
                self._logins.append(authn.credentials(self.host, self._docker_config))
            return self._logins[0]

    def _challenges_basic(self) -> bool:
        """Whether the registry asks for Basic auth (htpasswd) rather than a bearer token.

        oras' token backend cannot answer a Basic challenge, so ask once, at `/v2/`.
        """
        if self._basic is not None:  # asked on every request: no lock once it is known
            return self._basic
        with self._lock:
            if self._basic is None:
                try:
                    response = self._transport.exchange(
                        "GET", f"{self.scheme}://{self.host}/v2/", {}, None, _ERROR_BODY
                    )
                except Retryable:
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
    ) -> Answer:
        headers = dict(headers or {})
        if accept:
            headers["Accept"] = ", ".join(mediatypes.MANIFESTS)
        url = f"{self.scheme}://{self.host}/v2/{ref.api_repository}/{path}"

        def send() -> Answer:
            return self._send(ref, method, url, headers, data, max_body)

        return self._transport.with_retries(str(ref), send) if retry else send()

    def _send(
        self,
        ref: Reference,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        max_body: int = _ERROR_BODY,
    ) -> Answer:
        headers = dict(headers)
        basic = self._challenges_basic()
        if basic and self._login() is None:
            raise Denied(
                self.host,
                False,
                f"{self.host} asks for a login for {ref.name}: no credentials in docker config.json",
            )
        auth = self._auth(ref) if basic else self._auths.get(ref.api_repository)
        if auth is not None and (basic or auth.token):
            headers.update(auth.get_auth_header())
        exchange = self._transport.exchange
        response = exchange(method, url, headers, data, max_body)
        if response.status_code not in (401, 403):
            return response
        self._check_realm(response, ref)
        auth = self._auth(ref)
        import oras.auth
        import requests

        try:
            headers, changed = auth.authenticate_request(
                response,  # oras reads only its headers
                headers,
                refresh=response.status_code == 403 or "Authorization" in headers,
            )
        except requests.RequestException as error:  # oras' own token request
            raise self._transport.no_answer(error) from None
        except oras.auth.AuthenticationException as error:
            raise StoreError(
                f"{self.host}: authentication for {ref.name} failed: {error}"
            ) from None
        return exchange(method, url, headers, data, max_body) if changed else response

    def _check_realm(self, response: Answer, ref: Reference) -> None:
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

    def _check(
        self,
        response: Answer,
        ref: Reference,
        doing: str,
        *,
        raise_retryable: bool = False,
    ) -> None:
        if response.status_code < 400:
            return
        message = f"{doing} {ref}: {self.host} answered {response.status_code}{errors(response)}"
        if raise_retryable and response.status_code in RETRY_STATUS:
            raise Retryable(message)
        if response.status_code in (401, 403):  # GHCR's private packages: 401/403 "denied"
            raise Denied(self.host, self._login() is not None, message)
        raise StoreError(message)


def _media_type_inside(data: bytes, ref: Reference) -> str:
    try:
        media_type = strictjson.loads_bounded(data)["mediaType"]
        if not isinstance(media_type, str):
            raise TypeError(media_type)
        return media_type
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{ref}: registry sent something that is not a manifest") from None
