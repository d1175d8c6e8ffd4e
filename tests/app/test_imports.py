"""Loading the dashboard loads no module of the write side: every page rendered in a fresh
process, then `sys.modules` inspected (the import contracts in pyproject.toml say the same
statically)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.app.conftest import APP, lake_env

PAGES = ["overview", "stock", "news", "explore", "quality", "sql", "pipeline"]
WRITE_SIDE = (
    "bucketpipe.ingest",
    "bucketpipe.clean",
    "bucketpipe.maintain",
    "bucketpipe.wiring",
    "bucketpipe.jobs",
    "bucketpipe.quality.scoring",
    "bucketpipe.quality.profiling",
    "bucketpipe.quality.recommendations",
)
RENDER_EVERY_PAGE = """
import sys
from streamlit.testing.v1 import AppTest

app = AppTest.from_file(sys.argv[1], default_timeout=120).run()
for page in sys.argv[2:]:
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
print("\\n".join(sorted(name for name in sys.modules if name.startswith("bucketpipe"))))
"""


def loaded_by_the_dashboard(tmp_path: Path) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", RENDER_EVERY_PAGE, str(APP), *PAGES],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **lake_env(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.split()


def test_the_dashboard_loads_nothing_of_the_write_side(tmp_path: Path) -> None:
    loaded = loaded_by_the_dashboard(tmp_path)
    assert "bucketpipe.serve.queries.market" in loaded  # the pages did run
    assert "bucketpipe.app.state" in loaded
    assert [name for name in loaded if name.startswith(WRITE_SIDE)] == []
