"""The dashboard fails closed: `bucketpipe dashboard` on an address others can reach refuses to
start (exit 2, one line, no traceback) unless authentication is configured or the operator says
it is public; with an auth proxy's header configured, every session must carry it (checked in a
real browser against a real server)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from bucketpipe.config import exposure
from bucketpipe.config.settings import Settings
from tests.app.test_browser import CHROMIUM_ARGS, Dashboard, chromium
from tests.support.auth_proxy import HeaderProxy

APP = Path(__file__).resolve().parents[2] / "app" / "main.py"
PROXY_HEADER = "X-Forwarded-Email"


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`bucketpipe ARGS` in a clean environment (no BUCKETPIPE_*, AWS_* or REDIS_* of ours)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BUCKETPIPE_", "AWS_", "REDIS_", "STREAMLIT_"))
    }
    cli = Path(sys.executable).with_name("bucketpipe")
    return subprocess.run(
        [str(cli), *args],
        cwd=cwd,
        env={**clean, "HOME": str(cwd), "BUCKETPIPE_LAKE": str(cwd / "lake"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.1.2.3", "dashboard.example.org"])
@pytest.mark.parametrize("password", [None, "", "   "])
def test_the_cli_refuses_an_open_dashboard(
    tmp_path: Path, address: str, password: str | None
) -> None:
    """For real: exit 2, one line naming what to set, no traceback, nothing listening."""
    env = {} if password is None else {"BUCKETPIPE_DASHBOARD_PASSWORD": password}
    result = run_cli("dashboard", "--address", address, "--port", "8599", cwd=tmp_path, **env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for setting in (
        "BUCKETPIPE_DASHBOARD_PASSWORD",
        "BUCKETPIPE_DASHBOARD_AUTH_HEADER",
        "BUCKETPIPE_DASHBOARD_PUBLIC=true",
    ):
        assert setting in lines[0]
    assert "Local URL" not in result.stdout  # streamlit never started


@pytest.mark.parametrize(
    ("address", "values", "oidc", "refused"),
    [
        ("127.0.0.1", {}, False, False),
        ("127.0.0.53", {}, False, False),
        ("::1", {}, False, False),
        ("localhost", {}, False, False),
        (None, {}, False, True),  # Streamlit's default: every interface
        ("0.0.0.0", {}, False, True),
        ("0.0.0.0", {"dashboard_password": ""}, False, True),  # empty is unset
        ("0.0.0.0", {"dashboard_password": "s3cret"}, False, False),
        ("0.0.0.0", {"dashboard_auth_header": PROXY_HEADER}, False, False),
        ("0.0.0.0", {}, True, False),
        ("0.0.0.0", {"dashboard_public": "true"}, False, False),
        ("0.0.0.0", {"dashboard_public": "false"}, False, True),
        ("my-host", {}, False, True),
    ],
)
def test_the_rule(address: str | None, values: dict[str, str], oidc: bool, refused: bool) -> None:
    settings = Settings(**values)  # type: ignore[arg-type]
    assert (exposure.refusal(settings, address, oidc=oidc) is not None) is refused


@pytest.mark.parametrize("header", ["X Forwarded", "X-User:", "é"])
def test_a_header_setting_must_be_a_header_name(header: str) -> None:
    with pytest.raises(ValidationError, match="not an HTTP header name"):
        Settings(dashboard_auth_header=header)


def test_streamlits_own_sign_in_counts_as_authentication(tmp_path: Path) -> None:
    """An [auth] section in ./.streamlit/secrets.toml is found as `streamlit run` would."""
    probe = [
        sys.executable,
        "-c",
        "from bucketpipe.jobs.dashboard import oidc_configured as o; print(o())",
    ]
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root, "HOME": str(tmp_path)}
    env.pop("STREAMLIT_SECRETS_FILES", None)

    def found() -> str:
        result = subprocess.run(
            probe, cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout.strip()

    assert found() == "False"
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[auth]\nredirect_uri = "https://x.example.org/oauth2callback"\ncookie_secret = "c"\n'
    )
    assert found() == "True"


def test_a_session_without_the_proxys_header_sees_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """AppTest sends no request headers: with the header required, the page stops at once."""
    monkeypatch.setenv("BUCKETPIPE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("BUCKETPIPE_DASHBOARD_AUTH_HEADER", PROXY_HEADER)
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception
    assert any("Sign in through" in e.value for e in app.error)
    assert not app.get("navigation") and not app.dataframe


# --- a real server and a real browser ------------------------------------------------------
@pytest.fixture(scope="module")
def proxied_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    root = tmp_path_factory.mktemp("proxied")
    env = {
        "BUCKETPIPE_LAKE": str(root / "lake"),
        "BUCKETPIPE_DASHBOARD_AUTH_HEADER": PROXY_HEADER,
        "HOME": str(root),
    }
    server = Dashboard(env, root / "streamlit.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def auth_proxy(proxied_dashboard: Dashboard) -> Iterator[HeaderProxy]:
    proxy = HeaderProxy(proxied_dashboard.port, PROXY_HEADER, "ada@example.org")
    yield proxy
    proxy.stop()


@pytest.mark.browser
@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "through the proxy"])
def test_the_proxys_header_is_required_on_every_session(
    browser: Any, proxied_dashboard: Dashboard, auth_proxy: HeaderProxy, through_proxy: bool
) -> None:
    """Through the auth proxy (which adds the header to every request, the WebSocket's
    included) the dashboard shows the user; straight to the dashboard, a stranger sees a
    sign-in message and nothing of the lake."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(auth_proxy.url if through_proxy else proxied_dashboard.url)
        if through_proxy:
            page.get_by_text("Signed in as ada@example.org").wait_for(timeout=60_000)
            assert "Sign in through" not in page.inner_text("body")
        else:
            page.get_by_text("Sign in through").wait_for(timeout=60_000)
            assert "Market overview" not in page.inner_text("body")
    finally:
        context.close()
