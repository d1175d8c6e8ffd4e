"""`python -m bucketpipe.app.launch run <script> ...`: Streamlit's command line, with the
dashboard's modules imported while its server starts.

A new dashboard process imports pandas, Arrow, DuckDB, Plotly, Altair and the pages' own
modules on its first visitor's first page: about 1 s of that page on two CPUs, paid again by
the first visitor of every replica after each start. Here a thread imports them beside the
server's start-up instead. The third-party modules come first; the dashboard's own wait for
Streamlit's runtime to exist, so their caches bind to it as they do when a page imports them.
An import that fails is left to the page that needs it, which reports it as it always has.

Until those imports are done, Streamlit's health check (`/_stcore/health`, the Deployment's
startup and readiness probe) answers 503 "warming up": a new replica gets its first visitor
once it can serve the page at full speed, not while a second of imports holds the CPUs.

Every HTTP answer carries a Content-Security-Policy that lets the page load images and media
only from the dashboard itself (and `data:`/`blob:`, which the charts draw with): the text on
the page comes from strangers (an API's headlines, files in a source bucket), and should one
of them ever reach Markdown unescaped, an image in it still cannot make each viewer's browser
call an address of the writer's choosing.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Any

from streamlit import runtime
from streamlit.runtime.runtime import Runtime
from streamlit.web import cli

log = logging.getLogger(__name__)

LIBRARIES = ("pandas", "pyarrow", "duckdb", "plotly.graph_objects", "altair")
OWN = (
    "bucketpipe.app.access",
    "bucketpipe.app.layout",
    "bucketpipe.app.sidebar",
    "bucketpipe.app.state",
    "bucketpipe.app.ui",
    "bucketpipe.app.charts",
    "bucketpipe.app.plots",
    "bucketpipe.app.cards",
    "bucketpipe.app.columns",
    "bucketpipe.app.empty",
)
# Images and media from the dashboard alone (a stranger's Markdown that escaping missed loads
# nothing), no plugins, and no frame of another site's page around the dashboard (clickjacking).
CONTENT_POLICY = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'self'"
)
RUNTIME_WAIT_S = 30.0
WARMING = "warming up"
WARMED = threading.Event()  # set once `warm` is done (or gave up waiting for the runtime)


def warm(wait_s: float = RUNTIME_WAIT_S) -> list[str]:
    """Import the libraries, then (once the runtime exists) the dashboard's modules; the
    names imported."""
    try:
        done = [name for name in LIBRARIES if _imported(name)]
        deadline = time.monotonic() + wait_s
        while not runtime.exists():
            if time.monotonic() > deadline:
                return done
            time.sleep(0.05)
        return done + [name for name in OWN if _imported(name)]
    finally:
        WARMED.set()


def gate_health() -> bool:
    """Make Streamlit's health check answer 503 (`WARMING`) until `WARMED` is set, as long as
    it would answer 200; False if this Streamlit's runtime no longer has the check's hook."""
    hook = getattr(Runtime, "is_ready_for_browser_connection", None)
    if not isinstance(hook, property) or hook.fget is None:
        log.warning("the health check is not held back while imports run: no hook")
        return False
    ready = hook.fget

    async def warmed(self: Runtime) -> tuple[bool, str]:
        ok, message = await ready(self)
        if ok and not WARMED.is_set():
            return False, WARMING
        return ok, message

    Runtime.is_ready_for_browser_connection = property(warmed)  # type: ignore[assignment,method-assign]
    return True


class ContentPolicy:
    """ASGI middleware: the `CONTENT_POLICY` header on every HTTP answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_policy(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"content-security-policy", POLICY)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_policy)


POLICY = CONTENT_POLICY.encode()


def add_content_policy() -> bool:
    """Put `ContentPolicy` last in Streamlit's middleware; False (and a warning) if this
    Streamlit no longer builds its middleware where it is added."""
    try:
        from starlette.middleware import Middleware
        from streamlit.web.server.starlette import starlette_app
    except ImportError:
        build = None
    else:
        build = getattr(starlette_app, "create_streamlit_middleware", None)
    if build is None:
        log.warning("no Content-Security-Policy header: Streamlit's middleware hook is gone")
        return False

    def with_policy() -> list[Any]:
        return [*build(), Middleware(ContentPolicy)]

    starlette_app.create_streamlit_middleware = with_policy
    return True


def _imported(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception as exc:  # the page importing it reports the failure
        log.debug("not imported ahead", extra={"module": name, "error": str(exc)[:200]})
        return False
    return True


def main() -> None:
    gate_health()
    add_content_policy()
    threading.Thread(target=warm, name="bucketpipe-warm-imports", daemon=True).start()
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
