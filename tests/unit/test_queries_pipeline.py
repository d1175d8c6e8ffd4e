"""Pipeline queries over manifests written to a local lake, and the pure table builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bucketpipe.context import Context, lake_store
from bucketpipe.coord.signals import Event, Signals
from bucketpipe.lake.census import take_census
from bucketpipe.lake.index import read_index
from bucketpipe.lake.runs import RunLog, RunManifest
from bucketpipe.serve.queries import pipeline
from tests.conftest import SettingsFactory

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def manifest(job: str, run_id: str, minutes: int, **extra: object) -> RunManifest:
    start = T0 + timedelta(minutes=minutes)
    return RunManifest(
        job=job, run_id=run_id, started_at=start, finished_at=start + timedelta(seconds=3), **extra
    )


@pytest.fixture
def ctx(make_settings: SettingsFactory) -> Context:
    settings = make_settings()
    return Context(settings=settings, store=lake_store(settings), signals=Signals(None))


def test_run_history_newest_first(ctx: Context) -> None:
    log = RunLog(ctx.store)
    log.write(manifest("ingest", "ingest-1", 0, source="demo", rows=10))
    log.write(manifest("clean", "clean-1", 1, inputs=["ingest-1"], rows=8))
    log.write(
        manifest("ingest", "ingest-2", 2, source="finnhub", status="partial", errors=["boom"])
    )
    history = pipeline.run_history(ctx)
    assert history["run_id"].tolist() == ["ingest-2", "clean-1", "ingest-1"]
    first = history.iloc[0]
    assert (first["status"], first["errors"], first["first_error"]) == ("partial", 1, "boom")
    assert history.iloc[1]["duration_s"] == 3.0
    assert pipeline.run_history(ctx, 1)["run_id"].tolist() == ["ingest-2"]
    # Read from the recent-runs document (one GET) or from the manifests: the same table.
    listed = pipeline.run_history(ctx, recorded=False)
    assert history.to_dict("records") == listed.to_dict("records")
    # ingest-2 was committed after the last clean run: it waits.
    assert pipeline.waiting_for_clean(ctx) == ["ingest-2"]


def test_services_split_ingest_by_source(ctx: Context) -> None:
    log = RunLog(ctx.store)
    log.write(manifest("ingest", "ingest-1", 0, source="demo", rows=10))
    log.write(manifest("ingest", "ingest-2", 5, source="finnhub", status="failed", errors=["403"]))
    services = {s.name: s for s in pipeline.services(ctx)}
    assert set(services) == {"ingest-demo", "ingest-finnhub"}
    assert (services["ingest-demo"].state, services["ingest-demo"].colour) == ("succeeded", "green")
    assert services["ingest-demo"].message == "10 records"  # raw records, one per response
    assert (services["ingest-finnhub"].message, services["ingest-finnhub"].colour) == ("403", "red")
    assert not services["ingest-demo"].live


def test_a_file_landing_run_counts_files_not_rows(ctx: Context) -> None:
    """`ingest bucket` lands one raw record per file: a 1,050,000-row file is `1 file`."""
    log = RunLog(ctx.store)
    log.write(manifest("ingest", "ingest-1", 0, source="bucket", rows=1))
    log.write(manifest("clean", "clean-1", 1, inputs=["ingest-1"], rows=1_050_000))
    index = read_index(ctx.store)
    assert index is not None
    for recorded in (None, index.services):
        services = {s.name: s.message for s in pipeline.services(ctx, recorded)}
        assert services == {"ingest-bucket": "1 file", "clean": "1,050,000 rows"}
    history = pipeline.run_history(ctx).set_index("run_id")
    assert history.loc["ingest-1", "output"] == "1 file"
    assert history.loc["clean-1", "output"] == "1,050,000 rows"
    assert pipeline.output("clean", None, 1) == "1 row"


def test_services_and_availability_from_the_lake_index_match_the_manifests(ctx: Context) -> None:
    log = RunLog(ctx.store)
    log.write(manifest("ingest", "ingest-1", 0, source="demo", rows=10))
    log.write(manifest("ingest", "ingest-2", 5, source="finnhub", status="failed", errors=["403"]))
    log.write(
        manifest(
            "ingest",
            "ingest-3",
            9,
            source="finnhub",
            endpoints={"dividends": {"status": "not_entitled", "message": "premium"}},
        )
    )
    index = read_index(ctx.store)
    assert index is not None
    assert pipeline.services(ctx, index.services) == pipeline.services(ctx)
    for dataset in ("dividends", "quotes"):
        recorded = pipeline.availability(ctx, dataset, index.endpoints)
        assert recorded == pipeline.availability(ctx, dataset)
    assert pipeline.availability(ctx, "dividends", index.endpoints).status == "not_entitled"
    from_manifests = pipeline.endpoint_report(pipeline.ingest_manifests(ctx))
    recorded_table = pipeline.endpoint_table(index.endpoints)
    assert recorded_table.to_dict("records") == from_manifests.to_dict("records")


def test_endpoint_report_keeps_the_newest_account() -> None:
    older = manifest(
        "ingest", "i-1", 0, endpoints={"candles": {"status": "ok", "calls": 7, "premium": True}}
    )
    newer = manifest(
        "ingest",
        "i-2",
        5,
        endpoints={
            "candles": {"status": "not_entitled", "http": {"403": 1}, "message": "premium"},
            "quotes": {"status": "ok", "calls": 7, "ok": 7},
        },
    )
    table = pipeline.endpoint_report([newer, older]).set_index("dataset")
    assert table.loc["candles", "status"] == "not_entitled"
    assert table.loc["candles", "http"] == "403: 1"
    assert table.loc["candles", "run_id"] == "i-2"
    assert table.loc["quotes", "ok"] == 7
    assert pipeline.endpoint_report([]).empty


def test_object_counts_per_area(ctx: Context) -> None:
    ctx.store.put("raw/demo/dt=2026-01-05/a.jsonl.gz", b"12345")
    ctx.store.put("raw/demo/dt=2026-01-05/b.jsonl.gz", b"12")
    ctx.store.put("_runs/ingest/a.json", b"{}")
    counts = pipeline.object_counts(ctx).set_index("area")
    assert counts.loc["raw", "objects"] == 2 and counts.loc["raw", "bytes"] == 7
    assert counts.loc["_runs", "objects"] == 1
    assert counts.loc["clean", "objects"] == 0


def test_counted_objects_come_from_the_census_without_a_listing(ctx: Context) -> None:
    ctx.store.put("raw/demo/dt=2026-01-05/a.jsonl.gz", b"12345")
    ctx.store.put("raw/demo/dt=2026-01-05/b.jsonl.gz", b"12")
    frame, count, census = pipeline.counted_objects(ctx)
    assert census is None and frame["bytes"].isna().all()  # no census yet: no sizes
    take_census(ctx.store, datetime(2026, 1, 6, tzinfo=UTC))
    # Objects written after the census are not listed: the page shows the census.
    ctx.store.put("raw/demo/dt=2026-01-06/c.jsonl.gz", b"123")
    frame, count, census = pipeline.counted_objects(ctx)
    rows = frame.set_index("area")
    assert census is not None and census.counted_at == datetime(2026, 1, 6, tzinfo=UTC)
    assert rows.loc["raw", "objects"] == 2 and rows.loc["raw", "bytes"] == 7
    assert rows.loc["raw", "newest"] is not None and rows.loc["clean", "objects"] == 0
    assert count.total == 2
    # The exact listing, when asked for, sees the new one.
    assert pipeline.object_counts(ctx).set_index("area").loc["raw", "objects"] == 3


def test_events_frame_and_redis_off(ctx: Context) -> None:
    events = [
        Event(kind="clean.committed", run_id="c-1", job="clean", datasets=("quotes",), rows=3),
    ]
    table = pipeline.events_frame(events)
    assert table.iloc[0][["kind", "datasets", "rows"]].tolist() == ["clean.committed", "quotes", 3]
    assert pipeline.recent_events(ctx).empty
    assert pipeline.live_statuses(ctx).empty
