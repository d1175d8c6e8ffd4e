"""Webhook notifications: one message per incident, repeats held back, recovery told once.

An incident (a job failing, a dataset's quality below its threshold, the lake near its object
limit) has a stable key. Its state (open since, last announced) is kept in Redis (the hash
`alerts`) and, for when Redis is down or was flushed, in the lake: a small document per open
incident, passed in as `docs` with the key layout `doc_key` (the lake's `_state/alerts/`). An
incident is open in either place is open: at worst a message is sent twice, never not at all.
With neither place reachable every failure is announced.

The webhook gets Slack's and Mattermost's incoming-webhook JSON, `{"text": ...}`, which Teams'
incoming webhooks accept too. A message quotes errors that strangers' text can reach (a file
name in a source bucket, an API's answer), so it is made inert (`inert`): `&`, `<` and `>` as
Slack's entities (no `<!channel>`, no `<url|link>`), and a zero-width space after the `!` of
a Markdown image and the `@` of `@channel`, `@here` and `@all` (Mattermost and Teams read
Markdown and mentions; the characters still read the same). Its URL is a secret: it never
appears in a log line, and a webhook that fails (a short timeout, one retry) is logged and
never fails the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import requests
from pydantic import BaseModel

from bucketpipe.config.errors import BucketpipeError, ObjectNotFound
from bucketpipe.config.logs import mask, register_secrets
from bucketpipe.config.settings import Settings
from bucketpipe.coord.signals import Signals

log = logging.getLogger(__name__)

REDIS_HASH = "alerts"
Sent = Literal["sent", "suppressed", "failed", "off", "none"]


class StateDocs(Protocol):
    """Where incident documents live when Redis cannot be trusted (the lake's store)."""

    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def delete(self, keys: Any) -> int: ...

    def list_objects(self, prefix: str = "") -> Any: ...


@dataclass(frozen=True)
class Incident:
    """Something an operator must hear about; `key` says which thing (`run-clean`)."""

    key: str
    title: str
    details: tuple[str, ...] = ()


class IncidentState(BaseModel):
    key: str
    title: str
    opened_at: datetime
    last_sent_at: datetime | None = None
    occurrences: int = 1


class Webhook:
    """Posts `{"text": ...}` to an incoming webhook: a short timeout, one retry, never raises."""

    def __init__(
        self, url: str, *, timeout: float = 5.0, session: requests.Session | None = None
    ) -> None:
        register_secrets([url])
        self._url = url
        self.timeout = timeout
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return "Webhook(url=***)"

    def post(self, text: str) -> bool:
        for attempt in (1, 2):
            try:
                # Only the status is needed: the body is never read (stream), so an answer
                # that never ends cannot hold the job.
                response = self.session.post(
                    self._url,
                    json={"text": text},
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
                response.close()
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}"
            else:
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    attempt = 2  # a 4xx will not change: do not retry it
            log.warning(
                "webhook post failed; the run goes on",
                extra={"attempt": attempt, "error": mask(problem)},
            )
            if attempt == 2:
                break
        return False


@dataclass
class Notifier:
    """Raises and resolves incidents, sending one message per change of state."""

    webhook: Webhook | None
    signals: Signals
    docs: StateDocs | None
    doc_key: Callable[[str], str]
    repeat: timedelta = timedelta(hours=1)
    origin: str = ""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _open: dict[str, IncidentState] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        signals: Signals,
        docs: StateDocs | None,
        doc_key: Callable[[str], str],
        *,
        origin: str = "",
    ) -> Notifier:
        url = settings.alert_webhook_url
        webhook = (
            Webhook(url.get_secret_value(), timeout=settings.alert_timeout_seconds) if url else None
        )
        repeat = timedelta(minutes=settings.alert_repeat_minutes)
        return cls(webhook, signals, docs, doc_key, repeat, origin)

    # --- state ----------------------------------------------------------------------------
    def open_incidents(self) -> dict[str, IncidentState]:
        """Open incidents from Redis and the lake (read once, then kept up to date here)."""
        if self._open is None:
            found: dict[str, IncidentState] = {}
            for state in [*self._from_redis(), *self._from_docs()]:
                known = found.get(state.key)
                if known is None or _newer(state, known):
                    found[state.key] = state
            self._open = found
        return self._open

    def _from_redis(self) -> list[IncidentState]:
        fields = self._redis(lambda r: r.hgetall(self.signals.key(REDIS_HASH)), {})
        return [s for v in fields.values() if (s := _parse(v)) is not None]

    def _from_docs(self) -> list[IncidentState]:
        if self.docs is None:
            return []
        out = []
        try:
            prefix = self.doc_key("")
            for info in self.docs.list_objects(prefix):
                if (state := _parse(self.docs.get(info.key))) is not None:
                    out.append(state)
        except (BucketpipeError, OSError) as exc:
            log.warning("alert state in the lake unreadable", extra={"error": str(exc)[:200]})
            self.docs = None  # the lake is down: do not wait on it again in this run
        return out

    def _save(self, state: IncidentState | None, key: str) -> None:
        incidents = self.open_incidents()
        name = self.signals.key(REDIS_HASH)
        if state is None:
            incidents.pop(key, None)
            self._redis(lambda r: r.hdel(name, key), 0)
        else:
            incidents[key] = state
            self._redis(lambda r: r.hset(name, key, state.model_dump_json()), 0)
        if self.docs is None:
            return
        try:
            if state is None:
                self.docs.delete([self.doc_key(f"{key}.json")])
            else:
                body = state.model_dump_json(indent=1).encode()
                self.docs.put(self.doc_key(f"{key}.json"), body, "application/json")
        except (BucketpipeError, OSError) as exc:
            log.warning("alert state not saved in the lake", extra={"error": str(exc)[:200]})
            self.docs = None

    def _redis(self, fn: Callable[[Any], Any], default: Any) -> Any:
        if self.signals.client is None:
            return default
        import redis

        try:
            return fn(self.signals.client)
        except (redis.RedisError, OSError):
            log.debug("Redis unavailable for alert state", exc_info=True)
            return default

    # --- incidents ------------------------------------------------------------------------
    def raise_incident(self, incident: Incident) -> Sent:
        """Announce an incident unless it was announced less than `repeat` ago."""
        now = self.clock()
        state = self.open_incidents().get(incident.key)
        if state is None:
            state = IncidentState(key=incident.key, title=incident.title, opened_at=now)
            text = self._text("🔴", incident.title, incident.details)
        else:
            state = state.model_copy(
                update={"occurrences": state.occurrences + 1, "title": incident.title}
            )
            if state.last_sent_at is not None and now - state.last_sent_at < self.repeat:
                self._save(state, incident.key)
                return "suppressed"
            since = f"open since {state.opened_at:%Y-%m-%d %H:%M} UTC, seen {state.occurrences}x"
            text = self._text("🔴", f"{incident.title} (still: {since})", incident.details)
        outcome = self._send(text)
        if outcome == "sent":
            state = state.model_copy(update={"last_sent_at": now})
        self._save(state, incident.key)
        return outcome

    def resolve(self, key: str, title: str, details: tuple[str, ...] = ()) -> Sent:
        """Announce once that an open incident is over; nothing if it was not open."""
        state = self.open_incidents().get(key)
        if state is None:
            return "none"
        since = f"open since {state.opened_at:%Y-%m-%d %H:%M} UTC"
        outcome = self._send(self._text("🟢", f"{title} ({since})", details))
        if outcome in {"sent", "off"}:
            self._save(None, key)
        return outcome

    def _text(self, mark: str, title: str, details: tuple[str, ...]) -> str:
        where = f" [{self.origin}]" if self.origin else ""
        return "\n".join(inert(line) for line in [f"{mark} Bucketpipe{where}: {title}", *details])

    def _send(self, text: str) -> Sent:
        if self.webhook is None:
            return "off"
        ok = self.webhook.post(mask(text))
        log.info("webhook notified" if ok else "webhook not notified", extra={"text": text[:120]})
        return "sent" if ok else "failed"


ZERO_WIDTH = "\u200b"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MENTION = re.compile(r"(?<![\w@])@(channel|here|all|everyone)\b", re.IGNORECASE)


def inert(text: str) -> str:
    """A line of a message that no chat reads as a mention, a link target or an image."""
    text = "".join(_ENTITIES.get(ch, ch) for ch in text)
    text = text.replace("![", f"!{ZERO_WIDTH}[")
    return _MENTION.sub(lambda m: f"@{ZERO_WIDTH}{m.group(1)}", text)


def _parse(raw: bytes | str) -> IncidentState | None:
    try:
        return IncidentState.model_validate_json(raw)
    except ValueError:
        return None


def _newer(a: IncidentState, b: IncidentState) -> bool:
    far_past = datetime.min.replace(tzinfo=UTC)
    return (a.last_sent_at or far_past, a.occurrences) > (b.last_sent_at or far_past, b.occurrences)


def read_open_incidents(store: StateDocs, prefix: str) -> list[IncidentState]:
    """The open incidents kept in the lake (for `status` and the metrics)."""
    out = []
    for info in store.list_objects(prefix):
        try:
            if (state := _parse(store.get(info.key))) is not None:
                out.append(state)
        except ObjectNotFound:
            continue
    return out
