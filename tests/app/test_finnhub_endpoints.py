"""The Pipeline page after a Finnhub run with a free key: which endpoints the plan lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.app.conftest import (
    AppFactory,
    DemoLake,
    finnhub_env,
    lake_env,
    metric,
    no_errors,
    run_pipeline,
)
from tests.support.finnhub_server import FREE_KEY, FakeFinnhub

pytestmark = pytest.mark.integration


def test_endpoint_entitlements_and_errors(make_app: AppFactory, tmp_path: Path) -> None:
    env = lake_env(tmp_path, BUCKETPIPE_SYMBOLS="AAPL,MSFT")
    with FakeFinnhub(per_second=1_000, per_minute=1_000_000) as server:
        env |= finnhub_env(server.url, FREE_KEY)
        run_pipeline(env, ["ingest", "finnhub"], ["clean"])
    app = make_app(DemoLake(tmp_path, env), "pipeline")
    app.session_state["pipeline_tab"] = "Finnhub endpoints"  # the tab a user opens
    app.run()
    no_errors(app)
    table = next(d.value for d in app.dataframe if "premium" in d.value.columns)
    status = table.set_index("dataset")["status"]
    assert status["quotes"] == "ok"
    assert status["candles"] == "not_entitled"  # premium: 403 with a free key
    warning = next(str(w.value) for w in app.warning if "Not in the API plan" in str(w.value))
    assert "candles" in warning
    assert FREE_KEY not in " ".join(str(c) for c in table.to_numpy().ravel())

    # The stock page says why dividends are missing: the plan, not a missing clean.
    app.switch_page("views/stock.py").run()
    no_errors(app)
    # The first day's one bar a symbol: the price chart has its candle, and each indicator
    # says the bars its window needs instead of drawing an empty chart.
    price = json.loads(app.get("plotly_chart")[0].proto.spec)
    candle = price["data"][0]
    assert candle["type"] == "candlestick" and len(candle["x"]) == 1
    assert price["layout"]["xaxis"]["type"] == "category"  # one slot per day with a bar
    assert price["layout"]["xaxis"]["categoryarray"] == candle["x"]
    deltas = {m.label: m.delta for m in app.metric}
    assert deltas["RSI 14"] == "needs 15 daily bars"
    assert deltas["SMA 20"] == "needs 20 daily bars"
    assert metric(app, "Volatility (20 d)") == "\u2013"
    captions = " ".join(str(c.value) for c in app.caption)
    assert "RSI 14 has a value from a symbol's 15th daily bar" in captions
    assert "The MACD line has a value from a symbol's 26th daily bar" in captions
    app.session_state["stock_tab"] = "Dividends"  # the tab a user opens
    app.run()
    no_errors(app)
    reasons = [str(i.value) for i in app.info]
    assert any("Dividends: not in your Finnhub plan" in r for r in reasons), reasons
    assert not any("run `bucketpipe clean`" in r and "ividend" in r for r in reasons)
