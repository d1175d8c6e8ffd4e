"""Who may read what: the reader key's and the source bucket's checks for `bucketpipe doctor`,
and the bucket-policy principal that names an RGW user (docs/allas.md)."""

from __future__ import annotations

from pathlib import Path

from bucketpipe.config.checks import Check
from bucketpipe.config.errors import BucketpipeError, ConfigError
from bucketpipe.lake.storage import LocalStore, ObjectStore, S3Store

__all__ = ["check_reader", "check_source", "first_line", "identity", "principal", "unless_hinted"]


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, at most 300 characters."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def unless_hinted(exc: BaseException, fix: str = "check the keys and the bucket") -> str:
    """`fix`, unless the error already says what to do (the store's errors carry a hint after
    `;`, configuration errors are one instruction)."""
    return "" if isinstance(exc, ConfigError) or "; " in str(exc) else fix


def check_reader(store: ObjectStore, readable: str, writable: str) -> Check:
    """The reader key (`store`) must read `readable`; whether it can also write `writable` is a
    warning: the dashboard and the SQL sandbox should hold a key that cannot change the lake."""
    who = identity(store)
    grant = f" (grant read to {principal(who)})" if who else ""
    as_who = f" ({who!r})" if who else ""
    try:
        store.get(readable)
    except BucketpipeError as exc:
        return Check(
            "reader",
            "fail",
            f"the reader key cannot read the lake: {first_line(exc)}",
            f"give it read access with a bucket policy{grant}, see docs/allas.md",
        )
    try:
        store.put(writable, b"{}")
    except BucketpipeError:
        return Check(
            "reader", "pass", f"the reader key{as_who} reads the lake and cannot write to it"
        )
    return Check(
        "reader",
        "warn",
        f"the reader key{as_who} reads the lake and can also write to it",
        "on Allas every key of a project can write, so give the dashboard a key of a second "
        "project that the lake's bucket policy lets read (docs/allas.md)",
    )


def check_source(store: ObjectStore) -> Check:
    """The source bucket (or directory) `ingest bucket` reads: listable with its keys."""
    if isinstance(store, LocalStore) and not Path(store.root).is_dir():
        return Check("source", "fail", f"{store.url} is not a directory", "fix BUCKETPIPE_SOURCE")
    try:
        first = next(iter(store.list_objects()), None)
    except BucketpipeError as exc:
        fix = (
            "check BUCKETPIPE_SOURCE and its keys; a bucket of another project must grant them "
            "read with a bucket policy (docs/allas.md)"
        )
        return Check("source", "fail", first_line(exc), unless_hinted(exc, fix))
    return Check(
        "source", "pass", f"{store.url} is readable ({'empty' if first is None else 'has files'})"
    )


def identity(store: ObjectStore) -> str | None:
    """Who the store's keys are on the server (ListBuckets' owner id), when the server says."""
    if not isinstance(store, S3Store):
        return None
    try:
        owner = store.client.list_buckets().get("Owner", {})
    except Exception:
        return None
    value = owner.get("ID")
    return str(value) if value else None


def principal(owner_id: str) -> str:
    """The bucket-policy principal that names exactly one RGW user, `tenant$uid` or `uid`
    (`arn:aws:iam::tenant:root` would grant every user of the tenant)."""
    tenant, _, uid = owner_id.rpartition("$")
    return f"arn:aws:iam::{tenant}:user/{uid}"
