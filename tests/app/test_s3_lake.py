"""The dashboard on an S3 lake (moto, or Ceph RGW over HTTP or HTTPS): views, quarantine and SQL
through httpfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import (
    AppFactory,
    DemoLake,
    lake_env,
    metric,
    no_errors,
    run_pipeline,
)
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration


def test_every_page_on_an_s3_lake(
    make_app: AppFactory, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    env = lake_env(tmp_path) | s3_server.env(s3_bucket) | {"BUCKETPIPE_DEMO_DAYS": "5"}
    run_pipeline(env, ["ingest", "demo"], ["clean"])
    app = make_app(DemoLake(tmp_path, env))
    no_errors(app)
    assert metric(app, "Active stocks") == "7"
    for page in ("stock", "news", "explore", "pipeline", "quality"):
        app.switch_page(f"views/{page}.py").run()
        no_errors(app)
    app.selectbox(key="quality_dataset").set_value("quotes").run()
    assert int(metric(app, "Rows in quarantine").replace(",", "")) > 0
    app.switch_page("views/sql.py").run()
    app.text_area(key="sql_text").input("SELECT count(DISTINCT symbol) AS n FROM daily_bars")
    next(b for b in app.button if b.label == "Run").click().run()
    no_errors(app)
    frames = [d.value for d in app.dataframe if list(d.value.columns) == ["n"]]
    assert frames and int(frames[0]["n"][0]) == 7
    assert s3_server.writer.secret_key not in " ".join(
        str(e.value) for e in [*app.caption, *app.markdown]
    )
