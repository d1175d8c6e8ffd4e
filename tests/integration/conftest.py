"""Fixtures of the integration tests (the fake Finnhub server)."""

from tests.support.finnhub_fixtures import finnhub_server

__all__ = ["finnhub_server"]
