"""Keys and bucket policies on Ceph RGW, the server under CSC Allas (moto accepts any key and
enforces no policy, so these run only with BUCKETPIPE_TEST_S3=rgw or rgw-https)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bucketpipe.config.errors import StorageError
from bucketpipe.lake.storage import S3Store, open_store
from tests.support.s3_servers import Keys, S3Server

pytestmark = [pytest.mark.integration, pytest.mark.rgw]


def code_of(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def store_as(server: S3Server, bucket: str, keys: Keys) -> S3Store:
    store = open_store(
        f"s3://{bucket}/lake",
        endpoint_url=server.endpoint,
        access_key_id=keys.access_key,
        secret_access_key=keys.secret_key,
        ca_bundle=server.ca_bundle,
    )
    assert isinstance(store, S3Store)
    return store


def test_an_unknown_key_and_a_wrong_secret(s3_server: S3Server, s3_bucket: str) -> None:
    stranger = s3_server.client(Keys("NOSUCHKEY0000000", "whatever", "nobody"))
    wrong = s3_server.client(Keys(s3_server.writer.access_key, "wrong-secret", "writer"))
    assert code_of(lambda: stranger.list_objects_v2(Bucket=s3_bucket)) == "InvalidAccessKeyId"
    assert code_of(lambda: wrong.list_objects_v2(Bucket=s3_bucket)) == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("who", "hint"),
    [
        ("stranger", "InvalidAccessKeyId; AWS_ACCESS_KEY_ID is not known to this endpoint"),
        ("bad-secret", "SignatureDoesNotMatch; AWS_SECRET_ACCESS_KEY does not match"),
        ("reader", "AccessDenied; check the credentials' permissions"),
    ],
)
def test_the_store_turns_refusals_into_one_line_hints(
    s3_server: S3Server, s3_bucket: str, who: str, hint: str
) -> None:
    keys = {
        "stranger": Keys("NOSUCHKEY0000000", "whatever", "nobody"),
        "bad-secret": Keys(s3_server.writer.access_key, "wrong-secret", "writer"),
        "reader": s3_server.reader,
    }[who]
    with pytest.raises(StorageError, match=hint) as info:
        store_as(s3_server, s3_bucket, keys).put("x.json", b"{}")
    assert "\n" not in str(info.value)
    assert not any(secret in str(info.value) for secret in s3_server.secrets)


def test_the_reader_key_reads_the_lake_and_cannot_change_it(
    s3_server: S3Server, s3_bucket: str
) -> None:
    writer = store_as(s3_server, s3_bucket, s3_server.writer)
    writer.put("clean/a.parquet", b"data")
    reader = s3_server.client(s3_server.reader)
    key = "lake/clean/a.parquet"
    assert reader.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == b"data"
    assert [o["Key"] for o in reader.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [key]
    assert code_of(lambda: reader.put_object(Bucket=s3_bucket, Key=key, Body=b"")) == (
        "AccessDenied"
    )
    assert code_of(lambda: reader.delete_object(Bucket=s3_bucket, Key=key)) == "AccessDenied"
    assert writer.get("clean/a.parquet") == b"data"


def test_the_source_key_reads_a_shared_bucket_and_nothing_else(
    s3_server: S3Server, s3_bucket: str
) -> None:
    shared = s3_server.create_shared_bucket()
    s3_server.client(s3_server.owner).put_object(Bucket=shared, Key="drop/a.csv", Body=b"a\n1\n")
    source = s3_server.client(s3_server.source)
    listed = source.list_objects_v2(Bucket=shared)["Contents"]
    assert [o["Key"] for o in listed] == ["drop/a.csv"]
    assert source.get_object(Bucket=shared, Key="drop/a.csv")["Body"].read() == b"a\n1\n"
    assert code_of(lambda: source.put_object(Bucket=shared, Key="x", Body=b"")) == "AccessDenied"
    assert code_of(lambda: source.list_objects_v2(Bucket=s3_bucket)) == "AccessDenied"


def shared_with(server: S3Server, principal: str) -> str:
    """A bucket of `owner` holding `f`, whose policy lets `principal` list and read it."""
    owner = server.client(server.owner)
    bucket = f"principal-{uuid.uuid4().hex[:12]}"
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="f", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [principal]},
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


# Which principal of a bucket policy grants a user of the empty tenant (`{uid}`) access: the
# finding docs/allas.md and docs/deploy-rahti.md cite (tests/unit/test_checks.py compares).
PRINCIPALS = [
    ("arn:aws:iam:::user/{uid}", True),
    ("arn:aws:iam:::root", True),  # every user of the empty tenant: too broad to use
    ("arn:aws:iam::{uid}:root", False),
    ("arn:aws:iam::{uid}:user/{uid}", False),
    ("arn:aws:iam::*:user/{uid}", False),
    ("{uid}", False),
]


@pytest.mark.parametrize(("principal", "grants"), PRINCIPALS)
def test_which_policy_principal_names_a_user_of_the_empty_tenant(
    s3_server: S3Server, principal: str, grants: bool
) -> None:
    assert "$" not in s3_server.client(s3_server.source).list_buckets()["Owner"]["ID"]
    bucket = shared_with(s3_server, principal.format(uid=s3_server.source.uid))
    source = s3_server.client(s3_server.source)
    if grants:
        assert source.get_object(Bucket=bucket, Key="f")["Body"].read() == b"x"
    else:
        assert code_of(lambda: source.get_object(Bucket=bucket, Key="f")) == "AccessDenied"
        assert code_of(lambda: source.list_objects_v2(Bucket=bucket)) == "AccessDenied"


@pytest.fixture(scope="module")
def tenant_user(s3_server: S3Server) -> Keys:
    """A user `partner` in tenant `partner` (RGW names it `partner$partner`)."""
    keys = Keys(f"PARTNER{uuid.uuid4().hex[:12].upper()}", uuid.uuid4().hex, "partner")
    assert s3_server.ceph_conf is not None
    subprocess.run(
        ["radosgw-admin", "-c", s3_server.ceph_conf, "user", "create", "--tenant", "partner",
         "--uid", "partner", "--display-name", "partner", "--access-key", keys.access_key,
         "--secret-key", keys.secret_key],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return keys


# The same for user `{uid}` of tenant `{tenant}` (RGW's `{tenant}${uid}`).
TENANT_PRINCIPALS = [
    ("arn:aws:iam::{tenant}:root", True),  # every user of the tenant
    ("arn:aws:iam::{tenant}:user/{uid}", True),
    ("arn:aws:iam:::user/{uid}", False),  # the empty tenant's `{uid}`, another user
]


@pytest.mark.own_rgw  # radosgw-admin makes the tenant's user
@pytest.mark.parametrize(("principal", "grants"), TENANT_PRINCIPALS)
def test_which_policy_principal_names_a_user_of_a_tenant(
    s3_server: S3Server, tenant_user: Keys, principal: str, grants: bool
) -> None:
    from botocore.handlers import validate_bucket_name

    bucket = shared_with(s3_server, principal.format(tenant="partner", uid="partner"))
    reader = s3_server.client(tenant_user)
    # A tenant's user names a bucket of the empty tenant `:bucket`, which boto3 would refuse.
    reader.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    if grants:
        assert reader.get_object(Bucket=f":{bucket}", Key="f")["Body"].read() == b"x"
    else:
        assert code_of(lambda: reader.get_object(Bucket=f":{bucket}", Key="f")) == "AccessDenied"
    assert reader.list_buckets()["Owner"]["ID"] == "partner$partner"


def test_the_identity_a_key_reports_is_the_principal_to_grant(s3_server: S3Server) -> None:
    """ListBuckets' Owner.ID is `uid` for the empty tenant: what `bucketpipe doctor` prints."""
    owner = s3_server.client(s3_server.source).list_buckets()["Owner"]
    assert owner["ID"] == s3_server.source.uid
