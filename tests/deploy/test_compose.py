"""The local stack (local/compose.yaml, .env.example, helper scripts), checked offline: YAML
structure and references, pinned images, settings, and the helper scripts run for real."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from bucketpipe.config.settings import all_env_names
from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import COMPOSE, duckdb_bytes, memory_bytes, parses, split_image

LOCAL = COMPOSE.parent
DOC: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
SERVICES: dict[str, dict[str, Any]] = DOC["services"]
MINIO_RELEASE = re.compile(r"RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z")
EVERY = "/opt/local/every.sh"


def bucketpipe_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("bucketpipe:")}


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (LOCAL / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def interpolated() -> set[str]:
    """Variables compose fills in from local/.env (`$$` escapes a literal dollar)."""
    text = COMPOSE.read_text().replace("$$", "")
    return set(re.findall(r"\$\{(\w+)", text))


def test_the_stack_has_its_services() -> None:
    assert DOC["name"] == "bucketpipe"
    assert set(SERVICES) >= {
        "minio",
        "minio-init",
        "redis",
        "ingest-demo",
        "ingest-finnhub",
        "clean",
        "compact",
        "dashboard",
    }


def test_every_image_is_pinned() -> None:
    for name, service in SERVICES.items():
        repository, tag, digest = split_image(service["image"])
        assert tag or digest, name
        assert tag != "latest", name
        if "build" in service:
            assert repository == "bucketpipe" and tag == "local", name
        else:
            assert tag and any(ch.isdigit() for ch in tag), name
    assert SERVICES["minio"]["image"].startswith("quay.io/minio/minio:")
    assert MINIO_RELEASE.fullmatch(split_image(SERVICES["minio"]["image"])[1] or "")
    assert MINIO_RELEASE.fullmatch(split_image(SERVICES["minio-init"]["image"])[1] or "")


def test_the_image_is_built_from_this_repository() -> None:
    for name, service in bucketpipe_services().items():
        build = service["build"]
        assert (LOCAL / build["context"] / build["dockerfile"]).resolve() == (
            LOCAL.parent / "Dockerfile"
        ), name


def test_depends_on_and_volumes_resolve() -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in SERVICES.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert "test" in SERVICES[dependency].get("healthcheck", {}), dependency
            if spec["condition"] == "service_completed_successfully":
                assert SERVICES[dependency].get("restart") == "no", dependency
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (LOCAL / source).is_file(), f"{name}: {source}"
            else:
                assert source in DOC["volumes"], f"{name}: {source}"


def test_bucketpipe_containers_get_only_settings() -> None:
    settings = set(all_env_names())
    services = bucketpipe_services()
    assert len(services) >= 6
    for name, service in services.items():
        unknown = set(service["environment"]) - settings
        assert not unknown, f"{name}: not settings: {sorted(unknown)}"
        assert "env_file" not in service, f"{name}: env_file would pass MinIO's admin password too"


def test_secrets_come_from_local_env_never_from_the_file() -> None:
    secret_words = ("PASSWORD", "SECRET", "API_KEY", "ACCESS_KEY_ID")
    for name, service in SERVICES.items():
        environment = service.get("environment", {})
        for key, value in environment.items():
            if any(word in key for word in secret_words):
                assert re.fullmatch(r"\$\{\w+:[?-][^}]*\}", str(value)), f"{name}: {key}"


def test_the_dashboard_reads_with_read_only_keys_and_jobs_write() -> None:
    for name, service in bucketpipe_services().items():
        key = service["environment"]["AWS_ACCESS_KEY_ID"]
        if name == "dashboard":
            assert "LAKE_READONLY_ACCESS_KEY_ID" in key
        else:
            assert key.startswith("${LAKE_ACCESS_KEY_ID")


def test_bucketpipe_services_run_hardened() -> None:
    for name, service in bucketpipe_services().items():
        assert service["read_only"] is True, name
        assert set(service["tmpfs"]) == {"/tmp", "/home/bucketpipe"}, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["init"] is True, name
        temp = service["environment"]["BUCKETPIPE_TEMP_DIR"]
        assert temp.startswith("/tmp/"), name


def test_every_command_parses_with_the_bucketpipe_cli() -> None:
    parser = build_parser()
    rejected = []
    for name, service in bucketpipe_services().items():
        entrypoint = service.get("entrypoint")
        if entrypoint is not None:
            assert entrypoint[:2] == ["/bin/sh", EVERY] and entrypoint[-1] == "bucketpipe", name
            assert f"./every.sh:{EVERY}:ro" in service["volumes"], name
        args = service.get("command", ["--help"])
        if args != ["--help"] and not parses(parser, args):
            rejected.append(f"{name}: bucketpipe {' '.join(args)}")
    assert not rejected, f"commands the CLI does not accept: {rejected}"


def test_ports_listen_on_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_the_one_shot_creates_the_buckets_with_mc() -> None:
    init = SERVICES["minio-init"]
    assert split_image(init["image"])[0] == "quay.io/minio/mc"
    assert init["depends_on"] == {"minio": {"condition": "service_healthy"}}
    script = (LOCAL / "minio-init.sh").read_text()
    lake_bucket = SERVICES["clean"]["environment"]["BUCKETPIPE_LAKE"].split("/")[2]
    source_bucket = SERVICES["ingest-bucket"]["environment"]["BUCKETPIPE_SOURCE"].split("/")[2]
    assert f"mc mb --ignore-existing local/{lake_bucket} local/{source_bucket}" in script
    policy = json.loads(script.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0])
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert actions == {"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"}
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {f"arn:aws:s3:::{lake_bucket}", f"arn:aws:s3:::{lake_bucket}/*"}


def test_env_example_documents_exactly_what_compose_uses() -> None:
    example = env_example()
    assert set(example) == interpolated()
    for name, value in example.items():
        if any(word in name for word in ("PASSWORD", "SECRET", "API_KEY")):
            assert value == "", f"{name} must be empty in the example"
    settings = set(all_env_names())
    documented_settings = {n for n in example if n.startswith("BUCKETPIPE_")}
    assert documented_settings <= settings


@pytest.mark.parametrize("script", ["every.sh", "init-env.sh", "run-once.sh", "minio-init.sh"])
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = LOCAL / script
    subprocess.run(["sh", "-n", str(path)], check=True, timeout=10)
    assert os.access(path, os.X_OK), f"{script} is not executable"


# --- the helper scripts, run for real ----------------------------------------------------------
def test_init_env_generates_the_passwords_and_keeps_an_existing_file(tmp_path: Path) -> None:
    for name in ("init-env.sh", ".env.example"):
        (tmp_path / name).write_text((LOCAL / name).read_text())
    result = subprocess.run(
        ["sh", str(tmp_path / "init-env.sh")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    generated = (
        "MINIO_ROOT_PASSWORD",
        "LAKE_SECRET_ACCESS_KEY",
        "LAKE_READONLY_SECRET_ACCESS_KEY",
        "REDIS_PASSWORD",
    )
    for name in generated:
        assert re.fullmatch(r"[0-9a-f]{48}", env[name]), name
        assert env[name] not in result.stdout + result.stderr  # names are printed, never values
    assert len({env[n] for n in generated}) == len(generated)
    assert env["FINNHUB_API_KEY"] == "" and env["BUCKETPIPE_DASHBOARD_PASSWORD"] == ""
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0  # readable by the owner only
    before = (tmp_path / ".env").read_text()
    again = subprocess.run(
        ["sh", str(tmp_path / "init-env.sh")], capture_output=True, text=True, timeout=30
    )
    assert again.returncode == 1 and "exists" in again.stderr
    assert (tmp_path / ".env").read_text() == before


def test_run_once_runs_the_tools_service_through_compose(tmp_path: Path) -> None:
    fake = tmp_path / "docker"
    record = tmp_path / "args"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    subprocess.run(
        ["sh", str(LOCAL / "run-once.sh"), "clean", "--rebuild", "quotes"],
        env=env,
        check=True,
        timeout=30,
    )
    assert record.read_text().splitlines() == [
        "compose",
        "-f",
        str(COMPOSE),
        "run",
        "--rm",
        "bucketpipe",
        "clean",
        "--rebuild",
        "quotes",
    ]
    assert SERVICES["bucketpipe"]["profiles"] == ["tools"]
    usage = subprocess.run(["sh", str(LOCAL / "run-once.sh")], capture_output=True, timeout=30)
    assert usage.returncode == 2


def test_every_repeats_a_command_and_survives_failures(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        ["sh", str(LOCAL / "every.sh"), "0", "sh", "-c", f"echo run >> {runs}; exit 3"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            not runs.exists() or len(runs.read_text().split()) < 3
        ):
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert len(runs.read_text().split()) >= 3
    assert "exited with status 3" in stderr


def test_every_stops_the_running_command_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(["sh", str(LOCAL / "every.sh"), "60", "sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and not children:
            children = psutil.Process(process.pid).children()
            time.sleep(0.05)
        assert children, "the command did not start"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, "the running command outlived the loop"
    finally:
        if process.poll() is None:
            process.kill()


def test_every_rejects_a_bad_interval() -> None:
    result = subprocess.run(
        ["sh", str(LOCAL / "every.sh"), "15m", "true"], capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2 and "whole number" in result.stderr


def test_duckdb_memory_is_sized_below_the_container_limit() -> None:
    for name, service in bucketpipe_services().items():
        limit = memory_bytes(service["mem_limit"].replace("g", "Gi").replace("m", "Mi"))
        duckdb = duckdb_bytes(service["environment"]["BUCKETPIPE_DUCKDB_MEMORY_LIMIT"])
        assert 0.3 * limit <= duckdb <= 0.65 * limit, name
