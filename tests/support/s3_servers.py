"""The S3 servers the tests run against, chosen by one switch.

`BUCKETPIPE_TEST_S3` (or pytest's `--s3`) is `moto` (the default: moto's HTTP server, which
accepts any key and enforces no policy), `rgw` (a real Ceph RGW, the server under CSC Allas,
started with local/rgw/rgw.sh) or `rgw-https` (the same over TLS with a private CA). With
`BUCKETPIPE_TEST_RGW` naming a JSON file that describes an RGW already running (set up some
other way), the `rgw` kinds use that one instead. Every S3 test gets the server as an
`S3Server`: its endpoint, the keys of its users and, over HTTPS, the CA bundle, so one test body
runs unchanged on all of them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("moto", "rgw", "rgw-https")
RGW_SCRIPT = Path(__file__).resolve().parents[2] / "local" / "rgw" / "rgw.sh"
REGION = "us-east-1"


@dataclass(frozen=True)
class Keys:
    """One S3 user's key pair (`uid` is the user's name on the server)."""

    access_key: str
    secret_key: str = field(repr=False)  # never in a failing test's report
    uid: str = ""


# moto takes any key: these stand for the four users a real server has.
MOTO_KEYS = {
    name: Keys(f"bucketpipe-test-{name}", f"bucketpipe-test-{name}-secret-0123456789", name)
    for name in ("writer", "reader", "source", "owner")
}


@dataclass(frozen=True)
class S3Server:
    """An S3 endpoint and its users: `writer` owns the test buckets, `reader` reads them only,
    `owner` owns shared source buckets, which `source` reads through a bucket policy."""

    kind: str
    endpoint: str
    writer: Keys
    reader: Keys
    source: Keys
    owner: Keys
    ca_bundle: str | None = None
    ceph_conf: str | None = None  # RGW's ceph.conf, for radosgw-admin in tests

    @property
    def is_rgw(self) -> bool:
        return self.kind != "moto"

    @property
    def secrets(self) -> set[str]:
        return {k.secret_key for k in (self.writer, self.reader, self.source, self.owner)}

    def client(self, keys: Keys | None = None, **config: Any) -> Any:
        """A boto3 client as one of the users (the writer by default)."""
        return client_for(self.endpoint, keys or self.writer, self.ca_bundle, **config)

    def create_bucket(self, prefix: str = "lake") -> str:
        """A new, empty bucket the writer owns (and the reader may read)."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def create_shared_bucket(self, prefix: str = "source") -> str:
        """A bucket of another account (`owner`) that `source` may list and read, as another
        CSC project shares a bucket on Allas."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        owner = self.client(self.owner)
        owner.create_bucket(Bucket=name)
        owner.put_bucket_policy(Bucket=name, Policy=json.dumps(read_policy(name, self.source)))
        return name

    def settings(self, bucket: str, prefix: str = "lake") -> dict[str, Any]:
        """The settings of a lake at `s3://bucket/prefix` on this server, as the writer."""
        return {
            "lake": f"s3://{bucket}/{prefix}",
            "aws_endpoint_url": self.endpoint,
            "aws_access_key_id": self.writer.access_key,
            "aws_secret_access_key": self.writer.secret_key,
            "aws_region": REGION,
            "aws_ca_bundle": self.ca_bundle,
        }

    def env(self, bucket: str | None = None, prefix: str = "lake") -> dict[str, str]:
        """The same as environment variables, for a `bucketpipe` subprocess."""
        values = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.writer.access_key,
            "AWS_SECRET_ACCESS_KEY": self.writer.secret_key,
            "AWS_REGION": REGION,
        }
        if bucket:
            values["BUCKETPIPE_LAKE"] = f"s3://{bucket}/{prefix}"
        if self.ca_bundle:
            values["AWS_CA_BUNDLE"] = self.ca_bundle
        return values


# The server of this test process, while it serves: the secrets guard scans its buckets and
# looks for its users' secrets in every test's output.
ACTIVE: list[S3Server] = []


@contextlib.contextmanager
def serving(server: S3Server) -> Iterator[S3Server]:
    ACTIVE.append(server)
    try:
        yield server
    finally:
        ACTIVE.remove(server)


def active_secrets() -> set[str]:
    return {secret for server in ACTIVE for secret in server.secrets}


def client_for(endpoint: str, keys: Keys, ca_bundle: str | None = None, **config: Any) -> Any:
    """A plain boto3 client for test set-up: path-style, checksums only where S3 requires them
    (RGW answers 411 to boto3's default streaming checksums over HTTPS), few retries."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "s3": {"addressing_style": "path"},
        "retries": {"mode": "standard", "max_attempts": 3},
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        **config,
    }
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name=REGION,
        verify=ca_bundle or True,
        config=Config(**options),
    )


def client_from_settings(values: dict[str, Any]) -> Any:
    """The writer's client of a lake described by settings values (a harness keeps only those)."""

    def plain(value: Any) -> str:
        return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)

    keys = Keys(plain(values["aws_access_key_id"]), plain(values["aws_secret_access_key"]), "")
    return client_for(str(values["aws_endpoint_url"]), keys, values.get("aws_ca_bundle"))


def read_policy(bucket: str, reader: Keys) -> dict[str, Any]:
    """List and read for one user of the empty tenant. RGW matches a user of the empty tenant
    only as `arn:aws:iam:::user/<uid>` (tests/integration/test_s3_access.py proves it)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{reader.uid}"]},
                "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def server_from_state(state: dict[str, Any], ceph_conf: str | None = None) -> S3Server:
    """The server `rgw.sh env --json` describes (or a file of the same shape for an RGW set up
    some other way): `endpoint`, `ca_bundle` and the four `users`' `access_key`, `secret_key`
    and `uid`."""
    names = ("writer", "reader", "source", "owner")
    users = {
        name: Keys(user["access_key"], user["secret_key"], user["uid"])
        for name, user in state["users"].items()
        if name in names
    }
    missing = set(names) - set(users)
    if missing:
        raise ValueError(f"the RGW description has no user {', '.join(sorted(missing))}")
    endpoint = str(state["endpoint"]).rstrip("/")
    return S3Server(
        kind="rgw-https" if endpoint.startswith("https://") else "rgw",
        endpoint=endpoint,
        ca_bundle=state.get("ca_bundle"),
        ceph_conf=ceph_conf,
        **users,
    )


def load_server(path: Path) -> S3Server:
    """An RGW that is already running, described by the JSON file `path` (BUCKETPIPE_TEST_RGW)."""
    return server_from_state(json.loads(path.read_text()))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RgwCluster:
    """A throwaway RGW started by local/rgw/rgw.sh in `directory`, stopped by it too."""

    def __init__(self, directory: Path, *, https: bool) -> None:
        self.directory = directory
        self.https = https

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RGW_SCRIPT), *args, "--dir", str(self.directory)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> S3Server:
        # An explicit free port: two test workers starting at once must not both take 7480.
        args = ["start", "--port", str(free_port()), *(["--https"] if self.https else [])]
        started = self.run(*args)
        if started.returncode != 0:
            raise RuntimeError(f"rgw.sh start failed: {started.stderr.strip()[-2000:]}")
        return self.server()

    def state(self) -> dict[str, Any]:
        shown = self.run("env", "--json", timeout=30)
        if shown.returncode != 0:
            raise RuntimeError(f"rgw.sh env failed: {shown.stderr.strip()}")
        state: dict[str, Any] = json.loads(shown.stdout)
        return state

    def server(self) -> S3Server:
        return server_from_state(self.state(), ceph_conf=str(self.directory / "ceph.conf"))

    def stop(self) -> None:
        self.run("stop", timeout=60)
