"""API faults end to end: what the fake Finnhub does wrong never reaches a clean dataset.

Runs ride out 429 storms, 5xx bursts, timeouts, malformed, truncated and empty bodies with
retries; what fails through every retry (and unknown symbols, and an expired key) is reported
per endpoint in the run manifest, its raw line is kept with the error, and clean quarantines
it with a reason or skips it (a line that is not a 200 answer is never read), so the clean
datasets hold only good answers.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.lake.duck import connect, quote_literal
from bucketpipe.lake.quarantine import file_keys, relation_sql
from bucketpipe.lake.runs import RunManifest
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.reliability.harness import Figures, Lake
from tests.support.finnhub_fixtures import finnhub_overrides, run_ingest
from tests.support.finnhub_server import FakeFinnhub

pytestmark = pytest.mark.integration

DATASETS = ("quotes", "company_profiles", "recommendations", "basic_financials", "earnings")
SYMBOLS = "AAPL,MSFT,ZZZZQ"  # ZZZZQ: a symbol Finnhub does not know (zeros and empty bodies)
EXPIRED_KEY = "expired-test-key-5d41402abc4b2a76"
ContextFactory = Callable[[Settings], Context]
PERSISTENT = 50  # more answers than any retry budget


def raw_lines(ctx: Context, manifest: RunManifest) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for key in manifest.outputs:
        lines += [json.loads(x) for x in gzip.decompress(ctx.store.get(key)).splitlines() if x]
    return lines


def rows_of(con: Any, dataset: str, run: str) -> int:
    row = con.execute(
        f"SELECT count(*) FROM {dataset} WHERE _ingest_run = {quote_literal(run)}"
    ).fetchone()
    return int(row[0]) if row else 0


def quarantined(ctx: Context, con: Any, run: str) -> dict[str, dict[str, int]]:
    """dataset -> reason -> rows quarantined from this ingest run."""
    out: dict[str, dict[str, int]] = {}
    for dataset in DATASETS:
        keys = file_keys(ctx.store, dataset)
        if not keys:
            continue
        sql = relation_sql([ctx.store.duckdb_path(k) for k in keys])
        for reason, n in con.execute(
            f"SELECT _reject_reason, count(*) FROM ({sql}) "
            f"WHERE _ingest_run = {quote_literal(run)} GROUP BY 1"
        ).fetchall():
            out.setdefault(dataset, {})[str(reason)] = int(n)
    return out


def test_bad_answers_never_reach_clean_datasets(
    make_settings: SettingsFactory,
    finnhub_server: FakeFinnhub,
    make_context: ContextFactory,
    tmp_path: Path,
) -> None:
    figures = Figures("API faults")
    settings = make_settings(
        **finnhub_overrides(
            finnhub_server, symbols=SYMBOLS, finnhub_timeout_seconds=0.3, finnhub_max_retries=6
        )
    )
    ctx = make_context(settings)
    server = finnhub_server

    # 1. Transient trouble on every endpoint: retried to success.
    server.inject("status", status=429, times=5, path="/quote")
    server.inject("status", status=503, times=3, path="/stock/profile2")
    server.inject("html", status=502, times=2, path="/stock/recommendation")
    server.inject("timeout", times=2, delay=1.0, path="/stock/metric")
    server.inject("malformed", times=1, path="/stock/earnings")
    server.inject("truncated", times=1, path="/stock/earnings")
    server.inject("empty", times=1, path="/stock/profile2")
    transient = run_ingest(ctx, "transient", datasets=DATASETS, ignore_cadence=True)
    assert transient.manifest is not None and transient.failed_calls == 0
    assert {e["status"] for e in transient.manifest.endpoints.values()} == {"ok"}
    retries = sum(int(e.get("retries", 0)) for e in transient.manifest.endpoints.values())
    figures.values["transient_retries"] = retries
    assert retries >= 5 + 3 + 2 + 2 + 1 + 1 + 1

    # 2. Persistent trouble: every retry fails, per endpoint.
    server.inject("malformed", times=PERSISTENT, path="/quote")
    server.inject("truncated", times=PERSISTENT, path="/stock/profile2")
    server.inject("empty", times=PERSISTENT, path="/stock/recommendation")
    server.inject("status", status=500, times=3, path="/stock/metric")
    server.inject("timeout", times=PERSISTENT, delay=1.0, path="/stock/earnings")
    server.inject("status", status=200, times=PERSISTENT, path="/stock/metric")  # {"error": ...}
    persistent = run_ingest(
        ctx, "persistent", datasets=(*DATASETS, "company_news"), ignore_cadence=True
    )
    manifest = persistent.manifest
    assert manifest is not None and manifest.status == "partial"
    statuses = {name: e["status"] for name, e in manifest.endpoints.items()}
    assert statuses == {**dict.fromkeys(DATASETS, "failed"), "company_news": "ok"}, statuses
    server.faults.clear()

    # 3. An expired key: 401, the run stops at once and says so.
    expired = make_context(make_settings(**{**finnhub_overrides(
        server, symbols=SYMBOLS, finnhub_api_key=EXPIRED_KEY)}))  # fmt: skip
    refused = run_ingest(expired, "expired", datasets=DATASETS, ignore_cadence=True)
    assert refused.auth_failed
    assert refused.manifest is not None and refused.manifest.status == "failed"
    assert any("401" in e or "key" in e.lower() for e in refused.manifest.errors)

    # Every bad answer's raw line is kept, with its error.
    lines = raw_lines(ctx, manifest)
    bad = [ln for ln in lines if ln["error"] or ln["status"] != 200]
    assert {ln["endpoint"] for ln in lines if ln not in bad} == {"company_news"}
    assert len(bad) >= 3 * len(DATASETS) - 1
    figures.values["bad_raw_lines_kept"] = len(bad)
    errors = sorted({str(ln["error"]).split(":")[0][:40] for ln in bad})
    print(f"    errors kept in raw lines: {errors}")

    cleaned = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="clean-1")
    assert cleaned is not None
    assert sorted(cleaned.inputs) == ["expired", "persistent", "transient"]
    con = connect(settings)
    LakeReader(ctx.store).register_views(con)
    # Good answers made it; bad ones did not; the unknown symbol did not either.
    for dataset in ("quotes", "company_profiles", "basic_financials"):
        assert rows_of(con, dataset, "transient") > 0, dataset
        assert con.execute(f"SELECT count(*) FROM {dataset} WHERE symbol = 'ZZZZQ'").fetchone() == (
            0,
        ), dataset
    for dataset in DATASETS:
        views = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        if dataset in views:
            assert rows_of(con, dataset, "persistent") == 0, dataset
            assert rows_of(con, dataset, "expired") == 0, dataset
    # A failed answer is not data: clean skips it (the raw line and the ingest manifest say
    # why) instead of filing it under a reason about the data, such as an unknown symbol.
    assert quarantined(ctx, con, "persistent") == {}
    reasons = quarantined(ctx, con, "transient")
    assert reasons == {
        "basic_financials": {"unknown symbol: no metrics": 1},
        "company_profiles": {"unknown symbol: empty profile": 1},
        "quotes": {"unknown symbol: all-zero quote": 1},
    }, reasons
    figures.values["failed_answers_skipped_by_clean"] = len(bad)
    figures.values["calls_logged_by_server"] = len(server.requests())
    figures.report()
    con.close()
    lake = Lake(settings.model_dump(), tmp_path)
    state = lake.check()
    assert not state.violations and not state.uncleaned
