"""Redis signals: events stream, job status, locks and data versions, all degrading gracefully.

Redis makes Bucketpipe fast and live, never correct: every method here returns a neutral
value when Redis is not configured or not answering, and logs that once.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bucketpipe.coord.events import (
    CLEAN_COMMITTED,
    COMPACT_COMMITTED,
    EVENTS,
    INGEST_COMMITTED,
    RUN_FAILED,
    Event,
    events_of,
)

if TYPE_CHECKING:
    import redis

    from bucketpipe.config.settings import Settings

log = logging.getLogger(__name__)

# The events stream's names are defined in `coord.events`; jobs use them through here.
__all__ = [
    "CLEAN_COMMITTED",
    "COMPACT_COMMITTED",
    "EVENTS",
    "INGEST_COMMITTED",
    "RUN_FAILED",
    "Event",
    "Signals",
]

T = TypeVar("T")

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class Signals:
    """Bucketpipe's use of Redis. `Signals(None)` is the 'Redis off' variant."""

    def __init__(
        self, client: redis.Redis | None, prefix: str = "bucketpipe:", maxlen: int = 10_000
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.maxlen = maxlen
        self._warned = False
        self._failed = False
        self._release: Any = None
        self._extend: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Signals:
        if not settings.redis_url:
            return cls(None, settings.redis_prefix, settings.events_maxlen)
        import redis

        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        client = redis.Redis.from_url(
            settings.redis_url,
            username=settings.redis_username,  # None: Redis' `default` user
            password=password,
            decode_responses=True,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
            health_check_interval=30,
        )
        return cls(client, settings.redis_prefix, settings.events_maxlen)

    # --- state ----------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.client is not None

    @property
    def state(self) -> str:
        """`off` (not configured), `ok`, or `unavailable` (a call failed)."""
        if self.client is None:
            return "off"
        return "unavailable" if self._failed else "ok"

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _do(self, what: str, fn: Callable[[Any], T], default: T) -> T:
        if self.client is None:
            return default
        import redis

        try:
            result = fn(self.client)
        except (redis.RedisError, OSError) as exc:
            self._failed = True
            if not self._warned:
                self._warned = True
                log.warning(
                    "Redis unavailable; continuing without it (data is still committed)",
                    extra={"during": what, "error": exc.__class__.__name__},
                )
            return default
        if self._failed:
            self._failed = False
            self._warned = False
            log.info("Redis reachable again", extra={"during": what})
        return result

    def ping(self) -> bool:
        return bool(self._do("ping", lambda r: r.ping(), False))

    # --- events ---------------------------------------------------------------------------
    def publish(self, event: Event) -> str | None:
        """Append an event to the stream; its id, or None when Redis is off or down."""
        stream = self.key(EVENTS)
        return self._do(
            "publish",
            lambda r: str(r.xadd(stream, event.to_fields(), maxlen=self.maxlen, approximate=True)),
            None,
        )

    def ensure_group(self, group: str) -> bool:
        """Create the consumer group (from the stream's start) if it does not exist."""
        import redis

        def create(r: Any) -> bool:
            try:
                r.xgroup_create(self.key(EVENTS), group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            return True

        return self._do("ensure_group", create, False)

    def read_group(
        self, group: str, consumer: str, *, count: int = 100, block_ms: int | None = None
    ) -> list[Event]:
        """New events for this consumer group (delivered to `consumer`, pending until acked)."""
        if not self.ensure_group(group):
            return []
        stream = self.key(EVENTS)

        def read(r: Any) -> list[Event]:
            reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
            return events_of(reply)

        return self._do("read_group", read, [])

    def pending_events(self, group: str, consumer: str, *, count: int = 100) -> list[Event]:
        """Events already delivered to `consumer` and not acked (re-read after a crash)."""
        if not self.ensure_group(group):
            return []
        stream = self.key(EVENTS)
        return self._do(
            "pending",
            lambda r: events_of(r.xreadgroup(group, consumer, {stream: "0"}, count=count)),
            [],
        )

    def claim_abandoned(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int = 100
    ) -> list[Event]:
        """Take over events another consumer received but did not ack in `min_idle_ms`."""
        if not self.ensure_group(group):
            return []
        stream = self.key(EVENTS)

        def claim(r: Any) -> list[Event]:
            reply: Any = r.xautoclaim(stream, group, consumer, min_idle_ms, "0-0", count=count)
            messages = reply[1] if isinstance(reply, list | tuple) and len(reply) > 1 else []
            return [Event.from_fields(i, f) for i, f in messages if f]

        return self._do("claim", claim, [])

    def wait_for_events(
        self,
        timeout_ms: int,
        *,
        group: str | None = None,
        consumer: str = "",
        kinds: frozenset[str] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> bool:
        """Block until an event is there (or the timeout, or `stop()`); True if one arrived.

        With `group`, this waits in the consumer group: an entry the group has not delivered
        yet (one appended while the caller was busy too) wakes it at once, and stays pending
        for `consumer`, so the caller's next read of its pending entries gets it; entries of
        other `kinds` are acknowledged and do not wake it (a clean's own announcement must not
        start another pass). Without a group it waits for an entry appended after the wait
        began.

        A blocking read longer than the socket timeout would fail as a timeout (and Redis
        would look down), so it blocks in slices shorter than that timeout, and no longer than
        a second when `stop` is given, so a stop request is seen promptly.
        """
        stream = self.key(EVENTS)
        if group is not None:
            if not self.ensure_group(group):
                return False
            read: Callable[[int, Any], list[Any]] = partial(_read_in_group, stream, group, consumer)
        else:
            after = self._do("wait", partial(_last_id, stream), None)
            if after is None:
                return False
            read = partial(_read_after, stream, after)
        deadline = time.monotonic() + timeout_ms / 1000
        slice_ms = self._block_slice_ms() if stop is None else min(1000, self._block_slice_ms())
        while (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
            if stop is not None and stop():
                return False
            reply = self._do("wait", partial(read, min(left_ms, slice_ms)), None)
            if reply is None:
                return False  # Redis went away: the caller falls back to polling
            if group is not None and kinds is not None:
                events = events_of(reply)
                others = [e.id for e in events if e.kind not in kinds and e.id is not None]
                self.ack(group, others)
                reply = [e for e in events if e.kind in kinds]
            if reply:
                return True
        return False

    def _block_slice_ms(self) -> int:
        timeout = None
        if self.client is not None:
            timeout = self.client.connection_pool.connection_kwargs.get("socket_timeout")
        return max(50, int(float(timeout) * 750)) if timeout else 60_000

    def ack(self, group: str, ids: list[str]) -> int:
        if not ids:
            return 0
        return int(self._do("ack", lambda r: r.xack(self.key(EVENTS), group, *ids), 0))

    def pending_count(self, group: str) -> int | None:
        def count(r: Any) -> int:
            info: Any = r.xpending(self.key(EVENTS), group)
            return int(info.get("pending", 0)) if isinstance(info, dict) else 0

        return self._do("pending_count", count, None)

    def recent_events(self, count: int = 50) -> list[Event]:
        """The newest events, newest first."""
        return self._do(
            "recent",
            lambda r: [
                Event.from_fields(i, f) for i, f in r.xrevrange(self.key(EVENTS), count=count)
            ],
            [],
        )

    # --- status ---------------------------------------------------------------------------
    def set_status(self, job: str, status: Mapping[str, Any]) -> bool:
        """Replace the job's status hash whole (no stale fields survive)."""
        key = self.key("status", job)
        mapping = {k: _text(v) for k, v in status.items() if v is not None}
        mapping.setdefault("updated_at", datetime.now(UTC).isoformat())

        def replace(r: Any) -> bool:
            pipe = r.pipeline(transaction=True)
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.execute()
            return True

        return self._do("set_status", replace, False)

    def heartbeat(self, job: str, run_id: str) -> bool:
        """Mark a running job alive (only if the status still belongs to this run)."""
        key = self.key("status", job)
        now = datetime.now(UTC).isoformat()

        def beat(r: Any) -> bool:
            if r.hget(key, "run_id") != run_id:
                return False
            r.hset(key, "heartbeat_at", now)
            return True

        return self._do("heartbeat", beat, False)

    def get_status(self, job: str) -> dict[str, str]:
        return self._do("get_status", lambda r: dict(r.hgetall(self.key("status", job))), {})

    def statuses(self) -> dict[str, dict[str, str]]:
        prefix = self.key("status", "")

        def scan(r: Any) -> dict[str, dict[str, str]]:
            out = {}
            for key in r.scan_iter(match=prefix + "*", count=100):
                out[str(key)[len(prefix) :]] = dict(r.hgetall(key))
            return out

        return self._do("statuses", scan, {})

    # --- locks ----------------------------------------------------------------------------
    def try_lock(self, name: str, ttl_ms: int) -> tuple[str, int] | bool | None:
        """(token, fencing number) if acquired, False if held by another, None if Redis is out."""
        token = secrets.token_hex(16)
        key = self.key("lock", name)

        def acquire(r: Any) -> tuple[str, int] | bool:
            if not r.set(key, token, nx=True, px=ttl_ms):
                return False
            fence = int(r.incr(self.key("fence", name)))
            return token, fence

        return self._do("lock", acquire, None)

    def extend_lock(self, name: str, token: str, ttl_ms: int) -> bool:
        def extend(r: Any) -> bool:
            if self._extend is None:
                self._extend = r.register_script(_EXTEND)
            return bool(self._extend(keys=[self.key("lock", name)], args=[token, ttl_ms]))

        return self._do("extend_lock", extend, False)

    def release_lock(self, name: str, token: str) -> bool:
        """Compare-and-delete: only the holder's token releases the lock."""

        def release(r: Any) -> bool:
            if self._release is None:
                self._release = r.register_script(_RELEASE)
            return bool(self._release(keys=[self.key("lock", name)], args=[token]))

        return self._do("release_lock", release, False)

    # --- data versions --------------------------------------------------------------------
    def bump_version(self, dataset: str) -> int | None:
        return self._do("bump_version", lambda r: int(r.incr(self.key("version", dataset))), None)

    def versions(self) -> dict[str, int] | None:
        """Dataset -> version counter; None when Redis is off or down."""
        prefix = self.key("version", "")

        def read(r: Any) -> dict[str, int]:
            keys = [str(k) for k in r.scan_iter(match=prefix + "*", count=200)]
            if not keys:
                return {}
            values: Any = r.mget(keys)
            return {k[len(prefix) :]: int(v or 0) for k, v in zip(keys, values, strict=True)}

        return self._do("versions", read, None)

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                log.debug("closing Redis failed", exc_info=True)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _last_id(stream: str, r: Any) -> str:
    newest: Any = r.xrevrange(stream, count=1)
    return str(newest[0][0]) if newest else "0-0"


def _read_in_group(stream: str, group: str, consumer: str, block_ms: int, r: Any) -> list[Any]:
    """Block up to `block_ms` for entries the group has not delivered (then `consumer`'s)."""
    return r.xreadgroup(group, consumer, {stream: ">"}, count=1000, block=block_ms) or []


def _read_after(stream: str, after: str, block_ms: int, r: Any) -> list[Any]:
    """Block up to `block_ms` for the first entry of `stream` after id `after`."""
    return r.xread({stream: after}, count=1, block=block_ms) or []
