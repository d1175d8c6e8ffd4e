"""What one HTTP answer from Finnhub means, and how long to wait before trying again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from bucketpipe.config.logs import mask

Outcome = Literal["ok", "not_entitled", "unauthorized", "rate_limited", "failed"]

# Finnhub's JSON 403 for an endpoint outside the key's plan.
NOT_ENTITLED_TEXT = "you don't have access to this resource"
_SNIPPET = 200


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's `Retry-After` is honoured up to a cap."""

    max_retries: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(
        self,
        retry: int,
        retry_after: float | None,
        rand: float,
        *,
        reset_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before retry number `retry` (0 = the first), or None to give up.

        Without a hint from the server: half of `base * 2**retry` (capped) plus a random part
        of the other half, so pods that failed together do not come back together. With a
        `Retry-After`: that long plus up to a second of jitter; a server asking for more than
        `max_seconds` is not waited for (the call fails and is due again next run). With only
        Finnhub's `X-Ratelimit-Reset` (`reset_after`): until the reset, capped at `max_seconds`.
        """
        if retry >= self.max_retries:
            return None
        jitter = rand * min(1.0, self.base_seconds)
        if retry_after is not None:
            if retry_after > self.max_seconds:
                return None
            return max(0.0, retry_after) + jitter
        if reset_after is not None:
            return min(self.max_seconds, max(0.0, reset_after) + jitter)
        backoff = min(self.max_seconds, self.base_seconds * 2.0**retry)
        return backoff / 2 + rand * backoff / 2


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt, classified."""

    status: int
    outcome: Outcome
    body: Any = None
    error: str | None = None
    retry: bool = False
    retry_after: float | None = None
    reset_after: float | None = None


def parse_json(content: bytes) -> tuple[bool, Any]:
    """(True, value) for a JSON document, (False, None) for empty or malformed bytes."""
    if not content.strip():
        return False, None
    try:
        return True, json.loads(content)
    except ValueError:
        return False, None


def snippet(content: bytes) -> str:
    """The start of a body, one line, secrets masked: for error messages."""
    text = " ".join(content.decode("utf-8", "replace").split())
    text = text[:_SNIPPET] + ("..." if len(text) > _SNIPPET else "")
    return mask(text)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """How long the server asked us to wait in `Retry-After` (seconds or a date), or None."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def reset_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until Finnhub's `X-Ratelimit-Reset` (an epoch), a hint for a 429; None when
    absent, unreadable or too far away to be a per-minute window (a daily quota)."""
    try:
        wait = float(headers.get("X-Ratelimit-Reset", "")) - now.timestamp()
    except ValueError:
        return None
    return max(0.0, wait) if wait < 3600 else None


def _detail(ok: bool, body: Any, content: bytes) -> str:
    if ok and isinstance(body, dict) and isinstance(body.get("error"), str):
        return mask(body["error"][:_SNIPPET])
    return snippet(content) if content.strip() else "empty body"


def classify(status: int, headers: Mapping[str, str], content: bytes, now: datetime) -> Attempt:
    """Turn an HTTP answer into an outcome, and say whether to retry it."""
    ok, body = parse_json(content)
    if 200 <= status < 300:
        if ok:
            return Attempt(status, "ok", body)
        what = "empty body" if not content.strip() else f"malformed JSON ({len(content)} bytes)"
        return Attempt(status, "failed", None, f"HTTP {status} with {what}", retry=True)
    body = body if ok else None
    detail = _detail(ok, body, content)
    error = f"HTTP {status}: {detail}"
    if status == 429:
        return Attempt(
            status,
            "rate_limited",
            body,
            error,
            retry=True,
            retry_after=retry_after_seconds(headers, now),
            reset_after=reset_seconds(headers, now),
        )
    if status == 401:
        message = f"HTTP 401: the API key was rejected ({detail})"
        return Attempt(status, "unauthorized", body, message)
    if status == 403 and ok and NOT_ENTITLED_TEXT in detail.lower():
        return Attempt(status, "not_entitled", body, error)
    if status >= 500 or status == 408:
        return Attempt(status, "failed", body, error, True, retry_after_seconds(headers, now))
    if 300 <= status < 400:
        # Redirects are never followed: the key header must not travel to another host.
        where = headers.get("Location", "?")
        return Attempt(status, "failed", body, f"HTTP {status}: unexpected redirect to {where}")
    return Attempt(status, "failed", body, error)


def network_failure(exc: BaseException, timeout: float) -> Attempt:
    """An attempt that got no HTTP answer (timeout, refused, reset, truncated): retried."""
    import requests

    if isinstance(exc, requests.Timeout):
        error = f"no answer within {timeout:g} s ({exc.__class__.__name__})"
    else:
        error = f"connection failed: {exc.__class__.__name__}: {mask(str(exc))[:_SNIPPET]}"
    return Attempt(0, "failed", None, error, retry=True)
