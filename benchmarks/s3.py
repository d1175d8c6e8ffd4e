"""The bench's S3: moto's HTTP server on loopback, behind the counting proxy.

moto is a development dependency (`pip install -e '.[dev]'`); without it the bench stops
with a one-line message instead of measuring only half of the design.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.proxy import CountingProxy
from bucketpipe.config.errors import ConfigError
from bucketpipe.config.settings import Settings
from bucketpipe.lake.storage import LocalStore, ObjectStore, S3Target, s3_client

KEY_ID = "bench-access-key"
SECRET = "bench-secret-key-0123456789"  # noqa: S105 - a fixed credential of a loopback server
REGION = "us-east-1"
MISSING_MOTO = (
    "the S3 part of the bench needs moto's server: pip install -e '.[dev]' "
    "(or pip install 'moto[server]')"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_moto() -> None:
    """ConfigError (exit 2, one line) when moto's server is not installed."""
    try:
        import flask  # noqa: F401  # moto[server] needs it
        from moto.server import ThreadedMotoServer  # noqa: F401
    except ImportError:
        raise ConfigError(MISSING_MOTO) from None


@dataclass
class BenchS3:
    """moto on a free port, and a counting proxy in front of it."""

    server: Any
    endpoint: str
    proxy: CountingProxy

    @classmethod
    def start(cls) -> BenchS3:
        require_moto()
        from moto.server import ThreadedMotoServer

        # moto's web server logs every request at INFO: the proxy counts them instead.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        return cls(server, endpoint, CountingProxy(endpoint).start())

    def stop(self) -> None:
        self.proxy.stop()
        self.server.stop()

    def client(self) -> Any:
        """A boto3 client talking to moto directly (set-up traffic is not counted)."""
        return s3_client(self.target("unused"))

    def target(self, bucket: str, *, counted: bool = False) -> S3Target:
        return S3Target(
            bucket=bucket,
            prefix="lake",
            endpoint_url=self.proxy.url if counted else self.endpoint,
            region=REGION,
            access_key_id=KEY_ID,
            secret_access_key=SECRET,
        )

    def settings(self, base: Settings, bucket: str) -> Settings:
        """`base` pointed at `s3://<bucket>/lake` through the counting proxy."""
        from pydantic import SecretStr

        return base.model_copy(
            update={
                "lake": f"s3://{bucket}/lake",
                "aws_endpoint_url": self.proxy.url,
                "aws_access_key_id": SecretStr(KEY_ID),
                "aws_secret_access_key": SecretStr(SECRET),
                "aws_region": REGION,
                "reader_access_key_id": None,
                "reader_secret_access_key": None,
            }
        )


def mirror(local: LocalStore, s3: BenchS3, bucket: str, *, skip: tuple[str, ...] = ()) -> int:
    """Copy a local lake into a new bucket, keys unchanged (the lake is relocatable: snapshot
    keys are relative to the lake root). Areas in `skip` are left out. Objects copied."""
    client = s3.client()
    client.create_bucket(Bucket=bucket)
    copied = 0
    for info in local.list_objects(""):
        if info.key.split("/", 1)[0] in skip:
            continue
        path: Path = local.root / info.key
        client.upload_file(str(path), bucket, f"lake/{info.key}")
        copied += 1
    return copied


def count_objects(store: ObjectStore, prefix: str = "") -> int:
    return sum(1 for _ in store.list_objects(prefix))
