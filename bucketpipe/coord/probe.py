"""Redis's check for `bucketpipe doctor`: it answers, the user and password work, it has
streams, and whether the user may write (the jobs' may; the dashboard's read-only one may not)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from bucketpipe.config.checks import Check
from bucketpipe.config.settings import Settings

__all__ = ["check_redis"]

OPTIONAL = "jobs still commit without Redis (no events, status or live refresh)"


def check_redis(settings: Settings) -> Check:
    """PING, then XADD/XLEN/DEL on a probe stream (the events stream needs Redis 5 or newer).
    A user that may not write (REDIS_USERNAME=reader) is checked by reading the events stream."""
    if not settings.redis_url:
        return Check("redis", "skip", f"REDIS_URL is unset: {OPTIONAL}")
    import redis
    from redis.exceptions import NoPermissionError

    parts = urlsplit(settings.redis_url)
    where = f"{parts.hostname}:{parts.port or 6379}"  # never the URL: it may hold a password
    user = settings.redis_username or "default"
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    client = redis.Redis.from_url(
        settings.redis_url,
        username=settings.redis_username,  # None: Redis' `default` user (the jobs')
        password=password,
        decode_responses=True,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    try:
        client.ping()
        try:
            length = _probe_stream(client, f"{settings.redis_prefix}doctor:{uuid.uuid4().hex[:12]}")
        except NoPermissionError:
            return _read_only(client, f"{settings.redis_prefix}events", where, user)
        version = _version(client)
    except redis.AuthenticationError:
        return Check(
            "redis",
            "fail",
            f"Redis at {where} refused user {user!r} with this password",
            "check REDIS_USERNAME and REDIS_PASSWORD",
        )
    except redis.ResponseError as exc:
        return _refused(exc, where)
    except (redis.ConnectionError, redis.TimeoutError):
        return Check(
            "redis",
            "warn",
            f"Redis at {where} does not answer",
            f"check REDIS_URL, or run doctor where the jobs run; {OPTIONAL}",
        )
    finally:
        client.close()
    if length != 1:
        return Check("redis", "fail", f"Redis at {where} kept {length} of 1 stream entry", "")
    return Check("redis", "pass", f"Redis {version} at {where} answers and supports streams")


def _probe_stream(client: Any, key: str) -> int:
    """Add one entry to a new stream, count it, delete the stream: how many entries it held."""
    client.xadd(key, {"probe": "1"}, maxlen=10)
    length = int(client.xlen(key))
    client.delete(key)
    return length


def _version(client: Any) -> str:
    from redis.exceptions import NoPermissionError

    try:
        return str(client.info("server").get("redis_version", "?"))
    except NoPermissionError:  # a user without INFO still does the jobs' work
        return "?"


def _read_only(client: Any, events: str, where: str, user: str) -> Check:
    """The user may not write: enough for the dashboard and `status`, not for the jobs."""
    import redis
    from redis.exceptions import NoPermissionError

    try:
        client.xrevrange(events, count=1)
    except NoPermissionError:
        return Check(
            "redis",
            "fail",
            f"Redis at {where} lets user {user!r} neither write nor read the events stream",
            "check REDIS_USERNAME and the user's ACL rules (k8s/deployments/redis.yaml)",
        )
    except redis.ResponseError as exc:
        return _refused(exc, where)
    return Check(
        "redis",
        "warn",
        f"Redis at {where} answers; user {user!r} reads the events stream and may not write",
        "right for the dashboard and `status`; the jobs need a user that writes (unset "
        "REDIS_USERNAME: `default`), so run doctor with the jobs' settings",
    )


def _refused(exc: Exception, where: str) -> Check:
    if "unknown command" in str(exc).lower():
        return Check(
            "redis",
            "fail",
            f"Redis at {where} has no streams (the stream commands are unknown)",
            "use Redis 5 or newer: the events stream needs it",
        )
    return Check("redis", "fail", f"Redis at {where}: {str(exc)[:200]}", "check REDIS_URL")
