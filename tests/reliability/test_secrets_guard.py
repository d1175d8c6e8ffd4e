"""The secrets guard finds a secret wherever a test could leak one: logs, output, error
messages, raw objects, manifests, log files, and objects in the test's bucket."""

from __future__ import annotations

import gzip
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bucketpipe.config.logs import register_secrets
from tests.reliability import secrets_guard
from tests.reliability.secrets_guard import (
    known_secrets,
    lake_roots,
    scan_lakes,
    scan_records,
    scan_report,
)
from tests.support.finnhub_server import PREMIUM_KEY
from tests.support.s3_servers import S3Server

S3_SECRET = "planted-s3-secret-0123456789"  # a leak the tests plant


@pytest.fixture
def planted() -> Iterator[Path]:
    """A directory for planted leaks, gone before the guard scans the test's own tmp_path."""
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def test_known_secrets_are_the_suite_credentials(s3_server: S3Server) -> None:
    assert {s3_server.writer.secret_key, s3_server.reader.secret_key, PREMIUM_KEY} <= (
        known_secrets()
    )


def test_a_secret_in_a_gzip_raw_object_or_a_manifest_is_found(planted: Path) -> None:
    tmp_path = planted
    lake = tmp_path / "lake"
    raw = lake / "raw" / "finnhub" / "dt=2026-11-20" / "r1.jsonl.gz"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(gzip.compress(f'{{"params": {{"token": "{PREMIUM_KEY}"}}}}\n'.encode()))
    manifest = lake / "_runs" / "ingest" / "r1.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"errors": ["nothing secret"]}')
    assert lake_roots(tmp_path) == [lake]
    found = scan_lakes({"tmp_path": tmp_path}, {PREMIUM_KEY, S3_SECRET})
    assert len(found) == 1 and "r1.jsonl.gz" in found[0]
    assert PREMIUM_KEY not in found[0]  # the report never repeats the secret itself
    manifest.write_text(f'{{"errors": ["denied for {S3_SECRET}"]}}')
    assert len(scan_lakes({"tmp_path": tmp_path}, {PREMIUM_KEY, S3_SECRET})) == 2


def test_a_secret_in_a_log_file_is_found_but_not_in_other_files(planted: Path) -> None:
    tmp_path = planted
    (tmp_path / "job.log").write_text(f"error: {S3_SECRET}\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "secret.env").write_text(f"AWS_SECRET_ACCESS_KEY={S3_SECRET}\n")
    found = scan_lakes({"tmp_path": tmp_path}, {S3_SECRET})
    assert len(found) == 1 and "job.log" in found[0]


def test_a_secret_in_the_test_bucket_is_found(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="lake/_runs/x.json", Body=PREMIUM_KEY.encode())
    found = scan_lakes({"s3_server": s3_server, "s3_bucket": s3_bucket}, {PREMIUM_KEY})
    assert len(found) == 1 and "_runs/x.json" in found[0]
    client.delete_object(Bucket=s3_bucket, Key="lake/_runs/x.json")


def test_a_secret_in_a_log_record_extra_is_found() -> None:
    record = logging.LogRecord("x", logging.WARNING, "x", 1, "call failed", None, None)
    record.url = f"https://api.example/quote?token={PREMIUM_KEY}"
    assert scan_records([record], {PREMIUM_KEY})
    # A record the test itself emits (to check masking, say) is not Bucketpipe's log.
    own = logging.LogRecord("x", logging.WARNING, __file__, 1, PREMIUM_KEY, None, None)
    assert not scan_records([own], {PREMIUM_KEY})


def test_a_secret_in_output_or_an_error_message_is_found() -> None:
    report = pytest.TestReport(
        nodeid="t",
        location=("t", 1, "t"),
        keywords={},
        outcome="failed",
        longrepr=f"AssertionError: bad key {PREMIUM_KEY}",
        when="call",
        sections=[("Captured stderr call", f"secret={S3_SECRET}")],
    )
    found = scan_report(report, {PREMIUM_KEY, S3_SECRET})
    assert len(found) == 2


def test_values_registered_for_masking_count_as_secrets() -> None:
    value = "registered-during-this-test-4d2c"
    register_secrets([value])
    assert value in secrets_guard.registered_secrets()
