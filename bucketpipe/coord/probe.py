"""Redis's check for `bucketpipe doctor`: it answers, the password works, it has streams."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from bucketpipe.config.checks import Check
from bucketpipe.config.settings import Settings

__all__ = ["check_redis"]

OPTIONAL = "jobs still commit without Redis (no events, status or live refresh)"


def check_redis(settings: Settings) -> Check:
    """PING, then XADD/XLEN/DEL on a probe stream (the events stream needs Redis 5 or newer)."""
    if not settings.redis_url:
        return Check("redis", "skip", f"REDIS_URL is unset: {OPTIONAL}")
    import redis

    parts = urlsplit(settings.redis_url)
    where = f"{parts.hostname}:{parts.port or 6379}"  # never the URL: it may hold a password
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    client = redis.Redis.from_url(
        settings.redis_url,
        password=password,
        decode_responses=True,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
    )
    key = f"{settings.redis_prefix}doctor:{uuid.uuid4().hex[:12]}"
    try:
        client.ping()
        client.xadd(key, {"probe": "1"}, maxlen=10)
        length = client.xlen(key)
        client.delete(key)
        version = client.info("server").get("redis_version", "?")
    except redis.AuthenticationError:
        return Check(
            "redis", "fail", f"Redis at {where} refused the password", "check REDIS_PASSWORD"
        )
    except redis.ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return Check(
                "redis",
                "fail",
                f"Redis at {where} has no streams (XADD is unknown)",
                "use Redis 5 or newer: the events stream needs it",
            )
        return Check("redis", "fail", f"Redis at {where}: {str(exc)[:200]}", "check REDIS_URL")
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
