"""The demo pipeline from the command line on the switch's S3 server (on Ceph RGW over HTTPS it
trusts the private CA through AWS_CA_BUNDLE), and a certificate nobody trusts is a configuration
error (as is a certificate for another host): exit 2 and one line, from boto3 and from DuckDB
alike."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from bucketpipe.jobs.common import EXIT_CONFIG, guarded
from bucketpipe.lake.duck import connect, quote_literal, tls_config_error
from bucketpipe.lake.storage import S3Store, open_store
from bucketpipe.lake.tls import EndpointTlsError
from tests.conftest import SettingsFactory
from tests.support.cli import run_cli
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, timeout=300)


def cli_env(server: S3Server, bucket: str, tmp_path: Path) -> dict[str, str]:
    return {
        **server.env(bucket),
        "BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"),
        "BUCKETPIPE_DEMO_DAYS": "5",
        "BUCKETPIPE_LOG_LEVEL": "WARNING",
        "HOME": str(tmp_path),
    }


def test_demo_pipeline_compact_status_and_sql(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    env = cli_env(s3_server, s3_bucket, tmp_path)
    for args in (["ingest", "demo"], ["clean"], ["compact"]):
        done = run(args, env)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    status = run(["status", "--json"], env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    rows = {d["dataset"]: d["rows"] for d in report["datasets"]}
    assert rows["quotes"] > 0 and rows["daily_bars"] > 0
    states = {j["job"]: j["state"] for j in report["jobs"]}
    assert states["clean"] == states["compact"] == "succeeded"
    sql = run(["sql", "SELECT count(DISTINCT symbol) AS n FROM quotes", "--format", "json"], env)
    assert sql.returncode == 0, sql.stderr
    assert json.loads(sql.stdout) == [{"n": 7}]
    everything = status.stdout + status.stderr + sql.stdout + sql.stderr
    assert not any(secret in everything for secret in s3_server.secrets)


UNTRUSTED = "the S3 endpoint's TLS certificate is not trusted: set AWS_CA_BUNDLE"
NOT_PEM = "the CA file in AWS_CA_BUNDLE cannot be used: it must be a readable PEM file"


@pytest.mark.https
@pytest.mark.parametrize(
    ("args", "bundle"),
    [
        (["ingest", "demo"], None),
        (["clean"], None),
        (["compact"], None),
        (["status"], None),
        (["sql", "SELECT 1"], None),
        (["ingest", "demo"], "not-pem"),
    ],
)
def test_a_certificate_problem_is_one_line_and_exit_2(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, args: list[str], bundle: str | None
) -> None:
    """No CA for the endpoint's private CA, or a CA file that is no PEM: the command stops with
    the configuration error's exit code and one line saying what to set, nothing else (the
    run's end is not recorded in a lake that cannot be reached)."""
    env = cli_env(s3_server, s3_bucket, tmp_path)
    del env["AWS_CA_BUNDLE"]
    if bundle == "not-pem":
        (tmp_path / "ca.pem").write_text("not a certificate\n")
        env["AWS_CA_BUNDLE"] = str(tmp_path / "ca.pem")
    done = run(args, env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    message = json.loads(lines[0])["message"]
    assert message.startswith(NOT_PEM if bundle else UNTRUSTED)
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


WRONG_HOST = "the S3 endpoint's TLS certificate does not name the host in AWS_ENDPOINT_URL"


@pytest.mark.https
@pytest.mark.own_rgw  # the certificate is the one rgw.sh makes (for 127.0.0.1, not "127.1")
@pytest.mark.parametrize("args", [["ingest", "demo"], ["status"], ["sql", "SELECT 1"]])
def test_a_certificate_for_another_host_is_one_line_and_exit_2(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, args: list[str]
) -> None:
    """The CA is trusted but the endpoint is named by a host the certificate does not list
    (`127.1` reaches 127.0.0.1, yet TLS checks it as a name): exit 2, one line, nothing written."""
    env = cli_env(s3_server, s3_bucket, tmp_path)
    assert "://127.0.0.1:" in env["AWS_ENDPOINT_URL"]
    env["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL"].replace("://127.0.0.1:", "://127.1:")
    done = run(args, env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["message"].startswith(WRONG_HOST)
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


@pytest.mark.https
def test_a_certificate_that_does_not_verify_is_not_retried(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """One attempt, not the client's eight: the next would fail the same way."""
    store = open_store(
        f"s3://{s3_bucket}/lake",
        endpoint_url=s3_server.endpoint,
        access_key_id=s3_server.writer.access_key,
        secret_access_key=s3_server.writer.secret_key,
    )
    assert isinstance(store, S3Store)
    attempts: list[str] = []
    store.client.meta.events.register("before-send.s3", lambda **_: attempts.append("sent"))
    with pytest.raises(EndpointTlsError, match="not trusted") as refused:
        store.put("x.json", b"{}")
    assert refused.value.endpoint == s3_server.endpoint
    assert attempts == ["sent"]


@pytest.mark.https
def test_duckdb_refusing_the_certificate_is_a_configuration_error(
    s3_settings: SettingsFactory, s3_server: S3Server, s3_bucket: str
) -> None:
    """boto3 trusts the CA and DuckDB does not (a factory without the CA setting): the query's
    IOException becomes exit 2 with the one line, not "unexpected IOException"."""
    settings = s3_settings()
    s3_server.client().put_object(Bucket=s3_bucket, Key="lake/x.csv", Body=b"n\n1\n")
    untrusting = connect(settings.model_copy(update={"aws_ca_bundle": None}))
    untrusting.execute("SET GLOBAL http_retries = 0")  # a certificate does not get better
    query = f"SELECT * FROM read_csv({quote_literal(f's3://{s3_bucket}/lake/x.csv')})"

    def handler(args: argparse.Namespace, _settings: object) -> int:
        untrusting.execute(query)
        return 0

    with pytest.raises(duckdb.IOException) as refused:
        untrusting.execute(query)
    problem = tls_config_error(refused.value)
    assert problem is not None and "set AWS_CA_BUNDLE" in str(problem)
    assert guarded(handler, argparse.Namespace(), settings) == EXIT_CONFIG
    assert connect(settings).execute(query).fetchall() == [(1,)]  # with the CA it reads
