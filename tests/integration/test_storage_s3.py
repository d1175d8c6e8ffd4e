"""The S3 store against the S3 server (moto, or Ceph RGW over HTTP or HTTPS): the same behaviour as
the local directory."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from bucketpipe.config.errors import ObjectNotFound, StorageError, StorageUnavailable
from bucketpipe.lake.storage import S3Store, S3Target, open_store
from tests.conftest import free_port
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration


def store_for(server: S3Server, bucket: str, prefix: str = "lake") -> S3Store:
    store = open_store(
        f"s3://{bucket}/{prefix}",
        endpoint_url=server.endpoint,
        access_key_id=server.writer.access_key,
        secret_access_key=server.writer.secret_key,
        ca_bundle=server.ca_bundle,
    )
    assert isinstance(store, S3Store)
    return store


def test_put_get_head_list_delete(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    store.put("a/1.json", b"one", "application/json")
    store.put("a/2.json", b"two")
    store.put("b/3.json", b"three")
    assert store.get("a/1.json") == b"one"
    info = store.head("a/2.json")
    assert info is not None and info.size == 3 and info.key == "a/2.json"
    assert [i.key for i in store.list_objects("a/")] == ["a/1.json", "a/2.json"]
    assert [i.key for i in store.list_objects()] == ["a/1.json", "a/2.json", "b/3.json"]
    assert store.list_dirs("") == ["a/", "b/"]
    assert store.delete(["a/1.json", "missing"]) == 2
    assert store.head("a/1.json") is None
    with pytest.raises(ObjectNotFound):
        store.get("a/1.json")


def test_put_new_is_create_if_absent(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    assert store.put_new("v/1.json", b"first")
    assert not store.put_new("v/1.json", b"second")
    assert store.get("v/1.json") == b"first"


def test_put_new_without_conditional_writes(s3_server: S3Server, s3_bucket: str) -> None:
    base = store_for(s3_server, s3_bucket)
    store = S3Store(base.target, conditional_writes=False)
    assert store.put_new("v/1.json", b"first")
    assert not store.put_new("v/1.json", b"second")


def test_listing_pages_past_a_thousand_keys(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    keys = [f"many/{i:05d}" for i in range(1100)]
    with ThreadPoolExecutor(8) as pool:  # set-up only: a real server takes ms per request
        list(pool.map(lambda k: store.client.put_object(Bucket=s3_bucket, Key=f"lake/{k}"), keys))
    assert [i.key for i in store.list_objects("many/")] == keys
    assert store.delete(keys) == 1100
    assert list(store.list_objects("many/")) == []


def test_missing_bucket_is_a_one_line_error(s3_server: S3Server) -> None:
    store = store_for(s3_server, "no-such-bucket-here")
    with pytest.raises(StorageError, match="NoSuchBucket") as info:
        store.put("x", b"1")
    assert "\n" not in str(info.value)
    assert s3_server.writer.secret_key not in str(info.value)


def test_unreachable_endpoint_is_transient() -> None:
    target = S3Target(
        bucket="b",
        prefix="",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
        access_key_id="a",
        secret_access_key="b",
    )
    store = S3Store(target)
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StorageUnavailable, match="cannot reach the object store"):
        store.get("x")
