"""What the commit protocol, leases, uploads, vacuum and DuckDB rely on from an S3 server.

Run against moto (`make test`) and Ceph RGW, the server under CSC Allas, over HTTP and HTTPS
(`make test-rgw`). Where RGW differs from moto, a test here shows the difference on the server
and another shows that Bucketpipe's own code takes the portable path (docs/architecture.md,
"S3 behaviours the design relies on").
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bucketpipe.lake.storage import S3Store, open_store
from tests.conftest import s3_kind
from tests.support.s3_servers import Keys, S3Server

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def store_for(server: S3Server, bucket: str, keys: Keys | None = None) -> S3Store:
    keys = keys or server.writer
    store = open_store(
        f"s3://{bucket}/lake",
        endpoint_url=server.endpoint,
        access_key_id=keys.access_key,
        secret_access_key=keys.secret_key,
        ca_bundle=server.ca_bundle,
    )
    assert isinstance(store, S3Store)
    return store


def error_of(call: Callable[[], Any]) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def test_the_server_is_the_one_the_switch_names(
    s3_server: S3Server, pytestconfig: pytest.Config
) -> None:
    assert s3_server.kind == s3_kind(pytestconfig)
    owner = s3_server.client().list_buckets()["Owner"]
    if s3_server.is_rgw:  # a real RGW knows who the writer is; moto answers for any key
        assert owner["ID"] == "writer"
    assert s3_server.endpoint.startswith("https://" if s3_server.kind == "rgw-https" else "http://")


# --- conditional create: the one compare-and-swap ------------------------------------------------
def test_if_none_match_star_refuses_an_existing_key(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="v/1.json", Body=b"first", IfNoneMatch="*")
    status, code = error_of(
        lambda: client.put_object(Bucket=s3_bucket, Key="v/1.json", Body=b"x", IfNoneMatch="*")
    )
    assert (status, code) == (412, "PreconditionFailed")
    assert client.get_object(Bucket=s3_bucket, Key="v/1.json")["Body"].read() == b"first"


def test_racing_conditional_creates_have_one_winner(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    wins: list[bytes] = []
    barrier = threading.Barrier(6)

    def create(body: bytes) -> None:
        barrier.wait()
        if store.put_new("_snapshots/quotes/00000007.json", body):
            wins.append(body)

    threads = [threading.Thread(target=create, args=(f"w{i}".encode(),)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert store.get("_snapshots/quotes/00000007.json") == wins[0]


def test_the_store_creates_large_documents_single_part(s3_server: S3Server, s3_bucket: str) -> None:
    """RGW ignores If-None-Match on multipart uploads, so put_new never uses one, whatever the
    size: a second create of an existing 12 MiB key is refused, the first body stays."""
    store = store_for(s3_server, s3_bucket)
    first, second = b"a" * (12 * MiB), b"b" * (12 * MiB)
    assert store.put_new("big.json", first)
    assert not store.put_new("big.json", second)
    assert store.get("big.json") == first


def test_multipart_with_if_none_match_is_not_a_condition_on_rgw(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """Why: RGW completes a multipart upload over an existing key despite If-None-Match: *."""
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="k", Body=b"first")
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key="k")
    part = client.upload_part(
        Bucket=s3_bucket, Key="k", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 5 * MiB
    )

    def complete() -> Any:
        return client.complete_multipart_upload(
            Bucket=s3_bucket,
            Key="k",
            UploadId=upload["UploadId"],
            IfNoneMatch="*",
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )

    if s3_server.is_rgw:
        complete()
        assert client.head_object(Bucket=s3_bucket, Key="k")["ContentLength"] == 5 * MiB
    else:
        assert error_of(complete) == (412, "PreconditionFailed")
        client.abort_multipart_upload(Bucket=s3_bucket, Key="k", UploadId=upload["UploadId"])


def test_if_match_with_the_current_etag_is_refused_on_rgw(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """Why the design never replaces an object conditionally: RGW 16 answers 412 to every
    If-Match with an ETag, even the object's own."""
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="current.json", Body=b"v1")
    etag = client.head_object(Bucket=s3_bucket, Key="current.json")["ETag"]

    def replace() -> Any:
        return client.put_object(Bucket=s3_bucket, Key="current.json", Body=b"v2", IfMatch=etag)

    if s3_server.is_rgw:
        assert error_of(replace) == (412, "PreconditionFailed")
        assert client.get_object(Bucket=s3_bucket, Key="current.json")["Body"].read() == b"v1"
    else:
        replace()


def test_conditional_delete_is_ignored_on_rgw(s3_server: S3Server, s3_bucket: str) -> None:
    """Why leases and vacuum delete unconditionally: RGW ignores If-Match on DELETE."""
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="lease.json", Body=b"mine")

    def delete() -> Any:
        return client.delete_object(Bucket=s3_bucket, Key="lease.json", IfMatch='"not-it"')

    if s3_server.is_rgw:
        delete()
        assert error_of(lambda: client.head_object(Bucket=s3_bucket, Key="lease.json"))[0] == 404
    else:
        assert error_of(delete) == (412, "PreconditionFailed")


# --- list-after-write, listing shapes, deletes -------------------------------------------------
def test_a_new_object_is_listed_at_once_and_a_deleted_one_is_not(
    s3_server: S3Server, s3_bucket: str
) -> None:
    store = store_for(s3_server, s3_bucket)
    for i in range(20):
        store.put(f"_runs/ingest/{i:03d}.json", b"{}")
        assert store.head(f"_runs/ingest/{i:03d}.json") is not None
        assert len(list(store.list_objects("_runs/ingest/"))) == i + 1
    store.delete([f"_runs/ingest/{i:03d}.json" for i in range(0, 20, 2)])
    assert [o.key for o in store.list_objects("_runs/ingest/")] == [
        f"_runs/ingest/{i:03d}.json" for i in range(1, 20, 2)
    ]


def test_listing_pages_in_key_order_with_a_continuation(
    s3_server: S3Server, s3_bucket: str
) -> None:
    client = s3_server.client()
    keys = [f"p/{i:03d}" for i in range(7)]
    for key in reversed(keys):
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"")
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = client.list_objects_v2(Bucket=s3_bucket, Prefix="p/", MaxKeys=3, **token)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}
    assert seen == keys


def test_delimiter_listing_gives_the_folders(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    for key in ("clean/quotes/dt=2026-01-02/a.parquet", "clean/news/x", "clean/quotes/b"):
        store.put(key, b"")
    assert store.list_dirs("clean/") == ["clean/news/", "clean/quotes/"]
    assert store.list_dirs("clean/quotes/") == ["clean/quotes/dt=2026-01-02/"]


def test_batch_delete_of_present_and_missing_keys(s3_server: S3Server, s3_bucket: str) -> None:
    store = store_for(s3_server, s3_bucket)
    keys = [f"old/{i}" for i in range(5)]
    for key in keys:
        store.put(key, b".")
    assert store.delete([*keys, "old/never-existed"]) == 6
    assert list(store.list_objects("old/")) == []
    s3_server.client().delete_object(Bucket=s3_bucket, Key="lake/old/never-existed")


# --- large and multipart uploads, ranged GETs ---------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 5 * MiB - 1, 20 * MiB])
def test_single_part_put_round_trips(s3_server: S3Server, s3_bucket: str, size: int) -> None:
    store = store_for(s3_server, s3_bucket)
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    store.put("blob", body)
    info = store.head("blob")
    assert info is not None and info.size == size
    assert store.get("blob") == body


def test_multipart_upload_round_trips(s3_server: S3Server, s3_bucket: str, tmp_path: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    path = tmp_path / "big.parquet"
    path.write_bytes(b"".join(bytes([i]) * MiB for i in range(13)))
    client = s3_server.client()
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    client.upload_file(str(path), s3_bucket, "big.parquet", Config=config)
    head = client.head_object(Bucket=s3_bucket, Key="big.parquet")
    assert head["ContentLength"] == 13 * MiB
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    body = client.get_object(Bucket=s3_bucket, Key="big.parquet")["Body"].read()
    assert body == path.read_bytes()


def test_the_store_uploads_files_and_streams_them_back(
    s3_server: S3Server, s3_bucket: str, tmp_path: Any
) -> None:
    store = store_for(s3_server, s3_bucket)
    path = tmp_path / "part.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * (3 * MiB) + b"PAR1")
    store.upload("clean/quotes/part.parquet", path, "application/vnd.apache.parquet")
    with store.open("clean/quotes/part.parquet") as stream:
        assert stream.read() == path.read_bytes()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-3", (0, 3)),  # the magic number
        ("bytes=1000-1999", (1000, 1999)),  # a column chunk
        ("bytes=1048568-1048575", (1048568, 1048575)),  # the footer length, read after HEAD
        ("bytes=1048000-2000000", (1048000, 1048575)),  # past the end: cut at the end
    ],
)
def test_ranged_gets_as_duckdb_sends_them(
    s3_server: S3Server, s3_bucket: str, header: str, expected: tuple[int, int]
) -> None:
    client = s3_server.client()
    body = bytes(i % 251 for i in range(MiB))
    client.put_object(Bucket=s3_bucket, Key="f.parquet", Body=body)
    answer = client.get_object(Bucket=s3_bucket, Key="f.parquet", Range=header)
    start, end = expected
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert answer["ContentRange"] == f"bytes {start}-{end}/{MiB}"
    assert answer["Body"].read() == body[start : end + 1]


def test_head_gives_what_duckdb_needs(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="f", Body=b"12345")
    head = client.head_object(Bucket=s3_bucket, Key="f")
    assert head["ContentLength"] == 5 and head["ETag"] and head["LastModified"]
    assert head["ResponseMetadata"]["HTTPHeaders"]["date"]  # doctor's clock check reads it


# --- error codes and their messages --------------------------------------------------------------
def test_missing_key_and_bucket_codes(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    assert error_of(lambda: client.get_object(Bucket=s3_bucket, Key="no")) == (404, "NoSuchKey")
    assert error_of(lambda: client.head_object(Bucket=s3_bucket, Key="no"))[0] == 404
    missing = f"{s3_bucket}-missing"
    assert error_of(lambda: client.list_objects_v2(Bucket=missing)) == (404, "NoSuchBucket")
    assert error_of(lambda: client.get_object(Bucket=missing, Key="k")) == (404, "NoSuchBucket")


def test_the_store_maps_a_missing_bucket_to_a_one_line_hint(
    s3_server: S3Server, s3_bucket: str
) -> None:
    from bucketpipe.config.errors import ObjectNotFound, StorageError

    store = store_for(s3_server, f"{s3_bucket}-missing")
    with pytest.raises(StorageError, match="NoSuchBucket; create it first") as info:
        store.put("x", b"1")
    assert "\n" not in str(info.value) and s3_server.writer.secret_key not in str(info.value)
    with pytest.raises(ObjectNotFound):
        store_for(s3_server, s3_bucket).get("missing")


def test_the_default_boto3_client_needs_no_checksum_workaround_but_ours_has_it(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """boto3's default streaming checksums get 411 from RGW over HTTPS; the store asks for
    checksums only where S3 requires them, so its writes pass everywhere."""
    default = s3_server.client(
        request_checksum_calculation="when_supported", response_checksum_validation="when_supported"
    )

    def upload() -> Any:
        return default.upload_fileobj(io.BytesIO(b"a" * 100), s3_bucket, "c")

    if s3_server.kind == "rgw-https":
        assert error_of(lambda: default.put_object(Bucket=s3_bucket, Key="c", Body=b"x")) == (
            411,
            "MissingContentLength",
        )
    else:
        upload()
    store = store_for(s3_server, s3_bucket)
    store.put("c", b"x")
    assert store.put_new("d", b"y")
    assert store.get("c") == b"x"
