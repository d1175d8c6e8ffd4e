"""The dashboard's launcher: Streamlit's command line, with the pages' modules imported ahead."""

from __future__ import annotations

import json
import subprocess
import sys

from bucketpipe.app import launch
from bucketpipe.jobs.dashboard import command


def test_the_dashboard_command_runs_streamlit_through_the_launcher() -> None:
    argv = command(8501, "127.0.0.1")
    assert argv[1:5] == ["-m", "bucketpipe.app.launch", "run", argv[4]]
    assert argv[4].endswith("app/main.py")


def test_without_a_runtime_only_the_libraries_are_imported_ahead() -> None:
    """The dashboard's own modules wait for Streamlit's runtime (their caches bind to it); with
    none, `warm` gives up after its wait and has imported the libraries alone."""
    script = (
        "import json, sys\n"
        "from bucketpipe.app import launch\n"
        "done = launch.warm(wait_s=0.0)\n"
        "print(json.dumps([done, 'bucketpipe.app.state' in sys.modules, "
        "'plotly.graph_objects' in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    done, own, plotly = json.loads(out.stdout.strip().splitlines()[-1])
    assert done == list(launch.LIBRARIES)
    assert not own and plotly
