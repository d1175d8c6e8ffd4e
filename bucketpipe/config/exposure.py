"""Whether the dashboard may serve an address with the authentication configured: it fails closed.

On a loopback address only the machine itself can connect, so the dashboard may run open there.
On any other address (including Streamlit's default of every interface) it needs one of: the
shared password, a trusted auth proxy's header, or Streamlit's own sign-in (OIDC) - unless the
operator states with BUCKETPIPE_DASHBOARD_PUBLIC=true that it is meant to be open. The command
line (`bucketpipe dashboard`) and the app itself both apply this rule.
"""

from __future__ import annotations

import ipaddress

from bucketpipe.config.settings import Settings


def is_loopback(address: str | None) -> bool:
    """Whether ADDRESS accepts connections from this machine only. None (Streamlit's default:
    every interface) and host names (they may resolve to any interface) do not."""
    if address is None:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def authentication(settings: Settings, *, oidc: bool) -> list[str]:
    """The ways in that are configured, by the setting that configures them."""
    ways = []
    if settings.dashboard_password is not None:
        ways.append("BUCKETPIPE_DASHBOARD_PASSWORD")
    if settings.dashboard_auth_header is not None:
        ways.append("BUCKETPIPE_DASHBOARD_AUTH_HEADER")
    if oidc:
        ways.append("Streamlit's [auth] sign-in")
    return ways


def refusal(settings: Settings, address: str | None, *, oidc: bool) -> str | None:
    """Why the dashboard must not serve ADDRESS with these settings (one line), or None."""
    if is_loopback(address) or settings.dashboard_public:
        return None
    if authentication(settings, oidc=oidc):
        return None
    where = address if address is not None else "every interface"
    return (
        f"the dashboard refuses to listen on {where} without authentication: set "
        "BUCKETPIPE_DASHBOARD_PASSWORD, BUCKETPIPE_DASHBOARD_AUTH_HEADER or Streamlit's [auth] "
        "sign-in (or BUCKETPIPE_DASHBOARD_PUBLIC=true to serve it open on purpose)"
    )
