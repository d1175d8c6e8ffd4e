"""What the SQL sandbox's workers read from an S3 lake: nothing when they start, then only the
files of the datasets a statement names; a dataset whose files differ in schema still answers.

The requests are counted by the benchmark's counting proxy in front of a moto server of this
module's own (the proxy forwards plain HTTP only), so each one can be traced to its object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from moto.server import ThreadedMotoServer

from benchmarks.proxy import CountingProxy, Requests
from bucketpipe.config.settings import Settings
from bucketpipe.context import lake_store
from bucketpipe.lake.commits import commit
from bucketpipe.lake.layout import clean_key
from bucketpipe.lake.snapshots import FileEntry, Snapshot
from bucketpipe.lake.storage import ObjectStore
from bucketpipe.serve.queries.session import open_sandbox
from bucketpipe.serve.reader import LakeReader
from bucketpipe.serve.sandbox.session import SqlSession
from tests.conftest import free_port
from tests.support.s3_servers import MOTO_KEYS, S3Server, serving
from tests.support.sandbox_lake import s3_sandbox_values

pytestmark = pytest.mark.integration

QUOTES = (("symbol", "VARCHAR"), ("price", "DOUBLE"), ("ts", "TIMESTAMPTZ"))
# Datasets whose files differ: `grown` gained `note` (its first file lacks it: the view is
# lined up before the statement runs), `dropped` lost `note` (its first file has it: the
# statement meets the mismatch in the second file and runs once more).
MIXED = (("symbol", "VARCHAR"), ("price", "DOUBLE"), ("note", "VARCHAR"))
FILES = {
    "quotes": [
        (
            "2026-01-01",
            "SELECT 'AAPL' AS symbol, 1.5::DOUBLE AS price, TIMESTAMPTZ '2026-01-01' AS ts",
        ),
        (
            "2026-01-02",
            "SELECT 'MSFT' AS symbol, 2.5::DOUBLE AS price, TIMESTAMPTZ '2026-01-02' AS ts",
        ),
        (
            "2026-01-03",
            "SELECT 'AAPL' AS symbol, 3.5::DOUBLE AS price, TIMESTAMPTZ '2026-01-03' AS ts",
        ),
    ],
    "numbers": [("2026-01-01", "SELECT range AS n FROM range(1000)")],
    "grown": [
        ("2026-01-01", "SELECT 'AAPL' AS symbol, 1.0::DOUBLE AS price"),
        ("2026-01-02", "SELECT 'MSFT' AS symbol, 2.0::DOUBLE AS price, 'new' AS note"),
    ],
    "dropped": [
        ("2026-01-01", "SELECT 'MSFT' AS symbol, 2.0::DOUBLE AS price, 'old' AS note"),
        ("2026-01-02", "SELECT 'AAPL' AS symbol, 1.0::DOUBLE AS price"),
    ],
}
COLUMNS = {"quotes": QUOTES, "numbers": (("n", "BIGINT"),), "grown": MIXED, "dropped": MIXED}


@pytest.fixture(scope="module")
def proxy() -> Iterator[CountingProxy]:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        with CountingProxy(f"http://127.0.0.1:{port}") as counting:
            yield counting
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def lake(
    proxy: CountingProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, ObjectStore, dict[str, Snapshot]]]:
    server = S3Server(kind="moto", endpoint=proxy.url, **MOTO_KEYS)
    root = tmp_path_factory.mktemp("sandbox-requests")
    with serving(server):
        values = s3_sandbox_values(server, "requests")
        settings = Settings(**values, temp_dir=str(root / "tmp"), sql_timeout_seconds=10.0)
        store = lake_store(settings)
        build(store, root / "build")
        reader = LakeReader(store)
        snapshots = {name: snap for name in reader.datasets() if (snap := reader.snapshot(name))}
        yield settings, store, snapshots


def build(store: ObjectStore, work: Path) -> None:
    """Commit the datasets, each with the columns clean would record."""
    work.mkdir(parents=True)
    con = duckdb.connect()
    for dataset, files in FILES.items():
        entries = []
        for index, (day, sql) in enumerate(files):
            path = work / f"{dataset}-{index}.parquet"
            con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
            key = clean_key(dataset, day, f"f{index}")
            store.upload(key, path)
            entries.append(FileEntry(key=key, rows=1, partition=day))
        commit(store, dataset, run_id="t", add=entries, columns=COLUMNS[dataset])


def datasets_read(proxy: CountingProxy, mark: Requests) -> set[str]:
    """The datasets whose files were requested since `mark`."""
    paths = [path for _, path, _ in proxy.log_since(mark)]
    return {path.split("/clean/")[1].split("/")[0] for path in paths if "/clean/" in path}


@pytest.fixture
def session(lake: Any) -> Iterator[SqlSession]:
    box = SqlSession(*lake, workers=2)
    yield box
    box.close()


def test_a_worker_that_starts_reads_nothing_from_the_lake(lake: Any, proxy: CountingProxy) -> None:
    mark = proxy.reading()
    box = SqlSession(*lake, workers=2)
    try:
        assert box.schema()["quotes"] == [
            ("symbol", "VARCHAR"),
            ("price", "DOUBLE"),
            ("ts", "TIMESTAMPTZ"),
            ("dt", "DATE"),
        ]
        box.wait_ready(every=True)
        assert proxy.log_since(mark) == []
        # The catalog knows every dataset and its columns without opening a file.
        tables = box.run("SHOW TABLES").frame["name"].tolist()
        columns = box.run(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'quotes'"
        ).frame.values.tolist()
        assert proxy.log_since(mark) == []
    finally:
        box.close()
    assert tables == ["dropped", "grown", "numbers", "quotes"]
    assert columns == [
        ["symbol", "VARCHAR"],
        ["price", "DOUBLE"],
        ["ts", "TIMESTAMP WITH TIME ZONE"],
        ["dt", "DATE"],
    ]


def test_a_statement_opens_only_the_datasets_it_names(
    session: SqlSession, proxy: CountingProxy
) -> None:
    session.wait_ready(every=True)
    mark = proxy.reading()
    result = session.run("SELECT symbol, sum(price) AS total FROM quotes GROUP BY 1 ORDER BY 1")
    assert result.frame.to_dict("records") == [
        {"symbol": "AAPL", "total": 5.0},
        {"symbol": "MSFT", "total": 2.5},
    ]
    assert datasets_read(proxy, mark) == {"quotes"}
    mark = proxy.reading()
    assert session.run("SELECT max(n) FROM numbers").frame.iloc[0, 0] == 999
    assert datasets_read(proxy, mark) == {"numbers"}


@pytest.mark.parametrize(("dataset", "note"), [("grown", "new"), ("dropped", "old")])
def test_a_dataset_whose_files_differ_is_read_lined_up_by_name(
    lake: Any, proxy: CountingProxy, dataset: str, note: str
) -> None:
    assert lake[2][dataset].files[0].key.endswith("/f0.parquet")  # in the order of FILES
    box = SqlSession(*lake, workers=1)
    try:
        box.wait_ready()
        mark = proxy.reading()
        result = box.run(f"SELECT symbol, price, coalesce(note, '-') AS note FROM {dataset}")
        first = box.last
        # The same worker answers next: lining the view up left its engine as the checks
        # after every query expect.
        again = box.run(f"SELECT count(*) AS n FROM {dataset} WHERE note IS NULL")
        second = box.last
        views = box.run("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").frame
    finally:
        box.close()
    assert sorted(result.frame.values.tolist()) == [["AAPL", 1.0, "-"], ["MSFT", 2.0, note]]
    assert again.frame.iloc[0, 0] == 1
    assert first is not None and second is not None
    assert (first.kind, second.kind) == ("ok", "ok")
    assert first.worker_pid == second.worker_pid
    assert datasets_read(proxy, mark) == {dataset}
    # The recreated view still shows a dataset name, never a path.
    definitions = dict(zip(views["view_name"], views["sql"], strict=True))
    assert "union_by_name = CAST('t'" in definitions[dataset]
    assert "union_by_name = CAST('f'" in definitions["quotes"]
    assert not any("s3://" in sql or "clean/" in sql for sql in definitions.values())


def test_the_retry_lines_up_every_view_when_the_statement_was_not_judged(lake: Any) -> None:
    """Without the validator (the tests of the lower walls) the worker does not know which
    datasets a statement names: a mismatch lines every dataset up."""
    box = SqlSession(*lake, workers=1, validate=False)
    try:
        result = box.run("SELECT count(note) AS notes, count(*) AS n FROM dropped")
    finally:
        box.close()
    assert result.frame.to_dict("records") == [{"notes": 1, "n": 2}]


def test_the_first_query_of_a_session_waits_for_the_start_up_not_the_queue(lake: Any) -> None:
    """Nothing waits for the workers when the page opens (its schema is the snapshots'): the
    first query waits for a worker to start, however short the queue wait."""
    box = SqlSession(*lake, workers=1, queue_wait_s=0.001)
    try:
        assert box.run("SELECT count(*) AS n FROM numbers").frame.iloc[0, 0] == 1000
    finally:
        box.close()


def test_one_statement_reads_the_snapshots_of_the_datasets_it_names(
    lake: Any, proxy: CountingProxy
) -> None:
    """`bucketpipe sql "<query>"` lists the datasets and reads the snapshot of those the query
    names (its `current.json` and the probe for a newer version): not two reads per dataset
    of the lake. A statement naming none (SHOW TABLES) knows every dataset."""
    mark = proxy.reading()
    session = open_sandbox(lake[0], query="SELECT count(*) AS n FROM quotes")
    try:
        opened = proxy.log_since(mark)
        assert session.run("SELECT count(*) AS n FROM quotes").frame.iloc[0, 0] == 3
    finally:
        session.close()
    kinds = [kind for kind, _, _ in opened]
    documents = {
        path.split("/_snapshots/")[1].split("/")[0]
        for _, path, _ in opened
        if "/_snapshots/" in path
    }
    assert (kinds.count("LIST"), len(opened), documents) == (1, 3, {"quotes"})
    session = open_sandbox(lake[0], query="SHOW TABLES")
    try:
        assert session.run("SHOW TABLES").frame["name"].tolist() == sorted(FILES)
    finally:
        session.close()
