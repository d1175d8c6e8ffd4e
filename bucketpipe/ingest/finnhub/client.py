"""The Finnhub client: one GET per call over a session that sends the key only in the
`X-Finnhub-Token` header, with timeouts, retries, a shared rate limit and a full record of
every call (status, body, time) for the raw lake. (Why not finnhub-python: docs/finnhub.md.)
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3
from requests.adapters import BaseAdapter

from bucketpipe import __version__
from bucketpipe.config.errors import (
    AuthenticationFailed,
    ConfigError,
    NotEntitled,
    RateLimited,
    TerminalError,
    TransientError,
)
from bucketpipe.config.logs import mask, register_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.coord.ratelimit import Limit, RateLimiter
from bucketpipe.ingest.finnhub.retry import (
    Attempt,
    Outcome,
    RetryPolicy,
    classify,
    network_failure,
)

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Finnhub-Token"  # noqa: S105 - a header name, not a secret
MISSING_KEY = (
    "FINNHUB_API_KEY is not set: export FINNHUB_API_KEY=<your key> (a free key comes from "
    "https://finnhub.io/register; in Kubernetes, from a Secret). `bucketpipe ingest demo` "
    "works without a key."
)


# Finnhub's largest answers (a company's reported financials) are a few MB.
MAX_BODY_BYTES = 64 * 1024 * 1024
TOTAL_TIMEOUTS = 4
TIMEOUT_SETTING = "BUCKETPIPE_FINNHUB_TIMEOUT_SECONDS"
_CHUNK = 64 * 1024


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def _bounded_body(response: requests.Response, deadline: float) -> bytes:
    """The answer's body, decoded, read as it arrives: _TooLarge past MAX_BODY_BYTES, _TooSlow
    past `deadline` (a body dripped a byte at a time never trips the read timeout)."""
    raw = response.raw
    if raw is None or not hasattr(raw, "read1"):  # already in memory (another transport)
        content = response.content
        if len(content) > MAX_BODY_BYTES:
            raise _TooLarge
        return content
    parts: list[bytes] = []
    size = 0
    while chunk := raw.read1(_CHUNK, decode_content=True):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        if time.monotonic() > deadline:
            raise _TooSlow
        parts.append(chunk)
    return b"".join(parts)


def _finish(response: requests.Response, *, read_all: bool) -> None:
    """Give a fully read connection back to the pool (the next call reuses it, no new TLS
    handshake); close one left in the middle of a body."""
    release = getattr(response.raw, "release_conn", None)
    if read_all and release is not None:
        release()
    else:
        response.close()


class ApiError(TerminalError):
    """Finnhub refused a call in a way retrying will not fix (400, 404, a 403 from a proxy)."""


class ApiUnavailable(TransientError):
    """Finnhub did not answer properly (5xx, timeouts, broken bodies) through every retry."""


@dataclass(frozen=True)
class Reply:
    """The last attempt of one call, as landed in raw: what was asked, when, and the answer."""

    path: str
    params: dict[str, Any]
    requested_at: datetime
    status: int  # HTTP status of the last attempt; 0 when no answer arrived
    outcome: Outcome
    body: Any = None
    error: str | None = None
    elapsed_ms: float = 0.0
    attempts: int = 1
    transient: bool = False
    # The HTTP status of every attempt, retried ones included (0: no answer), so a 429 that a
    # retry absorbed still counts in the manifest.
    statuses: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def result(self) -> Any:
        """The body of a successful call, else the matching exception."""
        if self.ok:
            return self.body
        message = f"Finnhub {self.path}: {self.error}"
        errors: dict[str, type[Exception]] = {
            "not_entitled": NotEntitled,
            "unauthorized": AuthenticationFailed,
            "rate_limited": RateLimited,
        }
        error_type = errors.get(self.outcome) or (ApiUnavailable if self.transient else ApiError)
        raise error_type(message)


def key_id(api_key: str) -> str:
    """A short, non-reversible id of a key (the same as `Settings.finnhub_key_id`)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def finnhub_limits(settings: Settings) -> tuple[Limit, Limit]:
    """The plan's limits: calls per minute and calls per second."""
    return (
        Limit(settings.finnhub_calls_per_minute, 60.0),
        Limit(settings.finnhub_calls_per_second, 1.0),
    )


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as sent: no unset values, booleans as JSON, never a credential."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or value == "" or name.lower() in {"token", "api_key", "apikey"}:
            continue
        out[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


class FinnhubClient:
    """Finnhub over HTTP: `fetch(path, params)` gives the full `Reply` of a call, errors included,
    and `get(path, params)` its parsed body (or the matching exception)."""

    def __init__(
        self,
        api_key: str,
        *,
        limiter: RateLimiter,
        base_url: str = "https://finnhub.io/api/v1",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError(MISSING_KEY)
        register_secrets([api_key])
        self._session = _session(api_key)
        if transport is not None:
            self._session.mount("http://", transport)
            self._session.mount("https://", transport)
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._key_id = key_id(api_key)

    @classmethod
    def from_settings(cls, settings: Settings, *, limiter: RateLimiter) -> FinnhubClient:
        """A client configured by settings; ConfigError (exit 2) without a key."""
        key = settings.finnhub_api_key.get_secret_value() if settings.finnhub_api_key else ""
        return cls(
            key,
            limiter=limiter,
            base_url=settings.finnhub_url,
            timeout=settings.finnhub_timeout_seconds,
            retry=RetryPolicy(
                max_retries=settings.finnhub_max_retries,
                base_seconds=settings.finnhub_backoff_seconds,
                max_seconds=settings.finnhub_backoff_max_seconds,
            ),
        )

    def __repr__(self) -> str:
        return f"FinnhubClient(url={self.base_url!r}, key=sha256:{self._key_id})"

    __str__ = __repr__

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The parsed body of a successful call, else the matching exception (`Reply.result`)."""
        return self.fetch(path, params or {}).result()

    def fetch(self, path: str, params: Mapping[str, Any]) -> Reply:
        """Call `path` until it succeeds, fails for good, or retries run out; never raises for
        what the server or the network did."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        sent = _clean_params(params)
        attempts = 0
        statuses: list[int] = []
        while True:
            self.limiter.acquire()
            attempts += 1
            requested_at = self._clock()
            started = time.perf_counter()
            attempt = self._attempt(url, sent)
            statuses.append(attempt.status)
            elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
            delay = self._retry_delay(attempt, attempts)
            if delay is None:
                return Reply(
                    path=path,
                    params=sent,
                    requested_at=requested_at,
                    status=attempt.status,
                    outcome=attempt.outcome,
                    body=attempt.body,
                    error=attempt.error,
                    elapsed_ms=elapsed_ms,
                    attempts=attempts,
                    transient=attempt.retry,
                    statuses=tuple(statuses),
                )
            log.info(
                "retrying Finnhub call",
                extra={
                    "path": path,
                    "params": sent,
                    "attempt": attempts,
                    "error": attempt.error,
                    "delay_s": round(delay, 3),
                },
            )
            self._sleep(delay)

    def _attempt(self, url: str, params: dict[str, Any]) -> Attempt:
        # The read timeout bounds each wait for a byte, not the answer: its whole body must
        # also arrive within TOTAL_TIMEOUTS of them, and be at most MAX_BODY_BYTES.
        total = self.timeout * TOTAL_TIMEOUTS
        deadline = time.monotonic() + total
        try:
            response = self._session.get(
                url, params=params, timeout=self.timeout, allow_redirects=False, stream=True
            )
        except requests.RequestException as exc:
            return network_failure(exc, self.timeout)
        status, read_all = response.status_code, False
        try:
            content = _bounded_body(response, deadline)
            read_all = True
        except _TooLarge:
            error = f"the answer is larger than {MAX_BODY_BYTES >> 20} MiB: not read further"
            return Attempt(status, "failed", None, error)  # the same call would answer the same
        except _TooSlow:
            error = f"no whole answer within {total:g} s ({TOTAL_TIMEOUTS} x {TIMEOUT_SETTING})"
            return Attempt(status, "failed", None, error, retry=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            timed_out = isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError))
            failure = requests.Timeout(str(exc)) if timed_out else exc
            return network_failure(failure, self.timeout)
        finally:
            _finish(response, read_all=read_all)
        return classify(status, response.headers, content, self._clock())

    def _retry_delay(self, attempt: Attempt, attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None when this one is the last."""
        if not attempt.retry:
            return None
        delay = self.retry.delay(
            attempts - 1, attempt.retry_after, self._rng.random(), reset_after=attempt.reset_after
        )
        if attempt.outcome == "rate_limited":
            # Hold every caller sharing the limiter back, not just this one.
            self.limiter.pause(delay if delay is not None else self.retry.max_seconds)
        return delay


def _session(api_key: str) -> requests.Session:
    """A session whose every request carries the key in the header; the URL never does."""
    session = requests.Session()
    session.headers.update(
        {
            "Accept": "application/json",
            "User-Agent": f"bucketpipe/{__version__}",
            TOKEN_HEADER: api_key,
        }
    )
    return session


def describe_failure(reply: Reply) -> str:
    """One line for logs and the manifest: path, parameters, attempts and the error."""
    params = ", ".join(f"{k}={v}" for k, v in reply.params.items())
    tries = "1 attempt" if reply.attempts == 1 else f"{reply.attempts} attempts"
    return mask(f"{reply.path} ({params}): {reply.error} after {tries}")
