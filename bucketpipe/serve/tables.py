"""The lake's Delta tables as outside readers find them: URIs, versions, sizes, read snippets.

Read-only (the reader key is enough). The snippets are built from the lake's URL and endpoint;
they name the credential variables and never hold a secret.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bucketpipe.lake.delta_log import APP_ID, has_log, reader_options, table_uri
from bucketpipe.lake.snapshots import list_datasets, read_current
from bucketpipe.lake.storage import ObjectStore, S3Store

log = logging.getLogger(__name__)

# Match a Spark 4.0 installation (Scala 2.13, Hadoop 3.4).
DELTA_SPARK = "io.delta:delta-spark_2.13:4.0.0"
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.4.1"
JSON_KEYS = (
    "dataset",
    "delta_uri",
    "version",
    "snapshot_version",
    "files",
    "rows",
    "bytes",
    "partition_columns",
)


@dataclass(frozen=True)
class TableInfo:
    """One dataset's Delta table: `version` is None while it has none (not yet mirrored)."""

    dataset: str
    delta_uri: str
    version: int | None
    snapshot_version: int | None
    files: int
    rows: int
    bytes: int
    partition_columns: tuple[str, ...]
    mirrored: int | None = None  # the snapshot version the table holds (its `txn`)

    @property
    def level(self) -> bool:
        """Whether the table holds exactly the current snapshot."""
        return self.version is not None and self.mirrored == self.snapshot_version

    def as_json(self) -> dict[str, Any]:
        values = {**self.__dict__, "partition_columns": list(self.partition_columns)}
        return {key: values[key] for key in JSON_KEYS}


def describe(store: ObjectStore, dataset: str) -> TableInfo:
    """The dataset's table as its newest Delta version describes it."""
    snapshot = read_current(store, dataset)
    uri = table_uri(store, dataset)
    empty = TableInfo(dataset, uri, None, snapshot.version if snapshot else None, 0, 0, 0, ())
    if not has_log(store, dataset):
        return empty
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=reader_options(store))
    files = table.get_add_actions(flatten=True)
    rows = [int(n) for n in files.column("num_records").to_pylist() if n is not None]
    sizes = [int(n) for n in files.column("size_bytes").to_pylist()]
    return TableInfo(
        dataset=dataset,
        delta_uri=uri,
        version=table.version(),
        snapshot_version=empty.snapshot_version,
        files=len(sizes),
        rows=sum(rows),
        bytes=sum(sizes),
        partition_columns=tuple(table.metadata().partition_columns),
        mirrored=table.transaction_version(APP_ID),
    )


def describe_all(store: ObjectStore) -> list[TableInfo]:
    """Every committed dataset's table, in name order; one that cannot be read is listed
    without a version (and a warning says why)."""
    names = list_datasets(store)
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="tables") as pool:
        return list(pool.map(lambda name: _describe_or_warn(store, name), names))


def _describe_or_warn(store: ObjectStore, dataset: str) -> TableInfo:
    try:
        return describe(store, dataset)
    except Exception as exc:  # one unreadable table must not hide the others
        log.warning(
            "Delta table unreadable",
            extra={"dataset": dataset, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        snapshot = read_current(store, dataset)
        version = snapshot.version if snapshot else None
        return TableInfo(dataset, table_uri(store, dataset), None, version, 0, 0, 0, ())


def to_json(infos: list[TableInfo]) -> str:
    return json.dumps([info.as_json() for info in infos], indent=2) + "\n"


# --- snippets ------------------------------------------------------------------------------------
def snippets(store: ObjectStore, uri: str) -> dict[str, str]:
    """Ready-to-paste Python that reads the table at `uri` with Polars, DuckDB and Spark."""
    if not isinstance(store, S3Store):
        return {
            "Polars": f'import polars as pl\n\ndf = pl.read_delta("{uri}")\nprint(df)',
            "DuckDB": (
                "import duckdb\n\ncon = duckdb.connect()\n"
                'con.sql("INSTALL delta; LOAD delta")\n'
                f"con.sql(\"SELECT * FROM delta_scan('{uri}')\").show()"
            ),
            "Spark": _spark(uri, []),
        }
    endpoint = store.target.endpoint_url or "https://s3.amazonaws.com"
    region = store.target.region
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    host = parts.hostname or endpoint
    if parts.port:
        host = f"{host}:{parts.port}"
    http = parts.scheme == "http"
    allow_http = '\n    "aws_allow_http": "true",' if http else ""
    polars = (
        "import os\nimport polars as pl\n\nopts = {\n"
        f'    "aws_endpoint_url": "{endpoint}",\n    "aws_region": "{region}",{allow_http}\n'
        '    "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],\n'
        '    "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],\n}\n'
        f'df = pl.read_delta("{uri}", storage_options=opts)\nprint(df)'
    )
    duckdb = (
        "import os\nimport duckdb\n\ncon = duckdb.connect()\n"
        'con.sql("INSTALL httpfs; LOAD httpfs; INSTALL delta; LOAD delta")\n'
        "con.execute(\n"
        f"    \"CREATE SECRET lake (TYPE s3, KEY_ID ?, SECRET ?, REGION '{region}', \"\n"
        f"    \"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL {str(not http).lower()})\",\n"
        '    [os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]],\n)\n'
        f"con.sql(\"SELECT * FROM delta_scan('{uri}')\").show()"
    )
    s3a = [
        ("spark.hadoop.fs.s3a.endpoint", f'"{endpoint}"'),
        ("spark.hadoop.fs.s3a.path.style.access", '"true"'),
        ("spark.hadoop.fs.s3a.connection.ssl.enabled", f'"{str(not http).lower()}"'),
        (
            "spark.hadoop.fs.s3a.aws.credentials.provider",
            '"org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"',
        ),
        ("spark.hadoop.fs.s3a.access.key", 'os.environ["AWS_ACCESS_KEY_ID"]'),
        ("spark.hadoop.fs.s3a.secret.key", 'os.environ["AWS_SECRET_ACCESS_KEY"]'),
    ]
    return {"Polars": polars, "DuckDB": duckdb, "Spark": _spark("s3a" + uri[2:], s3a)}


def _spark(uri: str, extra: list[tuple[str, str]]) -> str:
    config = [
        ("spark.jars.packages", f'"{DELTA_SPARK},{HADOOP_AWS}"' if extra else f'"{DELTA_SPARK}"'),
        ("spark.sql.extensions", '"io.delta.sql.DeltaSparkSessionExtension"'),
        ("spark.sql.catalog.spark_catalog", '"org.apache.spark.sql.delta.catalog.DeltaCatalog"'),
        *extra,
    ]
    lines = "".join(f'\n    .config("{key}", {value})' for key, value in config)
    head = "import os\n" if extra else ""
    return (
        f"{head}from pyspark.sql import SparkSession\n\n"
        f'spark = (\n    SparkSession.builder.appName("bucketpipe-reader"){lines}\n'
        "    .getOrCreate()\n)\n"
        f'df = spark.read.format("delta").load("{uri}")\ndf.show()'
    )
