"""Every page, on the demo lake and on an empty one: no errors, and the lake is never written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import AppFactory, DemoLake, no_errors

pytestmark = pytest.mark.integration

PAGES = ["overview", "stock", "news", "explore", "quality", "sql", "pipeline"]
TITLES = {
    "overview": "Market overview",
    "stock": "Stock",
    "news": "News & calendars",
    "explore": "Explore",
    "quality": "Quality",
    "sql": "SQL",
    "pipeline": "Pipeline",
}


def listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_every_page_renders_and_never_writes_to_the_lake(
    make_app: AppFactory, demo_lake: DemoLake
) -> None:
    lake = Path(demo_lake.env["BUCKETPIPE_LAKE"])
    before = listing(lake)
    app = make_app(demo_lake)
    for page in PAGES:
        app.switch_page(f"views/{page}.py").run()
        no_errors(app)
        assert app.title[0].value == TITLES[page]
    assert listing(lake) == before


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_an_empty_state(
    make_app: AppFactory, empty_lake: DemoLake, page: str
) -> None:
    app = make_app(empty_lake, page)
    no_errors(app)
    assert app.title[0].value == TITLES[page]
    hints = " ".join(str(i.value) for i in app.info) + " ".join(str(c.value) for c in app.caption)
    assert "bucketpipe" in hints or "committed" in hints
    # No widget is offered for columns of a dataset that does not exist.
    assert not [s for s in app.selectbox if s.key and s.key.startswith(("explore_", "pivot_"))]
