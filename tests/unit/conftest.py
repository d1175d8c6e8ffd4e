"""Unit tests start no server: a test here that asks for one (the S3 server, redis-server, the fake
Finnhub, a lake on S3) stops the collection; it belongs in tests/integration/."""

from __future__ import annotations

from pathlib import Path

import pytest

SERVER_FIXTURES = frozenset(
    {
        "s3_server",
        "s3_endpoint",
        "s3_bucket",
        "s3_settings",
        "lake_settings",
        "redis_server",
        "redis_url",
        "finnhub_server",
    }
)
UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if UNIT not in item.path.resolve().parents:
            continue
        wanted = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if wanted or item.get_closest_marker("integration"):
            raise pytest.UsageError(
                f"{item.nodeid} starts a server ({', '.join(sorted(wanted)) or 'integration'}): "
                "move it to tests/integration/"
            )
