"""One registry host's HTTP: a connection pool with the host's proxy and CA bundle, answers
read within caps, and retries (core/backoff.py) within one deadline.

A registry is hostile until checked: a success's body is read up to the size the caller
allows (more is refused, naming the size), an error's up to 64 KiB (the rest unread), and an
exchange that drips or stalls ends at the deadline, however it stalls (oci/deadline.py:
every connection's socket keeps the deadline of the operation using it).

urllib3 directly, not requests: requests costs ~0.55 ms more client CPU per request than
urllib3 (0.90 against 0.36 ms, measured on a loopback registry; docs/benchmarks.md), and on
two cores the client and the registry share the CPU. requests is still what oras' auth
backends send token requests with: `token_session()` makes one, on this pool's terms, the
first time a registry asks for a login.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from startpoints.core import ratelimit, strictjson
from startpoints.core.backoff import Backoff
from startpoints.core.limits import Limits
from startpoints.core.words import count
from startpoints.errors import StoreError, Unreachable
from startpoints.oci import deadline
from startpoints.oci.deadline import Operation

if TYPE_CHECKING:
    import requests

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ERROR_BODY = 64 * 1024  # what an error answer may say; the rest is not read
_CONNECT, _BETWEEN_BYTES = 10.0, 120.0  # seconds
# No retries here (with_retries owns them); redirects followed, as a registry sends blob
# GETs to its storage (GHCR: pkg-containers.githubusercontent.com), the login kept from any
# other host.
_REDIRECTS = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = deadline.DeadlineSocket(self.sock)


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # TLS (and a proxy's tunnel) set up on the plain socket
        self.sock = deadline.DeadlineSocket(self.sock)


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


@dataclass(frozen=True)
class Answer:
    """A registry's answer, its body read within its cap (oras' auth backends read the
    challenge from its headers)."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes
    method: str


class Retryable(StoreError):
    """A failure worth another attempt: a 429 or 5xx where the caller asks for it."""


class NoAnswer(Retryable, Unreachable):
    """No answer at all this attempt; after the last, an Unreachable leaves."""


class Transport:
    def __init__(
        self,
        host: str,
        scheme: str,
        *,
        retry: Backoff,
        limits: Limits,
        cancelled: threading.Event,
        pool_size: int = 16,
    ) -> None:
        self.host = host
        self.scheme = scheme
        self.retry = retry
        self.limits = limits
        self.cancelled = cancelled
        # Proxy and CA bundle from the environment, read once for this host, as requests
        # reads them (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, else certifi's).
        self.proxy = _proxy_for(scheme, host)
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if not self.verify:
            import certifi

            self.verify = certifi.where()
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED", "ca_certs": self.verify}
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(self.proxy, num_pools=4, maxsize=pool_size, **tls)
            if self.proxy
            else urllib3.PoolManager(num_pools=4, maxsize=pool_size, **tls)
        )
        self._pool.pool_classes_by_scheme = _POOLS
        self._session: requests.Session | None = None

    def token_session(self) -> requests.Session:
        """A requests session for oras' token requests: the same proxy, CA bundle and
        deadline sockets (its connections come from a pool like this one)."""
        if self._session is None:
            self._session = _token_session(self)
        return self._session

    def exchange(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None, max_body: int
    ) -> Answer:
        """One HTTP exchange, its body read here: at most `max_body` bytes of a success, at
        most 64 KiB of an error. Within the thread's operation (with_retries), or one of its
        own."""
        with deadline.within(self.limits.registry_deadline, self.cancelled) as operation:
            try:
                timeout = urllib3.Timeout(
                    connect=min(_CONNECT, operation.left()), read=_BETWEEN_BYTES
                )
                response = self._pool.request(
                    method,
                    url,
                    body=data,
                    headers=headers,
                    timeout=timeout,
                    retries=_REDIRECTS,
                    preload_content=False,
                    decode_content=False,
                )
                try:
                    body = self._body(response, method, url, max_body)
                finally:
                    response.release_conn()
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise self.no_answer(error) from None
        return Answer(response.status, response.headers, body, method)

    def _body(
        self, response: urllib3.BaseHTTPResponse, method: str, url: str, max_body: int
    ) -> bytes:
        ok = response.status < 400
        cap = max_body if ok else ERROR_BODY
        declared = response.headers.get("Content-Length", "")
        if ok and method != "HEAD" and declared.isdigit() and int(declared) > cap:
            response.close()  # not read: the connection goes
            raise StoreError(
                f"{self.host} sent {declared} bytes for {url}, over the limit of {cap}"
            )
        body = bytearray()
        if method != "HEAD":
            while chunk := response.read1(64 * 1024):
                body += chunk
                if len(body) > cap:
                    response.close()  # the rest is not read: the connection goes
                    if ok:
                        raise StoreError(
                            f"{self.host} sent more than {cap} bytes for {url}, the limit"
                        )
                    del body[cap:]
                    break
        return bytes(body)

    def no_answer(self, error: BaseException) -> NoAnswer:
        return NoAnswer(self.host, _cause(error))

    def with_retries(self, what: str, call: Callable[[], Answer]) -> Answer:
        """`call` with bounded retries, all within the registry deadline: a registry that
        drips or stalls ends the operation with an error, however it stalls (its sockets
        keep the deadline: oci/deadline.py), and so does the cancel flag."""
        seconds = self.limits.registry_deadline
        with deadline.within(seconds, self.cancelled) as operation:
            try:
                return self._retrying(what, call, operation)
            except StoreError:
                if not operation.over:
                    raise
            if operation.cancelled.is_set():
                raise StoreError(f"{self.host}: {what}: cancelled")
            raise StoreError(
                f"{self.host}: no complete answer for {what} within {seconds:g} s "
                "(--registry-timeout)"
            )

    def _retrying(self, what: str, call: Callable[[], Answer], operation: Operation) -> Answer:
        last = ""
        unreachable: NoAnswer | None = None
        waited = False  # a Retry-After already waited out stands for the backoff
        for attempt in range(self.retry.attempts):
            if attempt and not waited:
                operation.sleep(self.retry.delay(attempt))
            waited = False
            if operation.over:
                break
            try:
                answer = call()
            except NoAnswer as error:
                unreachable = error
                continue
            except Retryable as error:
                last = str(error)
                unreachable = None
                continue
            if answer.status_code not in RETRY_STATUS:
                return answer
            last = f"{self.host} answered {answer.status_code} for {answer.method} {what}"
            if answer.status_code == 429:
                self._wait_out(answer, what, attempt, operation)
                waited = True
        if unreachable is not None:  # one line naming the host and why, not the library's dump
            raise Unreachable(
                self.host, f"{unreachable.cause}; {count(self.retry.attempts, 'attempt')}"
            )
        raise StoreError(f"{last} (gave up after {count(self.retry.attempts, 'attempt')})")

    def _wait_out(self, answer: Answer, what: str, attempt: int, operation: Operation) -> None:
        """A 429 is retried only when the registry says how soon (Retry-After) and that fits
        the tries and the deadline; otherwise it is the answer: every retry would count
        against the same quota (core/ratelimit.py)."""
        limit = ratelimit.read(answer.headers, time.time())
        wait = limit.retry_after
        soon = wait is not None and wait <= self.limits.registry_deadline / 2
        if soon and attempt + 1 < self.retry.attempts:
            operation.sleep(self.retry.delay(attempt + 1, wait))
            if not operation.over:
                return
        until = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + limit.hold(default=0))
        )
        raise StoreError(
            f"{self.host} answered 429 Too Many Requests for {answer.method} {what}: "
            f"rate limited{f' until ~{until}' if limit.said else ''} (not retried: each try "
            "counts against the same quota)"
        )


def errors(answer: Answer) -> str:
    """The distribution API's error codes and messages, each cut short: a registry's words."""
    try:
        found = strictjson.loads_bounded(answer.content).get("errors", [])
        return "".join(
            short(f"; {e.get('code')}: {e.get('message')}")
            for e in found[:5]
            if isinstance(e, dict)
        )
    except (ValueError, AttributeError, TypeError):
        return ""


def short(error: BaseException | str) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:197] + "..."


def _cause(error: BaseException) -> str:
    """Why a request got no answer, in a few words: the innermost OS or TLS error beneath the
    urllib3 and requests wrappers (each wraps the next in `reason`, `args` or `__context__`)."""
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
        if isinstance(current, http.client.HTTPException):
            return f"not an HTTP answer ({type(current).__name__})"
        if type(current).__name__ == "NameResolutionError":
            return "host name not found"
        if isinstance(current, urllib3.exceptions.TimeoutError) and not isinstance(
            current,
            urllib3.exceptions.NewConnectionError,  # a "timeout" only by descent
        ):
            return "timed out"
        pending += [getattr(current, "reason", None), *current.args, current.__context__]
        pending.append(current.__cause__)
    return short(error)


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the environment names for `scheme`://`host` (HTTPS_PROXY, NO_PROXY...)."""
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if urllib.request.proxy_bypass_environment(hostname):  # type: ignore[attr-defined]
        return None
    return urllib.request.getproxies_environment().get(scheme)


def _token_session(transport: Transport) -> requests.Session:
    import requests
    import requests.adapters

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = _POOLS

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = _POOLS
            return manager

        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            # oras asks for its tokens with no timeout: a connect bounded as ours are
            kwargs["timeout"] = kwargs.get("timeout") or (_CONNECT, _BETWEEN_BYTES)
            return super().send(request, **kwargs)

    session = requests.Session()
    session.trust_env = False  # what the environment says was read once, above
    session.proxies = {transport.scheme: transport.proxy} if transport.proxy else {}
    session.verify = transport.verify
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session
