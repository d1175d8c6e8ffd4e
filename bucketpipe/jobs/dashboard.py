"""`bucketpipe dashboard`: start the Streamlit dashboard, never open to the network by mistake."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from bucketpipe.config import exposure
from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.jobs.argtypes import port

APP = Path(__file__).resolve().parent.parent / "app" / "main.py"


def register(sub: Any) -> None:
    parser = sub.add_parser("dashboard", help="start the Streamlit dashboard")
    parser.add_argument("--port", type=port, default=8501, help="port (default 8501)")
    parser.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; any other needs authentication, see "
        "docs/dashboard.md)",
    )
    # Streamlit replaces this process: each of its sessions makes its own scratch.
    parser.set_defaults(handler=handle, scratch=False)


def command(port: int, address: str) -> list[str]:
    """The `streamlit run` command line for the dashboard (through `app/launch.py`, which
    imports the pages' modules while the server starts)."""
    return [
        sys.executable,
        "-m",
        "bucketpipe.app.launch",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Served to the internet: no developer menu, no exception details in the page (the
        # pages show their own one-line messages; the logs keep the rest), no file watcher.
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "none",
        # No CSV download or copy of Streamlit's own on the grids: they write a stranger's
        # `=...` text as a spreadsheet formula. The pages' downloads make it inert.
        "--client.disableDataExport",
        "true",
        "--server.fileWatcherType",
        "none",
        # Streamlit runs a full garbage collection after every script run, live-refresh ticks
        # included: ~0.1 s holding the GIL each, which stalled every session once many were
        # open. Python's own generational collection still runs.
        "--runner.postScriptGC",
        "false",
    ]


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the dashboard on `port` answers its health check with 200, as the Deployment's
    probes ask it (it answers 503 until its pages' modules are imported: `app/launch.py`)."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:  # not listening yet, or 503 (HTTPError)
        return False


def oidc_configured() -> bool:
    """Whether Streamlit's secrets (./.streamlit/secrets.toml, ~/.streamlit/secrets.toml or
    STREAMLIT_SECRETS_FILES) configure its own sign-in: an `[auth]` section."""
    import streamlit as st

    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file signs nobody in
        return False


def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the dashboard needs the 'dashboard' extra: pip install 'bucketpipe[dashboard]'"
        ) from None
    # Fail closed, before anything listens: an address others can reach needs authentication.
    problem = exposure.refusal(settings, args.address, oidc=oidc_configured())
    if problem is not None:
        raise ConfigError(problem)
    argv = command(args.port, args.address)
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process; nothing after runs
    return 0  # pragma: no cover
