"""Who may see the dashboard: an OIDC login (Streamlit's `st.login`) or a shared password."""

from __future__ import annotations

import hmac
import logging
import threading
import time

import streamlit as st

from bucketpipe.config.settings import Settings

log = logging.getLogger("app.access")

# Failed attempts are serialized and slowed process-wide, so guessing is slow for everyone.
_failures = threading.Lock()
FAILURE_DELAY_S = 1.0


def oidc_configured() -> bool:
    """True when Streamlit's secrets configure an identity provider."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # unreadable secrets: not configured, and say so in the log
        log.warning("could not read .streamlit/secrets.toml; OIDC login is off")
        return False


def password_ok(entered: str, expected: str) -> bool:
    """Constant-time comparison of the entered and the configured password."""
    return hmac.compare_digest(entered.encode(), expected.encode())


def require(settings: Settings) -> None:
    """Stop the script unless the visitor is allowed in.

    OIDC when `.streamlit/secrets.toml` (or `STREAMLIT_SECRETS_FILES`) has an `[auth]`
    section; else the shared password when `BUCKETPIPE_DASHBOARD_PASSWORD` is set; else the
    dashboard is open (keep it private at the network level then: see docs/dashboard.md).
    """
    if oidc_configured():
        _oidc()
    elif settings.dashboard_password is not None:
        _password(settings.dashboard_password.get_secret_value())


def _oidc() -> None:
    if not st.user.get("is_logged_in", False):
        st.title("Bucketpipe")
        st.write("Sign in to see the dashboard.")
        st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")
        st.stop()
    with st.sidebar:
        name = st.user.get("name") or st.user.get("email") or "signed in"
        st.caption(f"Signed in as {name}")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)


def _password(expected: str) -> None:
    if st.session_state.get("access_granted"):
        return
    st.title("Bucketpipe")
    with st.form("access"):
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Open the dashboard", type="primary")
    if submitted:
        if password_ok(entered, expected):
            st.session_state["access_granted"] = True
            st.rerun()
        with _failures:
            time.sleep(FAILURE_DELAY_S)
        log.warning("wrong dashboard password")
        st.error("Wrong password.")
    st.stop()
