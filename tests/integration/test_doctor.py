"""`bucketpipe doctor` on the switch's S3 server (moto, or Ceph RGW over HTTP or HTTPS with
AWS_CA_BUNDLE), on a local lake, and with broken configurations."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bucketpipe.config.settings import Settings
from bucketpipe.jobs import cli
from bucketpipe.lake.probe import LakeProbe
from tests.conftest import SettingsFactory, free_port
from tests.support.finnhub_server import PREMIUM_KEY, FakeFinnhub
from tests.support.s3_servers import S3Server

pytestmark = pytest.mark.integration

Doctor = Callable[..., tuple[int, Any]]


@pytest.fixture
def doctor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Doctor:
    """Run `bucketpipe doctor` in this process with exactly `env` as the settings; (exit
    code, the JSON report, or the text lines with --text)."""

    def run(env: dict[str, str], *args: str, text: bool = False) -> tuple[int, Any]:
        for name, value in {"BUCKETPIPE_TEMP_DIR": str(tmp_path / "tmp"), **env}.items():
            monkeypatch.setenv(name, value)
        code = cli.main(["doctor", *args, *([] if text else ["--json"])])
        out = capsys.readouterr().out
        return code, out.splitlines() if text else json.loads(out)

    return run


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in report["checks"]}


def full_env(server: S3Server, bucket: str, redis_url: str) -> dict[str, str]:
    """A deployment's settings: the lake, the reader key, a shared source bucket, Redis."""
    shared = server.create_shared_bucket()
    return {
        **server.env(bucket),
        "BUCKETPIPE_READER_ACCESS_KEY_ID": server.reader.access_key,
        "BUCKETPIPE_READER_SECRET_ACCESS_KEY": server.reader.secret_key,
        "BUCKETPIPE_SOURCE": f"s3://{shared}/drop",
        "BUCKETPIPE_SOURCE_ACCESS_KEY_ID": server.source.access_key,
        "BUCKETPIPE_SOURCE_SECRET_ACCESS_KEY": server.source.secret_key,
        "REDIS_URL": redis_url,
    }


def test_a_working_deployment_passes_and_nothing_is_left_behind(
    doctor: Doctor, s3_server: S3Server, s3_bucket: str, redis_url: str
) -> None:
    code, report = doctor(full_env(s3_server, s3_bucket, redis_url))
    assert code == 0 and report["ok"], report
    found = statuses(report)
    required = ("settings", "endpoint", "clock", "credentials", "conditional")
    assert all(found[name] == "pass" for name in required), report
    assert found["list-after-write"] == found["duckdb"] == found["source"] == "pass", report
    assert found["redis"] == found["objects"] == "pass", report
    # RGW's read-only key cannot write; moto lets every key write, which doctor warns about.
    assert found["reader"] == ("pass" if s3_server.is_rgw else "warn"), report
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_one_line_per_check_with_what_to_do(
    doctor: Doctor, s3_server: S3Server, s3_bucket: str
) -> None:
    env = {
        **s3_server.env(f"{s3_bucket}-missing"),
        "BUCKETPIPE_READER_ACCESS_KEY_ID": s3_server.writer.access_key,
        "BUCKETPIPE_READER_SECRET_ACCESS_KEY": s3_server.writer.secret_key,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    code, lines = doctor(env, text=True)
    assert code == 1
    by_name = {line.split()[1]: line for line in lines}
    assert list(by_name)[:3] == ["settings", "endpoint", "clock"]
    assert by_name["credentials"].startswith("fail ")
    assert "NoSuchBucket; create it first" in by_name["credentials"]
    assert by_name["conditional"].startswith("skip ")
    assert by_name["redis"].startswith("warn ") and "jobs still commit" in by_name["redis"]
    assert not any(secret in "\n".join(lines) for secret in s3_server.secrets)


def test_a_reader_key_that_can_write_is_a_warning(
    doctor: Doctor, s3_server: S3Server, s3_bucket: str
) -> None:
    env = {
        **s3_server.env(s3_bucket),
        "BUCKETPIPE_READER_ACCESS_KEY_ID": s3_server.writer.access_key,
        "BUCKETPIPE_READER_SECRET_ACCESS_KEY": s3_server.writer.secret_key,
    }
    code, report = doctor(env)
    reader = next(c for c in report["checks"] if c["name"] == "reader")
    assert code == 0 and reader["status"] == "warn"
    assert "can also write" in reader["detail"] and "second project" in reader["fix"]


@pytest.mark.rgw
def test_a_wrong_secret_fails_the_credentials(
    doctor: Doctor, s3_server: S3Server, s3_bucket: str
) -> None:
    env = {**s3_server.env(s3_bucket), "AWS_SECRET_ACCESS_KEY": "not-the-secret-at-all"}
    code, report = doctor(env)
    credentials = next(c for c in report["checks"] if c["name"] == "credentials")
    assert code == 1 and credentials["status"] == "fail"
    assert "SignatureDoesNotMatch" in credentials["detail"]


@pytest.mark.https
def test_without_the_ca_bundle_the_endpoint_check_says_to_set_it(
    doctor: Doctor, s3_server: S3Server, s3_bucket: str
) -> None:
    env = {k: v for k, v in s3_server.env(s3_bucket).items() if k != "AWS_CA_BUNDLE"}
    code, report = doctor(env)
    endpoint = next(c for c in report["checks"] if c["name"] == "endpoint")
    assert code == 1 and endpoint["status"] == "fail"
    assert "not trusted" in endpoint["fix"] and "AWS_CA_BUNDLE" in endpoint["fix"]


@pytest.mark.parametrize(("offset", "status"), [(10, "fail"), (2, "warn"), (0, "pass")])
def test_clock_skew_against_the_servers_date(
    s3_settings: SettingsFactory, offset: int, status: str
) -> None:
    """This machine's clock `offset` minutes ahead: past 5 minutes S3 refuses signatures."""
    settings: Settings = s3_settings()
    probe = LakeProbe(settings, clock=lambda: datetime.now(UTC) + timedelta(minutes=offset))
    probe.endpoint()
    check = probe.clock_skew()
    assert check.status == status, check
    if status != "pass":
        assert "ahead of" in check.detail and "NTP" in check.fix


def test_bad_settings_are_the_first_failed_check_and_exit_2(doctor: Doctor) -> None:
    code, report = doctor({"BUCKETPIPE_DUCKDB_THREADS": "zero"})
    assert code == 2 and not report["ok"]
    assert [(c["name"], c["status"]) for c in report["checks"]] == [("settings", "fail")]
    assert "BUCKETPIPE_DUCKDB_THREADS" in report["checks"][0]["detail"]


def test_a_local_lake_passes_and_keeps_no_probe_folder(doctor: Doctor, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    code, report = doctor({"BUCKETPIPE_LAKE": str(lake)})
    found = statuses(report)
    assert code == 0, report
    assert found["endpoint"] == found["clock"] == found["reader"] == found["redis"] == "skip"
    assert found["credentials"] == found["conditional"] == found["duckdb"] == "pass"
    assert list(lake.iterdir()) == []


def test_the_object_count_against_the_buckets_limit(
    doctor: Doctor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake past the bucket's object limit fails: its writes would."""
    env = {"BUCKETPIPE_LAKE": str(tmp_path / "lake"), "BUCKETPIPE_TEMP_DIR": str(tmp_path)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["ingest", "demo", "--days", "1"]) == 0
    verdicts = {}
    for limit in ("100000", "1"):
        code, report = doctor({**env, "BUCKETPIPE_LAKE_OBJECT_LIMIT": limit})
        verdicts[limit] = (code, next(c for c in report["checks"] if c["name"] == "objects"))
    assert verdicts["100000"][0] == 0 and verdicts["100000"][1]["status"] == "pass"
    code, objects = verdicts["1"]
    assert code == 1 and objects["status"] == "fail"
    assert "of the bucket's limit of 1" in objects["detail"] and "compact" in objects["fix"]


@pytest.mark.parametrize(("key", "status"), [(PREMIUM_KEY, "pass"), ("not-a-key-0000", "fail")])
def test_finnhub_key_with_one_call_in_the_header(
    doctor: Doctor, finnhub_server: FakeFinnhub, tmp_path: Path, key: str, status: str
) -> None:
    env = {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "FINNHUB_API_KEY": key,
        "BUCKETPIPE_FINNHUB_URL": finnhub_server.url,
    }
    code, lines = doctor(env, "--finnhub", text=True)
    line = next(line for line in lines if line.split()[1] == "finnhub")
    assert line.startswith(status) and code == (0 if status == "pass" else 1)
    assert key not in "\n".join(lines)


@pytest.fixture
def redis_users(redis_url: str) -> Iterator[dict[str, tuple[str, str]]]:
    """Two ACL users on the test redis-server, as k8s/deployments/redis.yaml makes them: `jobs`
    writes, `reader` (the dashboard's and `status`'s) only reads; role -> (name, password)."""
    import redis

    admin = redis.Redis.from_url(redis_url)
    tag = uuid.uuid4().hex[:8]
    users = {role: (f"{role}-{tag}", secrets.token_hex(12)) for role in ("jobs", "reader")}
    (jobs, jobs_password), (reader, reader_password) = users["jobs"], users["reader"]
    admin.acl_setuser(jobs, enabled=True, passwords=[f"+{jobs_password}"], keys=["*"],
                      commands=["+@all", "-@dangerous", "+info"])  # fmt: skip
    admin.acl_setuser(reader, enabled=True, passwords=[f"+{reader_password}"],
                      keys=["%R~bucketpipe:events", "%R~bucketpipe:status:*"],
                      commands=["-@all", "+ping", "+xrevrange", "+hgetall"])  # fmt: skip
    yield users
    admin.acl_deluser(jobs, reader)
    admin.close()


@pytest.mark.parametrize(
    ("role", "password_ok", "status"),
    [("jobs", True, "pass"), ("reader", True, "warn"), ("jobs", False, "fail")],
)
def test_redis_is_checked_as_the_configured_user(
    doctor: Doctor,
    tmp_path: Path,
    redis_url: str,
    redis_users: dict[str, tuple[str, str]],
    role: str,
    password_ok: bool,
    status: str,
) -> None:
    """REDIS_USERNAME reaches doctor's client: the jobs' user passes, the read-only user the
    dashboard uses is a warning (it cannot write), a wrong password fails naming the user."""
    name, password = redis_users[role]
    env = {
        "BUCKETPIPE_LAKE": str(tmp_path / "lake"),
        "REDIS_URL": redis_url,
        "REDIS_USERNAME": name,
        "REDIS_PASSWORD": password if password_ok else "not-the-password",
    }
    code, lines = doctor(env, text=True)
    line = next(line for line in lines if line.split()[1] == "redis")
    assert line.startswith(status), line
    assert code == (1 if status == "fail" else 0)
    if role == "reader":
        assert "may not write" in line and "the jobs need a user that writes" in line
    if not password_ok:
        assert f"refused user {name!r}" in line and "REDIS_USERNAME" in line
    assert not any(secret in "\n".join(lines) for _, secret in redis_users.values())


def test_an_endpoint_that_never_finishes_its_answer_does_not_hold_the_check(
    make_settings: SettingsFactory,
) -> None:
    """The endpoint check needs the answer's headers (TLS, the server's Date), not its body:
    an endpoint (or a proxy before it) that answers and then drips a body a byte at a time,
    inside the read timeout, held `bucketpipe doctor` for as long as it liked."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Drip(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(403)
            self.end_headers()
            try:
                for _ in range(1200):  # two minutes
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = make_settings(
            lake="s3://bucket/lake",
            aws_endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="probe-key",
            aws_secret_access_key="probe-secret-0123",
        )
        started = time.monotonic()
        check = LakeProbe(settings).endpoint()
        assert time.monotonic() - started < 30
        assert check.status != "fail", check
    finally:
        server.shutdown()
        server.server_close()
