"""Live refresh in an open session: a new commit shows up on the next version check."""

from __future__ import annotations

import time

import pytest

from tests.app.conftest import AppFactory, DemoLake, metric, no_errors, run_pipeline

pytestmark = pytest.mark.integration


def test_open_session_picks_up_a_new_commit(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake, BUCKETPIPE_REFRESH_SECONDS="2")
    assert any("No quotes have been committed yet" in str(i.value) for i in app.info)
    run_pipeline({**empty_lake.env, "BUCKETPIPE_DEMO_DAYS": "5"}, ["ingest", "demo"], ["clean"])
    time.sleep(1.1)  # versions are checked at most every refresh_seconds / 2
    app.run()  # what the fragment's timer does: check the versions, rerun on a change
    no_errors(app)
    assert metric(app, "Active stocks") == "7"
    assert any("Live: checked" in str(c.value) for c in app.sidebar.caption)


def test_live_refresh_can_be_switched_off(make_app: AppFactory, empty_lake: DemoLake) -> None:
    app = make_app(empty_lake)
    app.sidebar.toggle(key="live_refresh").set_value(False).run()
    assert any("Live refresh is off" in str(c.value) for c in app.sidebar.caption)
