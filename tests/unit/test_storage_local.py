"""The local-directory store behaves like a bucket: atomic writes, create-if-absent, listing."""

from pathlib import Path

import pytest

from bucketpipe.config.errors import ConfigError, ObjectNotFound, StorageError
from bucketpipe.lake.storage import LocalStore, ObjectStore, S3Store, open_store


def test_put_get_head_delete(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("a/b/c.json", b"hello")
    assert store.get("a/b/c.json") == b"hello"
    info = store.head("a/b/c.json")
    assert info is not None and info.size == 5 and info.key == "a/b/c.json"
    assert store.delete(["a/b/c.json", "missing"]) == 2
    assert store.head("a/b/c.json") is None
    with pytest.raises(ObjectNotFound):
        store.get("a/b/c.json")


def test_put_new_creates_only_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.put_new("v/1.json", b"first")
    assert not store.put_new("v/1.json", b"second")
    assert store.get("v/1.json") == b"first"


def test_listing_is_sorted_and_skips_temp_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in ("x/2", "x/1", "x/sub/3", "y/4"):
        store.put(key, b".")
    (tmp_path / "x" / ".hidden.tmp").write_bytes(b".")
    assert [i.key for i in store.list_objects("x/")] == ["x/1", "x/2", "x/sub/3"]
    assert [i.key for i in store.list_objects("x/s")] == ["x/sub/3"]
    assert store.list_dirs("") == ["x/", "y/"]
    assert list(store.list_objects("nothing/")) == []


def test_keys_cannot_escape_the_lake(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "lake")
    with pytest.raises(StorageError):
        store.put("../outside", b"x")


def test_upload_and_duckdb_path(tmp_path: Path) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(b"123")
    store = LocalStore(tmp_path / "lake")
    store.upload("k/f.bin", src)
    assert store.get("k/f.bin") == b"123"
    assert store.duckdb_path("k/f.bin") == str((tmp_path / "lake" / "k" / "f.bin").resolve())


def test_open_store_picks_the_implementation(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    s3 = open_store(
        "s3://bucket/pre/fix",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="a",
        secret_access_key="b",
    )
    assert isinstance(s3, S3Store)
    assert s3.url == "s3://bucket/pre/fix"
    assert s3.duckdb_path("clean/x.parquet") == "s3://bucket/pre/fix/clean/x.parquet"
    assert isinstance(s3, ObjectStore)
    with pytest.raises(ConfigError):
        open_store("gs://bucket")
