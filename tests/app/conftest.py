"""Fixtures of the dashboard tests: a lake filled by the demo pipeline, and the app under test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from bucketpipe.config.settings import all_env_names
from bucketpipe.jobs import cli

APP = Path(__file__).resolve().parents[2] / "bucketpipe" / "app" / "main.py"
DEMO_DAYS = 90


@dataclass(frozen=True)
class DemoLake:
    """A lake the demo pipeline filled, and the environment that points at it."""

    root: Path
    env: dict[str, str]


def lake_env(root: Path, **extra: str) -> dict[str, str]:
    return {
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_TEMP_DIR": str(root / "tmp"),
        "BUCKETPIPE_LOG_FORMAT": "json",
        "BUCKETPIPE_LOG_LEVEL": "WARNING",
        **extra,
    }


def finnhub_env(url: str, key: str) -> dict[str, str]:
    """The settings that point `ingest finnhub` at a fake API on `url`, without its waits."""
    return {
        "FINNHUB_API_KEY": key,
        "BUCKETPIPE_FINNHUB_URL": url,
        "BUCKETPIPE_FINNHUB_CALLS_PER_MINUTE": "60000",
        "BUCKETPIPE_FINNHUB_CALLS_PER_SECOND": "200",
        "BUCKETPIPE_FINNHUB_BACKOFF_SECONDS": "0.01",
    }


def run_pipeline(env: dict[str, str], *commands: list[str]) -> None:
    """Run `bucketpipe` subcommands with exactly `env` (nothing else from the shell)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [*all_env_names(), *(n for n in os.environ if n.startswith("BUCKETPIPE_"))]:
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        for argv in commands:
            assert cli.main(argv) == 0, f"bucketpipe {' '.join(argv)} failed"


def weather_csv(path: Path, rows: int = 240) -> Path:
    """A generic dataset as users drop it in a bucket: `;`-separated, headers to normalise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cities = ("Helsinki", "Oulu", "Turku")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    lines = ["City;Measured At;Temperature C;Humidity %"]
    for i in range(rows):
        when = (start + timedelta(hours=6 * i)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{cities[i % 3]};{when};{(i % 17) - 5 + i / 100:.1f};{50 + (i * 7) % 45}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """The demo market plus a generic CSV dataset, ingested and cleaned once per session."""
    root = tmp_path_factory.mktemp("demo-lake")
    weather_csv(root / "source" / "weather" / "readings.csv")
    env = lake_env(
        root, BUCKETPIPE_DEMO_DAYS=str(DEMO_DAYS), BUCKETPIPE_SOURCE=str(root / "source")
    )
    run_pipeline(env, ["ingest", "demo"], ["ingest", "bucket"], ["clean"])
    return DemoLake(root, env)


@pytest.fixture
def empty_lake(tmp_path: Path) -> DemoLake:
    return DemoLake(tmp_path, lake_env(tmp_path))


AppFactory = Callable[..., AppTest]


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    """An AppTest of the dashboard against a lake; Streamlit's caches start empty."""

    def build(
        lake: DemoLake, page: str | None = None, secrets: dict[str, Any] | None = None, **env: str
    ) -> AppTest:
        for name, value in {**lake.env, **env}.items():
            monkeypatch.setenv(name, value)
        app = AppTest.from_file(str(APP), default_timeout=120)
        for name, value in (secrets or {}).items():
            app.secrets[name] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        if page is not None:
            app.switch_page(f"views/{page}.py").run()
        return app

    st.cache_data.clear()
    st.cache_resource.clear()
    yield build
    st.cache_data.clear()
    st.cache_resource.clear()


def no_errors(app: AppTest) -> None:
    """No exception element and no error alert on the page."""
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]


def metric(app: AppTest, label: str) -> str:
    found = [m.value for m in app.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in app.metric]}"
    return str(found[0])


def shown(text: str) -> str:
    """Markdown with its backslash escapes read (`ingest\\-demo` -> `ingest-demo`): the page's
    own markup stays, a value from the data reads as it is written (`ui.text`)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def markdown(app: AppTest) -> str:
    return shown("\n".join(str(m.value) for m in app.markdown))


def sidebar_markdown(app: AppTest) -> str:
    return shown("\n".join(str(m.value) for m in app.sidebar.markdown))
