"""One registry host's HTTP: a session with the host's proxies and CA bundle, answers read
within caps, and retries (core/backoff.py) within one deadline.

A registry is hostile until checked: a success's body is read up to the size the caller
allows (more is refused, naming the size), an error's up to 64 KiB (the rest unread), and an
exchange that drips or stalls ends at the deadline, however it stalls.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import requests
import requests.adapters
import requests.utils

from startpoints.core import ratelimit, strictjson
from startpoints.core.backoff import Backoff
from startpoints.core.limits import Limits
from startpoints.core.words import count
from startpoints.errors import StoreError, Unreachable

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ERROR_BODY = 64 * 1024  # what an error answer may say; the rest is not read
_TIMEOUT = (10, 120)  # seconds to connect, then between bytes


@dataclass(frozen=True)
class Answer:
    """A registry's answer, its body read within its cap; `raw` keeps the status line and
    headers for oras' auth backends, which read the challenge from them."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive, as requests reads them
    content: bytes
    method: str
    raw: requests.Response


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
        self.session = requests.Session()
        # Proxies and CA bundle from the environment, read once for this host: requests
        # otherwise re-reads os.environ on every request (~1 ms each, measured as 8% of
        # assembling 82 start points; docs/benchmarks.md).
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(f"{scheme}://{host}/")
        self.verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def exchange(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None, max_body: int
    ) -> Answer:
        """One HTTP exchange, its body read here: at most `max_body` bytes of a success, at
        most 64 KiB of an error."""
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=_TIMEOUT,
                verify=self.verify,
                stream=True,
            )
            with response:
                return Answer(
                    response.status_code,
                    response.headers,
                    self._body(response, method, url, max_body),
                    method,
                    response,
                )
        except requests.RequestException as error:
            raise self.no_answer(error) from None

    def _body(self, response: requests.Response, method: str, url: str, max_body: int) -> bytes:
        ok = response.status_code < 400
        cap = max_body if ok else ERROR_BODY
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
        return bytes(body)

    def no_answer(self, error: BaseException) -> NoAnswer:
        return NoAnswer(self.host, _cause(error))

    def with_retries(self, what: str, call: Callable[[], Answer]) -> Answer:
        """`call` with bounded retries, all within the registry deadline: a registry that
        drips or stalls ends the operation with an error, however it stalls (the exchange
        runs on a helper thread that is abandoned, not waited for, once time is up)."""
        deadline = self.limits.registry_deadline
        outcome: Future[Answer] = Future()
        stop = threading.Event()

        def run() -> None:
            try:
                outcome.set_result(self._retrying(what, call, stop))
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
                why = f"{what}: cancelled"
            elif time.monotonic() >= ends:
                why = f"no complete answer for {what} within {deadline:g} s (--registry-timeout)"
            else:
                continue
            stop.set()  # the helper makes no further attempt
            raise StoreError(f"{self.host}: {why}")

    def _retrying(self, what: str, call: Callable[[], Answer], stop: threading.Event) -> Answer:
        last = ""
        unreachable: NoAnswer | None = None
        waited = False  # a Retry-After already waited out stands for the backoff
        for attempt in range(self.retry.attempts):
            if attempt and not waited:
                time.sleep(self.retry.delay(attempt))
            waited = False
            if stop.is_set():
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
                self._wait_out(answer, what, attempt, stop)
                waited = True
        if unreachable is not None:  # one line naming the host and why, not the library's dump
            raise Unreachable(
                self.host, f"{unreachable.cause}; {count(self.retry.attempts, 'attempt')}"
            )
        raise StoreError(f"{last} (gave up after {count(self.retry.attempts, 'attempt')})")

    def _wait_out(self, answer: Answer, what: str, attempt: int, stop: threading.Event) -> None:
        """A 429 is retried only when the registry says how soon (Retry-After) and that fits
        the tries and the deadline; otherwise it is the answer: every retry would count
        against the same quota (core/ratelimit.py)."""
        limit = ratelimit.read(answer.headers, time.time())
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
    return short(error)
