"""`bucketpipe metrics` scraped over HTTP and parsed with prometheus_client's parser; the values
checked against the lake (local and S3 on moto, Redis on and off), the alert rules checked
against what is exported, and `status --check` on a fresh and a stale lake."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bucketpipe.config.settings import Settings, env_name
from bucketpipe.context import Context
from bucketpipe.jobs.cli import main
from bucketpipe.jobs.metrics import _QuietHandler, _Server, build_app
from bucketpipe.lake.census import count_objects
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.quality.report import read_latest
from tests.conftest import SettingsFactory, free_port
from tests.support.finnhub_server import FREE_KEY, FakeFinnhub

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"
LISTED = {
    "bucketpipe_job_last_success_timestamp_seconds",
    "bucketpipe_job_last_run_status",
    "bucketpipe_job_runs_total",
    "bucketpipe_dataset_last_commit_timestamp_seconds",
    "bucketpipe_dataset_rows",
    "bucketpipe_dataset_quality_score",
    "bucketpipe_lake_objects",
    "bucketpipe_api_calls_total",
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def export(settings: Settings, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """The settings as the environment the CLI reads."""
    fields = ("lake", "temp_dir", "demo_days", "redis_url", "aws_endpoint_url", "aws_region")
    for field in (*fields, "aws_ca_bundle"):
        if (value := getattr(settings, field)) is not None:
            monkeypatch.setenv(env_name(field), str(value))
    for field in ("aws_access_key_id", "aws_secret_access_key"):
        if (secret := getattr(settings, field)) is not None:
            monkeypatch.setenv(env_name(field), secret.get_secret_value())
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


class Served:
    """`bucketpipe metrics` in a thread on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.ctx = Context.from_settings(settings)
        app = build_app(settings, self.ctx)
        self.server = make_server("127.0.0.1", 0, app, _Server, handler_class=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.server.server_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=60) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def scrape(self) -> Samples:
        status, text = self.get("/metrics")
        assert status == 200
        samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.ctx.close()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Served] = []

    def start(settings: Settings) -> Served:
        started.append(Served(settings))
        return started[-1]

    yield start
    for served in started:
        served.close()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.mark.parametrize("redis", ["redis", "no-redis"])
def test_the_metrics_of_a_demo_lake_match_the_lake(
    lake_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    serve: Any,
    redis: str,
    request: pytest.FixtureRequest,
) -> None:
    redis_url = request.getfixturevalue("redis_url") if redis == "redis" else None
    settings = lake_settings(demo_days=2, redis_url=redis_url, metrics_cache_seconds=0)
    export(settings, monkeypatch)
    assert main(["ingest", "demo", "--symbols", "AAPL,MSFT", "--run-id", "demo-1"]) == 0
    assert main(["clean", "--run-id", "clean-1"]) == 0
    samples = serve(settings).scrape()
    assert names(samples) >= LISTED
    ctx = Context.from_settings(settings)
    for job in ("ingest-demo", "clean"):
        assert value(samples, "bucketpipe_job_last_run_status", job=job) == 1
        assert value(samples, "bucketpipe_job_runs_total", job=job, status="succeeded") == 1
        assert value(samples, "bucketpipe_job_consecutive_failures", job=job) == 0
    for name in list_datasets(ctx.store):
        snap = read_current(ctx.store, name)
        assert snap is not None
        assert value(samples, "bucketpipe_dataset_rows", dataset=name) == snap.rows
        committed = value(samples, "bucketpipe_dataset_last_commit_timestamp_seconds", dataset=name)
        assert committed == pytest.approx(snap.created_at.timestamp())
    for name, report in read_latest(ctx.store).items():
        for dim, d in report.dimensions.items():
            score = value(samples, "bucketpipe_dataset_quality_score", dataset=name, dimension=dim)
            assert score == pytest.approx(d.score)
    objects = value(samples, "bucketpipe_lake_objects")
    assert objects == count_objects(ctx.store).total > 0
    assert value(samples, "bucketpipe_redis_up") == (1 if redis_url else -1)
    ctx.close()


def test_finnhub_429s_a_retry_absorbed_are_counted_with_redis_down(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    finnhub_server: FakeFinnhub,
    serve: Any,
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(redis_url=dead_redis, redis_timeout_seconds=0.2)
    export(
        settings,
        monkeypatch,
        FINNHUB_API_KEY=FREE_KEY,
        BUCKETPIPE_FINNHUB_URL=finnhub_server.url,
        BUCKETPIPE_FINNHUB_BACKOFF_SECONDS="0.01",
    )
    finnhub_server.inject("status", status=429, times=2, path="/quote")
    argv = ["ingest", "finnhub", "--datasets", "quotes", "--symbols", "AAPL,MSFT,NVDA"]
    assert main([*argv, "--run-id", "f-1"]) == 0  # the retries absorbed both 429s
    samples = serve(settings).scrape()
    assert value(samples, "bucketpipe_api_calls_total", status="429") == 2
    assert value(samples, "bucketpipe_api_calls_total", status="200") == 3
    assert value(samples, "bucketpipe_redis_up") == 0
    assert LISTED - {"bucketpipe_dataset_quality_score"} <= names(samples) | {
        "bucketpipe_dataset_last_commit_timestamp_seconds",
        "bucketpipe_dataset_rows",
    }


def test_failures_in_a_row_show_and_scrapes_are_cached(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    finnhub_server: FakeFinnhub,
    serve: Any,
) -> None:
    settings = make_settings(metrics_cache_seconds=3600)
    export(
        settings,
        monkeypatch,
        FINNHUB_API_KEY=FREE_KEY,
        BUCKETPIPE_FINNHUB_URL=finnhub_server.url,
        BUCKETPIPE_FINNHUB_BACKOFF_SECONDS="0.01",
        BUCKETPIPE_FINNHUB_MAX_RETRIES="1",
    )
    finnhub_server.inject("status", status=500, times=1000, path="/quote")
    argv = ["ingest", "finnhub", "--datasets", "quotes", "--symbols", "AAPL"]
    assert main([*argv, "--run-id", "f-1"]) == 1
    assert main([*argv, "--run-id", "f-2"]) == 1
    served = serve(settings)
    first = served.scrape()
    job = "ingest-finnhub"
    assert value(first, "bucketpipe_job_last_run_status", job=job) == 0
    assert value(first, "bucketpipe_job_consecutive_failures", job=job) == 2
    assert value(first, "bucketpipe_job_runs_total", job=job, status="failed") == 2
    assert value(first, "bucketpipe_api_calls_total", status="500") == 4
    with finnhub_server.lock:
        finnhub_server.faults.clear()
    assert main([*argv, "--run-id", "f-3"]) == 0
    again = served.scrape()
    assert again == first, "within BUCKETPIPE_METRICS_CACHE_SECONDS a scrape reads nothing"
    assert value(again, "bucketpipe_collection_s3_requests") > 0


def test_readyz_fails_while_the_lake_cannot_be_read(
    make_settings: SettingsFactory, s3_settings: SettingsFactory, serve: Any
) -> None:
    healthy = serve(make_settings())
    assert healthy.get("/healthz") == (200, "ok\n")
    assert healthy.get("/readyz") == (200, "ready\n")
    broken = serve(s3_settings(lake="s3://no-such-bucket/lake"))
    assert broken.get("/healthz")[0] == 200
    assert broken.get("/readyz")[0] == 503
    assert value(broken.scrape(), "bucketpipe_lake_up") == 0


def rule_series(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (from its syntax tree)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.add(node.name)
        for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
            if (child := getattr(node, attr, None)) is not None:
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expr))
    return found


def test_every_series_an_alert_names_is_exported(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    finnhub_server: FakeFinnhub,
    serve: Any,
) -> None:
    settings = make_settings(demo_days=1)
    export(
        settings, monkeypatch, FINNHUB_API_KEY=FREE_KEY, BUCKETPIPE_FINNHUB_URL=finnhub_server.url
    )
    assert main(["ingest", "demo", "--symbols", "AAPL", "--run-id", "demo-1"]) == 0
    assert main(["clean", "--run-id", "clean-1"]) == 0
    assert main(["ingest", "finnhub", "--datasets", "quotes", "--symbols", "AAPL"]) == 0
    exported = names(serve(settings).scrape())
    assert exported >= LISTED
    rules = yaml.safe_load(RULES.read_text())["spec"]["groups"][0]["rules"]
    named = {r["alert"]: rule_series(r["expr"]) for r in rules}
    assert all(named.values())
    for alert, series in named.items():
        # counters are exported as <name>_total; a rule names the sample.
        assert series <= exported, f"{alert} names series nobody exports: {series - exported}"
    assert rule_series("bucketpipe_nope > 1") - exported == {"bucketpipe_nope"}


def test_every_exported_series_is_documented(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch, serve: Any
) -> None:
    settings = make_settings(demo_days=1)
    export(settings, monkeypatch)
    assert main(["ingest", "demo", "--symbols", "AAPL", "--run-id", "demo-1"]) == 0
    assert main(["clean", "--run-id", "clean-1"]) == 0
    docs = (ROOT / "docs" / "operations.md").read_text()
    exported = {n.removesuffix("_total") for n in names(serve(settings).scrape())}
    exported -= {n for n in exported if n.endswith("_created")}
    missing = sorted(n for n in exported if f"`{n}" not in docs)
    assert not missing, f"docs/operations.md does not list {missing}"


def test_status_check_tells_a_stale_lake_from_a_fresh_one(
    make_settings: SettingsFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(demo_days=1)
    export(settings, monkeypatch)
    assert main(["ingest", "demo", "--symbols", "AAPL", "--run-id", "demo-1"]) == 0
    assert main(["clean", "--run-id", "clean-1"]) == 0
    capsys.readouterr()
    assert main(["status", "--check"]) == 0
    assert capsys.readouterr().out == "healthy\n"
    later = Context.from_settings(settings).now() + timedelta(hours=4)
    assert main(["status", "--check", "--at", later.isoformat()]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "job clean: last success 4h ago (expected within 45m)" in lines
    assert "job ingest-demo: last success 4h ago (expected within 3h)" in lines
    assert "dataset market_news: last refreshed 4h ago (expected within 45m)" in lines
    assert not any("company_profiles" in line for line in lines)  # refreshed daily
    assert main(["status", "--check", "--job", "clean", "--max-age", "300"]) == 0
    assert main(["status", "--check", "--job", "compact"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "job compact: never ran"
