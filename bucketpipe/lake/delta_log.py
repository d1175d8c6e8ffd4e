"""Where each dataset's Delta Lake log lives, how delta-rs reaches it, and what it references.

A dataset's table root is its own folder, `clean/<dataset>/`: delta-rs resolves the paths of
add actions relative to the root (absolute URIs fail there), and the files already live in it.
The log is `clean/<dataset>/_delta_log/`. Vacuum asks here which files a Delta version that a
reader may still hold references.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from bucketpipe.config.errors import ObjectNotFound
from bucketpipe.lake.layout import CLEAN, check_name
from bucketpipe.lake.storage import ObjectInfo, ObjectStore, S3Store
from bucketpipe.lake.tls import trust_ca_in_native_clients

log = logging.getLogger(__name__)

LOG_DIR = "_delta_log"
# The application id of Bucketpipe's transactions (`txn`): its version is the snapshot mirrored.
APP_ID = "bucketpipe"
_COMMIT = re.compile(r"/(\d{20})\.json$")
# Every file of a version: its commit, checksum, and (single, multi-part or v2) checkpoint.
_VERSIONED = re.compile(r"/(\d{20})\.(json|crc|checkpoint\.[^/]+)$")
_CHECKPOINT = re.compile(r"/(\d{20})\.checkpoint\.[^/]+$")
# A commit delta-rs was writing when it was killed (local directories only).
_TEMP = re.compile(r"/_commit_[^/]*\.tmp$")


def table_prefix(dataset: str) -> str:
    """`clean/<dataset>/`: the table's root, relative to the lake."""
    return f"{CLEAN}/{check_name(dataset)}/"


def log_prefix(dataset: str) -> str:
    return f"{table_prefix(dataset)}{LOG_DIR}/"


def is_log_key(key: str) -> bool:
    """Whether a lake key is part of a Delta log (vacuum never deletes those)."""
    return f"/{LOG_DIR}/" in key


def table_uri(store: ObjectStore, dataset: str) -> str:
    """The table's URI as delta-rs and readers take it: `s3://...` or an absolute directory."""
    return store.duckdb_path(table_prefix(dataset)).rstrip("/")


def reader_options(store: ObjectStore) -> dict[str, str]:
    """delta-rs (and Polars) storage options: endpoint, path style, plain HTTP when the endpoint
    says so, and the store's credentials."""
    if not isinstance(store, S3Store):
        return {}
    target = store.target
    options = {"AWS_REGION": target.region, "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false"}
    if target.endpoint_url:
        options["AWS_ENDPOINT_URL"] = target.endpoint_url
        if target.endpoint_url.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    if target.ca_bundle:
        trust_ca_in_native_clients(target.ca_bundle)
    if target.access_key_id and target.secret_access_key:
        options["AWS_ACCESS_KEY_ID"] = target.access_key_id
        options["AWS_SECRET_ACCESS_KEY"] = target.secret_access_key
    return options


def writer_options(store: ObjectStore) -> dict[str, str]:
    """Reader options, plus how commits stay safe: delta-rs creates each commit file with
    `If-None-Match: *` (a single-part PUT, which RGW honours). A store configured without
    conditional writes falls back to delta-rs's check-then-copy; the writer lock keeps that
    safe, as it does our own commits there."""
    options = reader_options(store)
    if isinstance(store, S3Store) and not store.conditional_writes:
        options["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    return options


def commit_version(key: str) -> int | None:
    """The version of a commit file (`.../_delta_log/00000000000000000012.json`)."""
    match = _COMMIT.search(key)
    return int(match[1]) if match else None


def commit_keys(store: ObjectStore, dataset: str) -> list[tuple[int, str]]:
    """(version, key) of every commit file still in the log, oldest first (one LIST)."""
    found = [
        (version, info.key)
        for info in store.list_objects(log_prefix(dataset))
        if (version := commit_version(info.key)) is not None
    ]
    return sorted(found)


def actions(store: ObjectStore, key: str) -> Iterator[dict[str, Any]]:
    """The actions of one commit file (none if it is gone: log cleanup)."""
    try:
        body = store.get(key)
    except ObjectNotFound:
        return
    for line in body.splitlines():
        if line.strip():
            yield json.loads(line)


def mirrored_version(commit: Iterator[dict[str, Any]]) -> int | None:
    """The snapshot version a commit's `txn` action names, if it is one of ours."""
    for action in commit:
        txn = action.get("txn")
        if isinstance(txn, dict) and txn.get("appId") == APP_ID:
            return int(txn["version"])
    return None


def head_snapshot_version(store: ObjectStore, dataset: str) -> int | None:
    """The snapshot version the newest commit mirrored, or None: no log, or a newest commit
    that is not one of ours (a schema change interrupted before its data commit, say).

    One LIST and one GET: cheap enough to check every dataset at every writing run.
    """
    commits = commit_keys(store, dataset)
    return mirrored_version(actions(store, commits[-1][1])) if commits else None


def referenced(
    store: ObjectStore, dataset: str, *, since: datetime, snapshot_version: int
) -> set[str] | None:
    """Lake keys of data files a Delta reader may still read: the newest version's files (when
    the log lags the snapshot; else they are the snapshot's own), and those a commit removed
    at or after `since` (a version from within the grace period holds them).

    None when the log exists but cannot be read: the caller then deletes nothing of the table.
    """
    commits = commit_keys(store, dataset)
    if not commits:
        return set()
    prefix = table_prefix(dataset)
    cutoff = since.timestamp() * 1000
    keys: set[str] = set()
    newest: int | None = None
    try:
        for index, (_, key) in enumerate(commits):
            loaded = list(actions(store, key))
            if index == len(commits) - 1:
                newest = mirrored_version(iter(loaded))
            for action in loaded:
                remove = action.get("remove")
                if isinstance(remove, dict) and remove.get("deletionTimestamp", 0) >= cutoff:
                    keys.add(prefix + unquote(str(remove["path"])))
        if newest != snapshot_version:
            keys |= live_keys(store, dataset)
    except Exception as exc:  # an unreadable log must not let vacuum delete what it names
        log.warning(
            "Delta log unreadable; its files are kept",
            extra={"dataset": dataset, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        return None
    return keys


def live_keys(store: ObjectStore, dataset: str) -> set[str]:
    """Lake keys of the files in the table's newest version (through delta-rs)."""
    from deltalake import DeltaTable

    table = DeltaTable(table_uri(store, dataset), storage_options=reader_options(store))
    paths = table.get_add_actions(flatten=True).column("path").to_pylist()
    prefix = table_prefix(dataset)
    return {prefix + unquote(str(p)) for p in paths}


def has_log(store: ObjectStore, dataset: str) -> bool:
    """Whether the dataset has a Delta table yet (one LIST)."""
    return bool(commit_keys(store, dataset))


def checkpoint_version(key: str) -> int | None:
    match = _CHECKPOINT.search(key)
    return int(match[1]) if match else None


def expired_log_keys(objects: Iterable[ObjectInfo], before: datetime) -> list[str]:
    """The log files no version worth keeping needs: every version written at or after
    `before` stays readable (its commit, and the newest checkpoint at or below the oldest of
    them, from which readers replay), and so does the newest version. Files of older versions
    go, as do commits left half-written before `before`. `_last_checkpoint` always stays.
    """
    listed = list(objects)
    commits = {v: info for info in listed if (v := commit_version(info.key)) is not None}
    if not commits:
        return []
    recent = [v for v, info in commits.items() if info.last_modified >= before]
    keep_from = min(recent) if recent else max(commits)
    floor = max(
        (
            v
            for info in listed
            if (v := checkpoint_version(info.key)) is not None and v <= keep_from
        ),
        default=None,
    )
    out = [info.key for info in listed if _TEMP.search(info.key) and info.last_modified < before]
    if floor is not None:
        for info in listed:
            match = _VERSIONED.search(info.key)
            if match and int(match[1]) < floor:
                out.append(info.key)
    return sorted(out)


def log_objects(store: ObjectStore, dataset: str) -> list[ObjectInfo]:
    return list(store.list_objects(log_prefix(dataset)))
