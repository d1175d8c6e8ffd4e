"""Hostile SQL end to end: the whole attack corpus, then the legit corpus, through both entry
points, on an S3 lake (on the server BUCKETPIPE_TEST_S3 names) the pipeline filled, with the
writer key and a distinct reader key both set.

- the dashboard's SQL page (`streamlit.testing.v1.AppTest`), one browser session throughout;
- `bucketpipe sql` in a real subprocess, every statement on stdin in one session.

Every output (results, errors, warnings, logs) is searched for either secret, either key id and
the lake's location; a crash of the engine, a traceback or an error of more than one line
fails the test. Refused attacks must be refused; on the page every query answers within the
time bound and the worker's resident memory stays within `BUCKETPIPE_DUCKDB_MEMORY_LIMIT` +
512 MiB (the command runs the same session code).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bucketpipe.app import state
from bucketpipe.serve.sandbox.limits import RSS_HEADROOM, parse_bytes
from bucketpipe.serve.sandbox.text import split_statements
from tests.reliability.crash_runner import Step
from tests.reliability.harness import (
    Figures,
    Lake,
    lake_env,
    local_lake,
    next_friday_close,
    run_child,
)
from tests.support.s3_servers import S3Server, client_from_settings
from tests.support.sandbox_lake import fill, lake_keys, s3_sandbox_values
from tests.support.sql_corpus import ATTACKS, LEGIT, Attack

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "bucketpipe" / "app" / "main.py"
TIMEOUT_S = 3.0
MAX_ROWS = 200
MEMORY = "1GB"
# The product's goal is the timeout + 5 s (judged by the sandbox benchmark); a loaded CI machine
# adds process start-up and scheduling, so the test proves the bound with more room.
WALL_BOUND_S = TIMEOUT_S + 10
RSS_BOUND = parse_bytes(MEMORY) + RSS_HEADROOM
OTHER_BUCKET = "hostile-sql-other"
CRASH_WORDS = ("stopped while running", "internal error", "Traceback", "could not be shown")


def build(lake: Lake) -> dict[str, str]:
    """Fill the lake with the pipeline; plant files the sandbox must not reach."""
    friday = next_friday_close(datetime.now(UTC)).isoformat()
    for step in (Step("ingest", "i1", friday), Step("clean", "c1", friday)):
        child = run_child(lake, step)
        assert child.exitcode == 0, child.describe()
    store = lake.store
    quotes = next(i.key for i in store.list_objects("clean/quotes/"))
    store.put("clean/quotes/dt=2026-01-01/orphan.parquet", store.get(quotes))
    client = client_from_settings(lake.values)
    if OTHER_BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=OTHER_BUCKET)
    client.put_object(Bucket=OTHER_BUCKET, Key="x.parquet", Body=store.get(quotes))
    return {
        "orphan": store.duckdb_path("clean/quotes/dt=2026-01-01/orphan.parquet"),
        "raw": store.duckdb_path(next(i.key for i in store.list_objects("raw/"))),
        "manifest": store.duckdb_path("_runs/clean/c1.json"),
        "other": f"s3://{OTHER_BUCKET}/x.parquet",
        "lake": store.url,
    }


@pytest.fixture(scope="module")
def hostile_lake(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Lake, dict[str, str]]:
    values: dict[str, Any] = {
        **s3_sandbox_values(s3_server, "hostile"),
        "sql_max_rows": MAX_ROWS,
        "sql_timeout_seconds": TIMEOUT_S,
        "duckdb_memory_limit": MEMORY,
        "sql_workers": 2,
    }
    lake = local_lake(tmp_path_factory.mktemp("hostile-sql"), **values)
    return lake, build(lake)


def forbidden(lake: Lake, paths: dict[str, str]) -> list[str]:
    """What no output may show: both secrets, both key ids, where the lake is."""
    keys = lake_keys(lake.settings)
    assert len(keys) == 2  # the writer's and the reader's
    bucket_and_prefix = paths["lake"].removeprefix("s3://")
    return [
        *(k.secret_key for k in keys),
        *(k.access_key for k in keys),
        paths["lake"],
        bucket_and_prefix,
    ]


def leaks(text: str, needles: list[str]) -> list[str]:
    return [needle[:12] for needle in needles if needle in text]


# --- the dashboard's SQL page ------------------------------------------------------------
def shown(app: AppTest) -> tuple[list[str], list[str]]:
    """(error messages, every text the page's main area shows). The sidebar names the lake's
    location on purpose, for operators; what a query returns must not."""
    page = app.main
    errors = [str(e.value) for e in page.error]
    texts = errors + [str(e.value) for e in app.exception]
    texts += [str(e.value) for e in (*page.warning, *page.caption, *page.markdown)]
    texts += [d.value.to_csv() for d in page.dataframe]
    return errors, texts


@pytest.fixture
def sql_page(
    hostile_lake: tuple[Lake, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppTest]:
    lake, _ = hostile_lake
    for name, value in {**lake_env(lake), "BUCKETPIPE_LOG_LEVEL": "DEBUG"}.items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.switch_page("views/sql.py").run()
    assert not app.exception, [e.value for e in app.exception]
    yield app
    st.cache_data.clear()
    st.cache_resource.clear()  # closes the lake session and its SQL workers


def submit(app: AppTest, sql: str) -> float:
    app.text_area(key="sql_text").input(sql)
    next(b for b in app.button if b.label == "Run").click()
    started = time.monotonic()
    app.run()
    return time.monotonic() - started


def check_page_answer(app: AppTest, attack: Attack, sql: str, needles: list[str]) -> str:
    errors, texts = shown(app)
    everything = "\n".join(texts)
    assert not leaks(everything, needles), (attack.sql[:80], leaks(everything, needles))
    assert not app.exception, (attack.sql[:80], [e.value for e in app.exception])
    assert len(errors) <= 1 and all("\n" not in e for e in errors), errors
    assert not any(word in everything for word in CRASH_WORDS), (attack.sql[:80], errors)
    if attack.expect == "refused":
        assert errors, f"ran: {sql[:100]}"
    return "error" if errors else "ran"


@pytest.mark.timeout(1800)
def test_the_corpus_through_the_sql_page(
    hostile_lake: tuple[Lake, dict[str, str]],
    sql_page: AppTest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lake, paths = hostile_lake
    needles = forbidden(lake, paths)
    figures = Figures("hostile SQL, the dashboard's SQL page (AppTest), S3 lake")
    caplog.set_level(logging.DEBUG, logger="bucketpipe.serve.sandbox.session")
    longest = 0.0
    for attack in ATTACKS:
        sql = fill(attack.sql, paths)
        wall = submit(sql_page, sql)
        assert wall <= WALL_BOUND_S, (attack.sql[:80], wall)
        longest = max(longest, wall)
        figures.add(f"{check_page_answer(sql_page, attack, sql, needles)}_{attack.expect}")
    # The attacks used workers up; a query that finds none free is told to try again, so the
    # ordinary queries start on a full pool (the page's lake session is a cached resource).
    state.lake().sandbox().wait_ready(every=True)
    for sql in LEGIT:
        submit(sql_page, sql)
        errors, _ = shown(sql_page)
        assert not errors, (sql[:80], errors)
        figures.add("legit_ok")
    peaks = [r.__dict__.get("peak_rss", 0) for r in caplog.records if r.msg == "user query"]
    outcomes = Counter(r.__dict__.get("outcome") for r in caplog.records if r.msg == "user query")
    assert "crash" not in outcomes, outcomes
    assert peaks and max(peaks) <= RSS_BOUND, max(peaks)
    figures.values["peak_rss_mib"] = max(peaks) >> 20
    figures.values["longest_s"] = round(longest, 1)
    figures.values.update({f"outcome_{k}": v for k, v in sorted(outcomes.items())})
    figures.report()


# --- `bucketpipe sql` in its own process -------------------------------------------------
def run_cli(lake: Lake, script: str, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        **lake_env(lake),
        "BUCKETPIPE_LOG_FORMAT": "json",
        "BUCKETPIPE_LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "bucketpipe"]
    return subprocess.run(
        [*command, "sql", "--format", "json"],
        input=script.encode(),
        env=env,
        capture_output=True,
        timeout=1500,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


def records(stderr: str) -> list[dict[str, Any]]:
    out = []
    for line in stderr.splitlines():
        assert line.startswith("{"), f"not a log line: {line[:200]}"
        out.append(json.loads(line))
    return out


@pytest.mark.timeout(1800)
def test_the_corpus_through_the_sql_command(
    hostile_lake: tuple[Lake, dict[str, str]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    lake, paths = hostile_lake
    needles = forbidden(lake, paths)
    figures = Figures("hostile SQL, `bucketpipe sql` (one session on stdin), S3 lake")
    # The attacks that run into a bound wait out the time limit each (about 1.5 minutes in
    # all): quick mode leaves them to the page test above, which runs every attack through the
    # same session code and proves the bounds; long mode sends them here too.
    corpus = [a for a in ATTACKS if request.config.getoption("--long") or a.expect != "bounded"]
    # Run alone below: a NUL stops the whole script, and DuckDB's tokenizer ends early at a
    # `U&"..."` escape (what follows it in a script is read as one statement, and refused).
    alone = [a for a in corpus if "\x00" in a.sql or 'U&"' in a.sql]
    attacks = [a for a in corpus if a not in alone]
    statements = [fill(a.sql, paths) for a in attacks]
    script = ";\n".join(statements) + ";\nSELECT count(*) AS canary FROM quotes;\n"
    pieces = split_statements(script)
    done = run_cli(lake, script, tmp_path)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert not leaks(out + err, needles), leaks(out + err, needles)
    assert "Traceback" not in err and not any(w in out + err for w in CRASH_WORDS[:2])
    logs = records(err)
    errors = {int(r["message"].split(":")[0].split()[1]): r for r in logs if r["level"] == "error"}
    results = [json.loads(line) for line in out.splitlines()]
    assert len(errors) + len(results) == len(pieces), (len(errors), len(results), len(pieces))
    assert done.returncode == 1
    # The last statement sees the engine as it was before the first.
    assert len(pieces) not in errors, errors[len(pieces)]["message"]
    assert results[-1][0]["canary"] > 0, results[-1]
    for attack, sql in zip(attacks, statements, strict=True):
        # (A trailing line comment swallows the `;` that follows: then it is part of the next.)
        if attack.expect == "refused" and sql.strip() in pieces:
            assert pieces.index(sql.strip()) + 1 in errors, f"ran: {sql[:100]}"
    figures.add("statements", len(pieces))
    figures.add("refused_or_failed", len(errors))
    figures.add("ran", len(results))

    for attack in alone:
        done = run_cli(lake, attack.sql, tmp_path)
        assert done.returncode == 1 and not done.stdout, done.stdout
        text = done.stderr.decode()
        assert not leaks(text, needles) and "Traceback" not in text
        assert [r["level"] for r in records(text)].count("error") == 1

    legit = run_cli(lake, ";\n".join(LEGIT) + ";", tmp_path)
    assert legit.returncode == 0, legit.stderr.decode()[-3000:]
    assert len(legit.stdout.decode().splitlines()) == len(LEGIT)
    figures.add("legit_ok", len(LEGIT))
    figures.report()
