"""`python -m bucketpipe.app.launch run <script> ...`: Streamlit's command line, with the
dashboard's modules imported while its server starts.

A new dashboard process imports pandas, Arrow, DuckDB, Plotly, Altair and the pages' own
modules on its first visitor's first page: about 1 s of that page on two CPUs, paid again by
the first visitor of every replica after each start. Here a thread imports them beside the
server's start-up instead. The third-party modules come first; the dashboard's own wait for
Streamlit's runtime to exist, so their caches bind to it as they do when a page imports them.
An import that fails is left to the page that needs it, which reports it as it always has.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

from streamlit import runtime
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
RUNTIME_WAIT_S = 30.0


def warm(wait_s: float = RUNTIME_WAIT_S) -> list[str]:
    """Import the libraries, then (once the runtime exists) the dashboard's modules; the
    names imported."""
    done = [name for name in LIBRARIES if _imported(name)]
    deadline = time.monotonic() + wait_s
    while not runtime.exists():
        if time.monotonic() > deadline:
            return done
        time.sleep(0.05)
    return done + [name for name in OWN if _imported(name)]


def _imported(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception as exc:  # the page importing it reports the failure
        log.debug("not imported ahead", extra={"module": name, "error": str(exc)[:200]})
        return False
    return True


def main() -> None:
    threading.Thread(target=warm, name="bucketpipe-warm-imports", daemon=True).start()
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
