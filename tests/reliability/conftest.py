"""Fixtures of the reliability tests (the secrets guard of `tests/conftest.py` checks each)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import LakeReaders
from tests.support.finnhub_fixtures import finnhub_server

__all__ = ["finnhub_server", "readers"]


@pytest.fixture
def readers() -> Iterator[LakeReaders]:
    """A reader thread querying whichever lake it is pointed at; no reader error is allowed."""
    thread = LakeReaders()
    thread.start()
    yield thread
    thread.stop()
    assert not thread.errors, f"readers failed: {thread.errors[:5]}"
