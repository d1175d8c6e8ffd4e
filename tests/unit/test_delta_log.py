"""Where the Delta logs live, how delta-rs reaches them, and which log files may expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bucketpipe.lake.delta_log import (
    commit_version,
    expired_log_keys,
    is_log_key,
    reader_options,
    table_uri,
    writer_options,
)
from bucketpipe.lake.storage import LocalStore, ObjectInfo, S3Store, S3Target

LOG = "clean/quotes/_delta_log/"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def info(name: str, hours_ago: float) -> ObjectInfo:
    return ObjectInfo(LOG + name, 1, "e", NOW - timedelta(hours=hours_ago))


def commit(version: int, hours_ago: float) -> ObjectInfo:
    return info(f"{version:020d}.json", hours_ago)


def checkpoint(version: int, hours_ago: float) -> ObjectInfo:
    return info(f"{version:020d}.checkpoint.parquet", hours_ago)


def s3_store(endpoint: str | None, conditional: bool = True) -> S3Store:
    target = S3Target("bkt", "lake", endpoint, "us-east-1", "key-id", "secret")
    return S3Store(target, client=object(), conditional_writes=conditional)


def test_the_table_root_is_the_dataset_folder(tmp_path: object) -> None:
    store = LocalStore(str(tmp_path))
    assert table_uri(store, "quotes") == f"{store.root}/clean/quotes"
    assert table_uri(s3_store(None), "quotes") == "s3://bkt/lake/clean/quotes"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("clean/quotes/_delta_log/00000000000000000012.json", True),
        ("clean/quotes/_delta_log/_last_checkpoint", True),
        ("clean/quotes/dt=2026-12-01/a.parquet", False),
        ("clean/quotes/_delta_log", False),
    ],
)
def test_log_keys_are_told_apart_from_data(key: str, expected: bool) -> None:
    assert is_log_key(key) is expected


def test_a_commit_version_comes_from_its_twenty_digit_name() -> None:
    assert commit_version(LOG + "00000000000000000012.json") == 12
    assert commit_version(LOG + "00000000000000000012.checkpoint.parquet") is None
    assert commit_version(LOG + "_last_checkpoint") is None


def test_s3_options_name_the_endpoint_path_style_and_plain_http() -> None:
    assert reader_options(s3_store("http://127.0.0.1:9000")) == {
        "AWS_REGION": "us-east-1",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "key-id",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    assert "AWS_ALLOW_HTTP" not in reader_options(s3_store("https://a3s.fi"))


def test_commits_are_conditional_unless_the_store_cannot_do_it() -> None:
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in writer_options(s3_store("https://a3s.fi"))
    unsafe = writer_options(s3_store("https://a3s.fi", conditional=False))
    assert unsafe["AWS_S3_ALLOW_UNSAFE_RENAME"] == "true"


def test_a_local_lake_needs_no_options(tmp_path: object) -> None:
    assert writer_options(LocalStore(str(tmp_path))) == {}


def test_versions_since_the_cutoff_keep_the_checkpoint_they_replay_from() -> None:
    objects = [
        commit(0, 30),
        commit(1, 20),
        checkpoint(1, 20),
        commit(2, 10),
        commit(3, 5),  # the oldest version within 6 hours
        checkpoint(3, 5),
        commit(4, 1),
        info("_last_checkpoint", 5),
    ]
    # Version 3 and later stay; 3 has its own checkpoint, so everything before it goes.
    assert expired_log_keys(objects, NOW - timedelta(hours=6)) == [
        LOG + "00000000000000000000.json",
        LOG + "00000000000000000001.checkpoint.parquet",
        LOG + "00000000000000000001.json",
        LOG + "00000000000000000002.json",
    ]


def test_without_a_checkpoint_below_the_kept_versions_nothing_expires() -> None:
    objects = [commit(0, 30), commit(1, 20), commit(2, 1), checkpoint(2, 1)]
    # Version 1 is within 24 h but only version 2 has a checkpoint: 0 and 1 must stay.
    assert expired_log_keys(objects, NOW - timedelta(hours=24)) == []


def test_the_newest_version_stays_readable_when_every_commit_is_old() -> None:
    objects = [commit(0, 30), checkpoint(0, 30), commit(1, 20), commit(2, 10), checkpoint(2, 10)]
    assert expired_log_keys(objects, NOW) == [
        LOG + "00000000000000000000.checkpoint.parquet",
        LOG + "00000000000000000000.json",
        LOG + "00000000000000000001.json",
    ]


def test_a_half_written_commit_expires_with_the_grace_period() -> None:
    objects = [commit(0, 30), info("_commit_abc.json.tmp", 7), info("_commit_def.json.tmp", 1)]
    assert expired_log_keys(objects, NOW - timedelta(hours=6)) == [LOG + "_commit_abc.json.tmp"]
