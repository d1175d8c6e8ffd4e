"""Access control: the shared password and the OIDC sign-in screen."""

from __future__ import annotations

import pytest

from bucketpipe.app.access import password_ok
from tests.app.conftest import AppFactory, DemoLake, metric, no_errors

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


def test_password_guards_every_page(make_app: AppFactory, demo_lake: DemoLake) -> None:
    app = make_app(demo_lake, BUCKETPIPE_DASHBOARD_PASSWORD=PASSWORD)
    assert [t.value for t in app.title] == ["Bucketpipe"]
    assert not app.metric and not app.dataframe
    app.text_input[0].input("wrong")
    app.button[0].click().run()
    assert [e.value for e in app.error] == ["Wrong password."]
    assert not app.metric
    app.text_input[0].input(PASSWORD)
    app.button[0].click().run()
    no_errors(app)
    assert metric(app, "Active stocks") == "7"
    app.switch_page("views/sql.py").run()  # the session stays signed in
    assert app.title[0].value == "SQL"


def test_oidc_shows_a_sign_in_screen(make_app: AppFactory, demo_lake: DemoLake) -> None:
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-cookie-secret",
        "client_id": "bucketpipe",
        "client_secret": "not-used-in-this-test",
        "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
    }
    app = make_app(demo_lake, secrets={"auth": auth})
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.metric and not app.dataframe


def test_password_comparison() -> None:
    assert password_ok(PASSWORD, PASSWORD)
    assert not password_ok("", PASSWORD)
    assert not password_ok(PASSWORD + " ", PASSWORD)
