"""Object storage: the S3 implementation (Allas, MinIO, AWS, moto), and the store a URL names.

The interface every store implements is `objects.ObjectStore`; a directory is `local.LocalStore`.
Both are importable from here, the lake's storage API.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from bucketpipe.config.errors import (
    ConfigError,
    ObjectNotFound,
    PreconditionFailed,
    StorageError,
    StorageUnavailable,
)
from bucketpipe.config.values import redact_url
from bucketpipe.lake.local import LocalStore
from bucketpipe.lake.objects import ObjectInfo, ObjectStore, join_key
from bucketpipe.lake.tls import EndpointTlsError, fail_fast_on_tls, tls_problem

log = logging.getLogger(__name__)

__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "S3Store",
    "S3Target",
    "open_store",
]


@dataclass(frozen=True)
class S3Target:
    """How to reach one S3 location: bucket, prefix, endpoint and credentials."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    ca_bundle: str | None = None  # a private CA's PEM file (AWS_CA_BUNDLE); None: system CAs

    @classmethod
    def parse(cls, url: str, **kwargs: Any) -> S3Target:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"{url!r} is not an s3://bucket/prefix URL")
        return cls(bucket=parts.netloc, prefix=parts.path.strip("/"), **kwargs)


def s3_client(target: S3Target) -> Any:
    """A boto3 client tuned for S3-compatible stores (Allas/Ceph, MinIO, AWS, moto)."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=target.region,
        s3={"addressing_style": "path"},
        retries={"mode": "adaptive", "max_attempts": 8},
        connect_timeout=5,
        read_timeout=60,
        # Ceph RGW (Allas) answers 411 to the streaming CRC checksums newer botocore sends by
        # default over HTTPS: checksums only where S3 requires them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=16,
    )
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=target.endpoint_url,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        # Explicit, so boto3 never reads AWS_CA_BUNDLE itself: settings are the one reader.
        verify=target.ca_bundle or True,
        config=config,
    )
    client.meta.events.register_first("needs-retry.s3", fail_fast_on_tls)
    return client


class S3Store:
    """A bucket (and optional prefix) on any S3-compatible endpoint."""

    def __init__(
        self, target: S3Target, client: Any | None = None, conditional_writes: bool = True
    ) -> None:
        self.target = target
        self.bucket = target.bucket
        self.prefix = target.prefix
        self.client = client or s3_client(target)
        self.conditional_writes = conditional_writes

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return join_key(self.prefix, key)

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
            SSLError,
        )

        try:
            return fn(**kwargs)
        except NoCredentialsError:
            raise ConfigError(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(for Allas: allas-conf --mode S3)"
            ) from None
        except ClientError as exc:
            raise _client_error(exc, what, self.url) from None
        except SSLError as exc:
            # Retrying cannot help: the endpoint or the CA setting is wrong.
            raise EndpointTlsError(
                tls_problem(str(exc)) or f"TLS with the S3 endpoint failed ({what})",
                endpoint=self.target.endpoint_url,
            ) from None
        except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as exc:
            raise StorageUnavailable(
                f"cannot reach the object store at {redact_url(self.target.endpoint_url or 'AWS')} "
                f"({what}): {exc.__class__.__name__}"
            ) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"object store error during {what}: {exc}") from None

    def get(self, key: str) -> bytes:
        resp = self._call(
            f"GET {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        body: bytes = resp["Body"].read()
        return body

    def open(self, key: str) -> IO[bytes]:
        resp = self._call(
            f"GET {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        stream: IO[bytes] = resp["Body"]
        return stream

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self._call(
            f"PUT {key}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            **extra,
        )

    def put_new(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        if not self.conditional_writes:
            if self.head(key) is not None:
                return False
            self.put(key, data, content_type)
            return True
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self._call(
                f"PUT {key}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                IfNoneMatch="*",
                **extra,
            )
        except PreconditionFailed:
            # The key exists. A retry after a lost answer finds our own first attempt: the
            # same bytes.
            return self._holds(key, data)
        return True

    def _holds(self, key: str, data: bytes) -> bool:
        try:
            return self.get(key) == data
        except ObjectNotFound:
            return False

    def upload(self, key: str, path: Path, content_type: str | None = None) -> None:
        from boto3.s3.transfer import TransferConfig

        extra = {"ContentType": content_type} if content_type else None
        config = TransferConfig(multipart_threshold=64 * 1024**2, multipart_chunksize=64 * 1024**2)
        self._call(
            f"PUT {key}",
            self.client.upload_file,
            Filename=str(path),
            Bucket=self.bucket,
            Key=self._key(key),
            ExtraArgs=extra,
            Config=config,
        )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            resp = self._call(
                f"HEAD {key}", self.client.head_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ObjectNotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            etag=str(resp["ETag"]).strip('"'),
            last_modified=resp["LastModified"],
        )

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=full))
        while True:
            page = self._call(f"LIST {prefix}", _next_page, iterator=pages)
            if page is None:
                return
            for obj in page.get("Contents", []):
                yield ObjectInfo(
                    key=self._rel(obj["Key"]),
                    size=int(obj["Size"]),
                    etag=str(obj.get("ETag", "")).strip('"'),
                    last_modified=obj["LastModified"],
                )

    def list_dirs(self, prefix: str) -> list[str]:
        resp = self._call(
            f"LIST {prefix}",
            self.client.list_objects_v2,
            Bucket=self.bucket,
            Prefix=self._key(prefix),
            Delimiter="/",
        )
        dirs = [self._rel(p["Prefix"]) for p in resp.get("CommonPrefixes", [])]
        return sorted(dirs)

    def delete(self, keys: Iterable[str]) -> int:
        batch: list[str] = []
        count = 0
        for key in keys:
            batch.append(key)
            if len(batch) == 1000:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, keys: list[str]) -> int:
        resp = self._call(
            "DELETE",
            self.client.delete_objects,
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": self._key(k)} for k in keys], "Quiet": True},
        )
        errors = resp.get("Errors", [])
        if errors:
            first = errors[0]
            raise StorageError(
                f"could not delete {len(errors)} objects, e.g. {first.get('Key')}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
        return len(keys)

    def duckdb_path(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def _next_page(iterator: Iterator[dict[str, Any]]) -> dict[str, Any] | None:
    return next(iterator, None)


# A conditional write (`If-None-Match: *`) that found the key taken: 412 PreconditionFailed,
# or 409 ConditionalRequestConflict when another conditional write to the key is in flight.
PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})

_HINTS = {
    "NoSuchBucket": "create it first (e.g. `s3cmd mb` / `aws s3 mb`) or fix BUCKETPIPE_LAKE",
    "AccessDenied": "check the credentials' permissions on this bucket",
    "InvalidAccessKeyId": "AWS_ACCESS_KEY_ID is not known to this endpoint",
    "SignatureDoesNotMatch": "AWS_SECRET_ACCESS_KEY does not match the access key",
    "PermanentRedirect": "the bucket is in another region: set AWS_REGION or AWS_ENDPOINT_URL",
}


def _client_error(exc: Any, what: str, url: str) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in {"NoSuchKey", "404", "NotFound"}:
        return ObjectNotFound(f"{what}: no such object in {url}")
    if status == 412 or code in PRECONDITION_CODES:
        return PreconditionFailed(f"{what}: the object already exists in {url}")
    if status >= 500 or code in {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
    }:
        return StorageUnavailable(f"{what} failed on {url}: {code} (HTTP {status}) after retries")
    hint = _HINTS.get(code, "")
    message = f"{what} refused by {url}: {code}"
    if hint:
        message = f"{message}; {hint}"
    return StorageError(message)


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    conditional_writes: bool = True,
    ca_bundle: str | None = None,
) -> ObjectStore:
    """The store a URL names: `s3://bucket/prefix` or a local directory path."""
    if url.startswith("s3://"):
        target = S3Target.parse(
            url,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            ca_bundle=ca_bundle,
        )
        return S3Store(target, conditional_writes=conditional_writes)
    if "://" in url:
        raise ConfigError(f"unsupported lake URL {url!r}: use s3://bucket/prefix or a directory")
    return LocalStore(url)


def scratch_dir(base: str) -> Path:
    """A private scratch directory under `base` (the temp emptyDir in Kubernetes)."""
    root = Path(base)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=root))
