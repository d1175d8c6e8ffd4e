"""A guard that fails any test whose logs, output, error message or lake holds a secret.

Secrets are the test credentials the suite uses (the fake Finnhub keys, the S3 server's secret
keys) plus
every value Bucketpipe registered for masking while the test ran (`logs.register_secrets`, which
`Context.from_settings` feeds with the API key, S3 secrets, Redis and dashboard passwords).

After each test it scans:
- the test's report: its error message and traceback, captured stdout/stderr, and the log
  records Bucketpipe emitted during the test (message and `extra=` fields);
- the test's lakes and logs: every file of each lake directory under its `tmp_path` (a folder
  holding `_runs`, `_snapshots` or `raw`; gzip objects decompressed), every `*.log` file under
  `tmp_path`, and every object of the S3 bucket it used (`s3_bucket`).

`tests/conftest.py` imports the fixture and the hook, so it guards every test of the suite.
Importing them into another conftest as well is harmless (each test is checked once).
"""

from __future__ import annotations

import functools
import gzip
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.logging import caplog_records_key

from bucketpipe.config import logs
from tests.support.s3_servers import ACTIVE, S3Server

__all__ = ["_secrets_guard", "pytest_runtest_makereport"]

MIN_LENGTH = 8
TESTS = Path(__file__).resolve().parents[1]
LAKE_AREAS = frozenset({"_runs", "_snapshots", "raw"})
MAX_FILE_BYTES = 64 * 1024 * 1024
_REGISTERED = pytest.StashKey[frozenset[str]]()
_CHECKED = pytest.StashKey[set[str]]()


def known_secrets() -> set[str]:
    """The credentials of the test suite: the fake Finnhub keys, the stand-in S3 keys (also
    planted where no S3 server runs, e.g. a writer key in a sandbox test's environment) and the
    S3 server's secrets."""
    from tests.support.finnhub_server import FREE_KEY, PREMIUM_KEY
    from tests.support.s3_servers import MOTO_KEYS, active_secrets

    return {FREE_KEY, PREMIUM_KEY, *(k.secret_key for k in MOTO_KEYS.values()), *active_secrets()}


def registered_secrets() -> frozenset[str]:
    return frozenset(logs._secrets)


def secrets_for(item: pytest.Item) -> set[str]:
    before = item.stash.get(_REGISTERED, frozenset())
    found = known_secrets() | (registered_secrets() - before)
    return {s for s in found if len(s) >= MIN_LENGTH}


def find_in_text(text: str, secrets: Iterable[str]) -> list[str]:
    return sorted(s for s in secrets if s in text)


def _decoded(path: Path, data: bytes) -> bytes:
    if path.name.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return data
    return data


def lake_roots(base: Path, depth: int = 3) -> list[Path]:
    """Directories under `base` that look like a lake (they hold one of its areas)."""
    roots: list[Path] = []
    level = [base]
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in level:
            try:
                children = [c for c in folder.iterdir() if c.is_dir()]
            except OSError:
                continue
            if any(c.name in LAKE_AREAS for c in children):
                roots.append(folder)
            else:
                below += children
        level = below
    return roots


def _read(path: Path) -> bytes | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _walk(root: Path) -> list[Path]:
    """Every file under `root`, sorted. A folder removed during the walk (a SQL worker's
    scratch folder, say, as its pool shuts down) is passed over: `os.walk` ignores the error
    where `Path.rglob` raises it."""
    found = [Path(folder, name) for folder, _, names in os.walk(root) for name in names]
    return sorted(found)


def lake_files(base: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file of the lakes under `base` and of its `*.log` files."""
    if not base.is_dir():
        return
    paths = [p for root in lake_roots(base) for p in _walk(root)]
    paths += [p for p in _walk(base) if p.suffix == ".log"]
    for path in paths:
        data = _read(path)
        if data is not None:
            yield str(path), _decoded(path, data)


def bucket_objects(server: S3Server, bucket: str) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of every object of a bucket of the S3 server."""
    client = server.client()
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for page in pages:
            for obj in page.get("Contents", []):
                if int(obj["Size"]) > MAX_FILE_BYTES:
                    continue
                body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                yield f"s3://{bucket}/{obj['Key']}", _decoded(Path(obj["Key"]), body)
    except Exception:  # the bucket may be gone, or the server stopped: nothing left to leak
        logging.getLogger(__name__).debug("bucket not scanned", exc_info=True)


def scan_lakes(funcargs: dict[str, Any], secrets: set[str]) -> list[str]:
    """Where a secret sits in the test's lake directory or bucket."""
    found: list[str] = []
    needles = [s.encode() for s in secrets]
    sources: list[Iterator[tuple[str, bytes]]] = []
    tmp_path = funcargs.get("tmp_path")
    if isinstance(tmp_path, Path):
        sources.append(lake_files(tmp_path))
    bucket, server = funcargs.get("s3_bucket"), funcargs.get("s3_server")
    if isinstance(bucket, str):
        server = server if isinstance(server, S3Server) else next(iter(ACTIVE), None)
        if server is not None:
            sources.append(bucket_objects(server, bucket))
    for source in sources:
        for name, data in source:
            found += [f"{name} holds {_show(n.decode())}" for n in needles if n in data]
    return found


def scan_report(report: pytest.TestReport, secrets: set[str]) -> list[str]:
    """Where a secret sits in the error message, captured output or captured logs."""
    found = []
    parts = {
        "the error message": str(report.longrepr) if report.longrepr else "",
        "stdout": report.capstdout,
        "stderr": report.capstderr,
    }
    for name, text in parts.items():
        found += [f"{name} holds {_show(s)}" for s in find_in_text(text, secrets)]
    return found


def scan_records(records: Iterable[logging.LogRecord], secrets: set[str]) -> list[str]:
    """Secrets in Bucketpipe's log records, message and `extra=` fields alike (records that
    test code itself emits, e.g. to check masking, are not Bucketpipe's logs)."""
    found = []
    for record in records:
        if _in_tests(record.pathname):
            continue
        text = f"{record.getMessage()} {vars(record)}"
        found += [f"a log record holds {_show(s)}" for s in find_in_text(text, secrets)]
    return found


@functools.lru_cache(maxsize=4096)
def _in_tests(pathname: str) -> bool:
    return Path(pathname).resolve().is_relative_to(TESTS)


def _show(secret: str) -> str:
    return f"the secret {secret[:3]}...{secret[-2:]} ({len(secret)} chars)"


@pytest.fixture(autouse=True)
def _secrets_guard(request: pytest.FixtureRequest) -> None:
    """Remember what was registered before the test; the report hook does the scanning."""
    request.node.stash[_REGISTERED] = registered_secrets()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    checked = item.stash.setdefault(_CHECKED, set())
    if report.when in checked or report.skipped:
        return
    checked.add(report.when)
    if report.when == "setup":
        return
    secrets = secrets_for(item)
    if not secrets:
        return
    found = scan_report(report, secrets)
    records = item.stash.get(caplog_records_key, {}).get(report.when, [])
    found += scan_records(records, secrets)
    if report.when == "teardown":
        found += scan_lakes(getattr(item, "funcargs", {}), secrets)
    if found:
        report.outcome = "failed"
        detail = "a secret leaked: " + "; ".join(sorted(set(found))[:10])
        report.longrepr = f"{report.longrepr}\n{detail}" if report.longrepr else detail
