"""The Pipeline page: run history, endpoints, Redis live status and events, lake objects."""

from __future__ import annotations

import pytest

from bucketpipe.app.ui import MISSING
from bucketpipe.config.settings import Settings
from bucketpipe.coord.signals import Event, Signals
from tests.app.conftest import AppFactory, DemoLake, metric, no_errors, sidebar_markdown

pytestmark = pytest.mark.integration


def test_run_history_from_manifests(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "pipeline")
    no_errors(app)
    assert metric(app, "Runs") == "3"  # ingest demo, ingest bucket, clean
    assert metric(app, "Failed") == "0"
    assert metric(app, "Waiting for clean") == "0"
    history = app.dataframe[0].value
    assert set(history["job"]) == {"ingest", "clean"}
    assert set(history["source"]) == {"demo", "bucket", ""}
    assert (history["status"] == "succeeded").all()
    # Inputs are the ingest runs a clean consumed: an ingest run has none to count, not 0.
    inputs = history.set_index("job")["inputs"]
    assert inputs["clean"] == 2 and inputs["ingest"].isna().all()
    # Only the open tab runs: the lake-object census waits until its tab is opened.
    assert not any("written by the runs so far" in str(c.value) for c in app.caption)
    app.session_state["pipeline_tab"] = "Lake objects"  # the tab a user opens
    app.run()
    no_errors(app)
    objects = app.dataframe[-1].value
    assert list(objects["area"][:3]) == ["raw", "clean", "quarantine"]
    assert (objects.set_index("area").loc[["raw", "clean", "_runs"], "objects"] > 0).all()
    # No census yet (no compaction ran): the runs' own counts, no listing, no sizes.
    assert any("written by the runs so far" in str(c.value) for c in app.caption)
    assert (objects["size"] == MISSING).all()
    # Asked to, the page lists the bucket: exact counts with sizes.
    next(b for b in app.button if b.label == "Count now").click().run()
    no_errors(app)
    listed = app.dataframe[-1].value.set_index("area")
    assert MISSING not in set(listed.loc[["raw", "clean", "_runs"], "size"])
    assert any(str(c.value).startswith("Counted now: ") for c in app.caption)


def test_job_filter_narrows_the_history(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "pipeline")
    app.button_group(key="pipeline_jobs").set_value(["clean"]).run()
    assert metric(app, "Runs") == "1"
    assert set(app.dataframe[0].value["job"]) == {"clean"}


def test_without_redis_the_page_says_so(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, "pipeline")
    app.session_state["pipeline_tab"] = "Live (Redis)"
    app.run()
    assert any("Redis is off" in str(i.value) for i in app.info)


def test_live_status_and_events_from_redis(
    make_app: AppFactory, demo_lake: DemoLake, redis_url: str
) -> None:
    signals = Signals.from_settings(Settings(redis_url=redis_url))
    signals.set_status("ingest-finnhub", {"state": "running", "run_id": "ingest-42"})
    signals.publish(
        Event(kind="ingest.committed", run_id="ingest-41", job="ingest-finnhub", rows=9)
    )
    app = make_app(demo_lake, REDIS_URL=redis_url)
    # The sidebar puts Redis' live state on top of the last committed runs.
    sidebar = sidebar_markdown(app)
    assert "**ingest-finnhub** :blue-badge[running]" in sidebar
    assert "**clean** :green-badge[succeeded]" in sidebar
    app.switch_page("views/pipeline.py").run()
    app.session_state["pipeline_tab"] = "Live (Redis)"
    app.run()
    no_errors(app)
    frames = [d.value for d in app.dataframe]
    live = next(f for f in frames if "state" in f.columns and "job" in f.columns)
    assert live.set_index("job").loc["ingest-finnhub", "state"] == "running"
    events = next(f for f in frames if "kind" in f.columns)
    assert events.iloc[0]["run_id"] == "ingest-41"
    assert not any("Redis is not answering" in str(w.value) for w in app.warning)
    signals.close()
