"""`ingest bucket` from a source bucket (another account's bucket, read with its own keys through
the owner's bucket policy, as a bucket another CSC project shares on Allas) into a lake."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.clean.job import run_clean
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping, parse_mapping
from bucketpipe.ingest.bucket.source import EMBED_MAX_BYTES, land
from bucketpipe.lake.duck import connect
from bucketpipe.lake.layout import RAW
from bucketpipe.lake.raw import read_lines
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN
from tests.conftest import SettingsFactory
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration

ContextFactory = Callable[[Settings], Context]


@pytest.fixture
def source(s3_server: S3Server) -> dict[str, Any]:
    """A second bucket: the files users drop, owned by another account, reached with keys of
    their own that its bucket policy lets read."""
    bucket = s3_server.create_shared_bucket("drop")
    client = s3_server.client(s3_server.owner)
    return {
        "bucket": bucket,
        "client": client,
        "url": f"s3://{bucket}/incoming",
        "endpoint": s3_server.endpoint,
        "keys": s3_server.source,
        "ca_bundle": s3_server.ca_bundle,
    }


def put(source: dict[str, Any], key: str, data: bytes) -> None:
    source["client"].put_object(Bucket=source["bucket"], Key=f"incoming/{key}", Body=data)


def source_settings(lake_settings: SettingsFactory, source: dict[str, Any], **kw: Any) -> Settings:
    return lake_settings(
        source=source["url"],
        source_endpoint_url=source["endpoint"],
        source_access_key_id=source["keys"].access_key,
        source_secret_access_key=source["keys"].secret_key,
        aws_ca_bundle=source["ca_bundle"],  # one bundle for the lake and the source
        **kw,
    )


def all_objects(ctx: Context) -> dict[str, bytes]:
    return {info.key: ctx.store.get(info.key) for info in ctx.store.list_objects("")}


def test_lands_incrementally_and_cleans(
    lake_settings: SettingsFactory,
    source: dict[str, Any],
    make_context: ContextFactory,
) -> None:
    settings = source_settings(lake_settings, source, source_max_bytes=4_000_000)
    ctx = make_context(settings)
    big = b"id;name\n" + b"".join(f"{i};name {i}\n".encode() for i in range(200_000))
    assert len(big) > EMBED_MAX_BYTES
    put(source, "sales/jan.csv", "id;amount\n1;12,5\n2;7\n".encode("cp1252"))
    put(source, "people/big.csv", big)
    put(source, "junk/bad.json", b'[{"a": ')
    put(source, "huge/too_big.csv", b"x\n" + b"1\n" * 2_500_000)
    put(source, "_SUCCESS", b"")

    first = land(ctx, run_id="b1", mapping=Mapping())
    assert first is not None
    assert first.status == "partial"
    details = first.details
    assert details["datasets"] == {"people": 1, "sales": 1}
    assert (details["files_landed"], details["files_failed"], details["files_ignored"]) == (2, 2, 1)
    failed = {f["key"]: (f["status"], f["error"]) for f in details["failed"]}
    assert failed["junk/bad.json"][0] == 422 and "not valid JSON" in failed["junk/bad.json"][1]
    assert failed["huge/too_big.csv"][0] == 413
    assert "BUCKETPIPE_SOURCE_MAX_BYTES" in failed["huge/too_big.csv"][1]
    # the big file is copied next to the run's raw object, the small one embedded in its line
    (copy,) = details["copies"]
    assert copy.startswith(f"{RAW}/bucket/dt=") and copy.endswith("/b1/00001.csv")
    assert ctx.store.get(copy) == big
    lines = {line["path"]: line for line in read_lines(ctx.store.get(first.outputs[0]))}
    assert lines["sales/jan.csv"]["body"]["read"]["encoding"] == "utf-8"
    assert lines["sales/jan.csv"]["body"]["copy"] is None

    assert land(ctx, run_id="b2", mapping=Mapping()) is None  # nothing new or changed
    put(source, "sales/jan.csv", b"id;amount\n1;12,5\n2;7\n3;8\n")  # changed: new ETag
    second = land(ctx, run_id="b3", mapping=Mapping())
    assert second is not None and second.details["datasets"] == {"sales": 1}

    clean = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1")
    assert clean is not None and sorted(clean.inputs) == ["b1", "b3"]
    con = connect(settings)
    LakeReader(ctx.store).register_views(con)
    assert con.execute("SELECT id, amount FROM sales ORDER BY id").fetchall() == [
        (1, 12.5),
        (2, 7.0),
        (3, 8.0),
    ]
    assert con.execute("SELECT count(*), max(id) FROM people").fetchall() == [(200_000, 199_999)]
    text = b"\n".join(all_objects(ctx).values())
    keys = source["keys"]
    assert keys.secret_key.encode() not in text and keys.access_key.encode() not in text


def test_mapping_routes_keys_and_read_options(
    lake_settings: SettingsFactory,
    source: dict[str, Any],
    make_context: ContextFactory,
) -> None:
    ctx = make_context(source_settings(lake_settings, source))
    mapping = parse_mapping(
        "rules:\n"
        "  - {pattern: 'tmp/**', skip: true}\n"
        "  - {pattern: 'exports/*/orders_*.txt', dataset: orders, delimiter: '|'}\n"
    )
    put(source, "exports/eu/orders_1.txt", b"a|b\n1|2\n")
    put(source, "tmp/ignore.csv", b"x\n1\n")
    manifest = land(ctx, run_id="b1", mapping=mapping)
    assert manifest is not None
    assert manifest.details["datasets"] == {"orders": 1}
    assert manifest.details["files_unmapped"] == 1
    run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1")
    con = connect(ctx.settings)
    LakeReader(ctx.store).register_views(con)
    assert con.execute("SELECT a, b FROM orders").fetchall() == [(1, 2)]


def test_state_is_repaired_from_committed_runs(
    make_settings: SettingsFactory, tmp_path: Path, make_context: ContextFactory
) -> None:
    """A crash between the manifest and the state write must not land the files again."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "a.csv").write_text("x\n1\n")
    ctx = make_context(make_settings(source=str(src)))
    assert land(ctx, run_id="b1", mapping=Mapping()) is not None
    state_key = _only_state(ctx)
    ctx.store.delete([state_key])
    assert land(ctx, run_id="b2", mapping=Mapping()) is None
    state = json.loads(gzip.decompress(ctx.store.get(state_key)))
    assert state["runs"] == ["b1"] and state["objects"]["d/a.csv"]["status"] == "landed"


def _only_state(ctx: Context) -> str:
    (key,) = [i.key for i in ctx.store.list_objects("_state/bucket/")]
    return key


def test_too_large_file_lands_once_the_cap_allows_it(
    make_settings: SettingsFactory, tmp_path: Path, make_context: ContextFactory
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "wide.csv").write_text("x\n" + "1\n" * 1000)
    small_cap = make_context(make_settings(source=str(src), source_max_bytes=100))
    first = land(small_cap, run_id="b1", mapping=Mapping())
    assert first is not None and first.details["files_failed"] == 1
    assert land(small_cap, run_id="b2", mapping=Mapping()) is None  # reported once
    raised = make_context(make_settings(source=str(src)))
    again = land(raised, run_id="b3", mapping=Mapping())
    assert again is not None and again.details["files_landed"] == 1


def test_unreadable_file_is_retried_only_when_asked(
    make_settings: SettingsFactory, tmp_path: Path, make_context: ContextFactory
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.json").write_text("[1, ")
    ctx = make_context(make_settings(source=str(src)))
    assert land(ctx, run_id="b1", mapping=Mapping()) is not None
    assert land(ctx, run_id="b2", mapping=Mapping()) is None
    retried = land(ctx, run_id="b3", mapping=Mapping(), retry_failed=True)
    assert retried is not None and retried.details["files_failed"] == 1


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """`main()` installs a log handler on the test's captured stderr: remove it afterwards."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bucketpipe", False):
            root.removeHandler(handler)


def test_cli_exit_codes(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_logging: None,
) -> None:
    from bucketpipe.jobs.cli import main

    src = tmp_path / "src"
    src.mkdir()
    monkeypatch.setenv("BUCKETPIPE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("BUCKETPIPE_TEMP_DIR", str(tmp_path / "tmp"))
    monkeypatch.setenv("BUCKETPIPE_SOURCE", str(src))
    (src / "ok.csv").write_text("a\n1\n")
    (src / "bad.parquet").write_text("nope")
    assert main(["ingest", "bucket", "--run-id", "b1"]) == 1  # partial: one file failed
    assert main(["ingest", "bucket", "--run-id", "b1"]) == 0  # committed: a no-op
    assert main(["ingest", "bucket", "--run-id", "b2"]) == 0  # nothing new
    monkeypatch.setenv("BUCKETPIPE_SOURCE_MAPPING", str(tmp_path / "missing.yaml"))
    assert main(["ingest", "bucket", "--run-id", "b3"]) == 2
    assert "BUCKETPIPE_SOURCE_MAPPING: cannot read" in capsys.readouterr().err


FORGED = b"dataset,run_id,created_at,overall_score\nsales,forged,2020-01-01T00:00:00Z,100\n"


def reports_and_failures(ctx: Context, clean: Any) -> tuple[list[tuple[str, str]], dict[str, str]]:
    con = connect(ctx.settings)
    LakeReader(ctx.store).register_views(con)
    rows = con.execute("SELECT dataset, run_id FROM quality_reports ORDER BY ALL").fetchall()
    failed = {
        name: result.message for name, result in clean.datasets.items() if result.status == "failed"
    }
    return [(str(d), str(r)) for d, r in rows], failed


@pytest.mark.parametrize("folder", ["quality_reports", "quotes", "daily_bars"])
def test_a_stranger_cannot_take_a_built_in_dataset_name(
    lake_settings: SettingsFactory,
    source: dict[str, Any],
    make_context: ContextFactory,
    folder: str,
) -> None:
    """Anyone who may write to the source bucket names the folder: a folder named like the
    lake's own quality reports became that dataset, and every real report after it failed to
    commit (`Referenced column "created_at" not found`)."""
    ctx = make_context(source_settings(lake_settings, source))
    put(source, f"{folder}/evil.csv", FORGED)
    put(source, "sales/jan.csv", b"id,amount\n1,2\n")
    manifest = land(ctx, run_id="b1", mapping=Mapping())
    assert manifest is not None and manifest.details["datasets"] == {"sales": 1}
    failed = {f["key"]: f["error"] for f in manifest.details["failed"]}
    assert f"dataset name {folder!r} is reserved" in failed[f"{folder}/evil.csv"]
    clean = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1")
    reports, failures = reports_and_failures(ctx, clean)
    assert reports == [("sales", "c1")] and failures == {}


def test_a_built_in_name_landed_before_the_check_is_refused_by_clean(
    lake_settings: SettingsFactory,
    source: dict[str, Any],
    make_context: ContextFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next layer: raw files that carry a built-in name (landed by a version that did not
    refuse it, or by a mapping written before a dataset of that name existed) never reach that
    dataset; clean reports them as failed with the reason and commits the rest."""
    import bucketpipe.ingest.bucket.planning as planning

    ctx = make_context(source_settings(lake_settings, source))
    put(source, "quality_reports/evil.csv", FORGED)
    put(source, "sales/jan.csv", b"id,amount\n1,2\n")
    with monkeypatch.context() as patched:
        patched.setattr(planning, "reserved_names", lambda: frozenset())
        manifest = land(ctx, run_id="b1", mapping=Mapping())
    assert manifest is not None
    assert manifest.details["datasets"] == {"quality_reports": 1, "sales": 1}
    clean = run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1")
    reports, failures = reports_and_failures(ctx, clean)
    assert reports == [("sales", "c1")] and failures == {}
    why = (
        "dataset name 'quality_reports' is reserved for a built-in dataset; "
        "map these files to another name in the source mapping"
    )
    assert clean is not None and clean.status == "partial"
    assert clean.details["refused"] == {"quality_reports": why}
    assert clean.errors == [f"quality_reports: {why}"]
