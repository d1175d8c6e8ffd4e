"""Who may see the dashboard: an auth proxy's header, an OIDC login (Streamlit's `st.login`) or a
shared password; with none of them, only a loopback address or an explicitly public dashboard."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Mapping

import streamlit as st

from bucketpipe.app import ui
from bucketpipe.config import exposure
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


def proxy_user(headers: Mapping[str, str], header: str) -> str | None:
    """Who the auth proxy says made this session's request (its HEADER), or None."""
    value = (headers.get(header) or "").strip()
    return value[:200] or None


def password_ok(entered: str, expected: str) -> bool:
    """Constant-time comparison of the entered and the configured password."""
    return hmac.compare_digest(entered.encode(), expected.encode())


def require(settings: Settings) -> None:
    """Stop the script unless the visitor is allowed in.

    First the fail-closed rule (bucketpipe.config.exposure), for a dashboard started with
    `streamlit run` rather than `bucketpipe dashboard`; then, when
    `BUCKETPIPE_DASHBOARD_AUTH_HEADER` is set, the auth proxy's header on this session's request;
    then OIDC when `.streamlit/secrets.toml` (or `STREAMLIT_SECRETS_FILES`) has an `[auth]`
    section, else the shared password when `BUCKETPIPE_DASHBOARD_PASSWORD` is set.
    """
    oidc = oidc_configured()
    # Unset means every interface; AppTest leaves it unset and serves nobody, so only an
    # address set to something else than loopback is refused here (the CLI refuses both).
    address = st.get_option("server.address")
    problem = exposure.refusal(settings, address, oidc=oidc) if address else None
    if problem is not None:
        log.error(problem)
        st.error(f"The dashboard cannot start: {problem}", icon=":material/lock:")
        st.stop()
    if settings.dashboard_auth_header is not None:
        _proxy(settings.dashboard_auth_header)
    if oidc:
        _oidc()
    elif settings.dashboard_password is not None:
        _password(settings.dashboard_password.get_secret_value())


def _proxy(header: str) -> None:
    user = proxy_user(st.context.headers, header)
    if user is None:
        log.warning("a session without the auth proxy's header was refused")
        st.title("Bucketpipe")
        st.error(
            "Sign in through your organisation's login page to see the dashboard: this request "
            "did not come through it.",
            icon=":material/lock:",
        )
        st.stop()
    with st.sidebar:
        st.text(f"Signed in as {user}")


def _oidc() -> None:
    if not st.user.get("is_logged_in", False):
        st.title("Bucketpipe")
        st.write("Sign in to see the dashboard.")
        st.button("Sign in", icon=":material/login:", on_click=st.login, type="primary")
        st.stop()
    with st.sidebar:
        name = st.user.get("name") or st.user.get("email") or "signed in"
        st.caption(f"Signed in as {ui.text(name)}")
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
