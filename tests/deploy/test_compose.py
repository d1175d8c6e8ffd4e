"""The local stack (local/compose.yaml, local/.env.example), checked offline: structure and
references, pinned images, settings, keys kept to their role, spills on bounded tmpfs, the
dashboard's fail-closed rule, and Redis' ACL users matching the cluster's. The helper scripts run
for real in test_local_scripts.py."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from bucketpipe.config.settings import all_env_names
from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import (
    COMPOSE,
    K8S,
    duckdb_bytes,
    load_yaml_documents,
    memory_bytes,
    parses,
    split_image,
)

LOCAL = COMPOSE.parent
DOC: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
SERVICES: dict[str, dict[str, Any]] = DOC["services"]
WITH_KEYS = "/opt/local/with-keys.sh"
EVERY = "/opt/local/every.sh"
ROLES = {"writer", "reader", "source"}
# The interface of local/rgw/: its image, and the command that runs it in the foreground.
RGW_COMMAND = "local/rgw/rgw.sh start --foreground --address 0.0.0.0 --port 7480 --dir /var/lib/rgw"


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


def tmpfs_sizes(service: dict[str, Any]) -> dict[str, int]:
    """tmpfs mount -> its size in bytes (`/tmp:size=768m`); an unbounded mount is an error."""
    sizes = {}
    for entry in service["tmpfs"]:
        path, _, options = entry.partition(":")
        size = dict(o.split("=", 1) for o in options.split(",") if "=" in o).get("size")
        assert size, f"tmpfs {path} has no size: it could fill the machine's memory"
        sizes[path] = memory_bytes(size.replace("g", "Gi").replace("m", "Mi"))
    return sizes


def key_files(service: dict[str, Any]) -> list[str]:
    """The key files a service's entrypoint loads through with-keys.sh."""
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", WITH_KEYS], entrypoint
    return entrypoint[2 : entrypoint.index("--")]


def command_after_keys(service: dict[str, Any]) -> list[str]:
    entrypoint = service["entrypoint"]
    return list(entrypoint[entrypoint.index("--") + 1 :])


def test_the_stack_has_its_services_and_no_minio() -> None:
    assert DOC["name"] == "bucketpipe"
    assert set(SERVICES) == {
        "rgw",
        "rgw-keys",
        "redis",
        "ingest-demo",
        "ingest-finnhub",
        "ingest-bucket",
        "clean",
        "compact",
        "dashboard",
        "bucketpipe",
    }
    assert "minio" not in COMPOSE.read_text().lower()


def test_every_image_is_pinned_or_built_here() -> None:
    for name, service in SERVICES.items():
        _, tag, digest = split_image(service["image"])
        assert tag or digest, name
        assert tag != "latest", name
        if "build" in service:
            assert tag == "local", name
        else:
            assert tag and any(ch.isdigit() for ch in tag), name
    for name, service in bucketpipe_services().items():
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}, name
        assert (LOCAL / ".." / "Dockerfile").is_file()


def test_ceph_rgw_is_the_s3_server() -> None:
    for name in ("rgw", "rgw-keys"):
        # local/rgw/ is its own build context (its Containerfile copies from it).
        assert SERVICES[name]["build"] == {"context": "./rgw", "dockerfile": "Containerfile"}
    assert " ".join(SERVICES["rgw"]["command"]) == RGW_COMMAND
    assert SERVICES["rgw"]["healthcheck"]["test"][1:] == [
        "local/rgw/rgw.sh",
        "status",
        "--dir",
        "/var/lib/rgw",
    ]
    for service in bucketpipe_services().values():
        assert service["environment"]["AWS_ENDPOINT_URL"] == "http://rgw:7480"


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
        assert "env_file" not in service, f"{name}: env_file passes every secret of local/.env"


def test_secrets_come_from_local_env_and_s3_keys_from_their_role_only() -> None:
    secret_words = ("PASSWORD", "SECRET", "API_KEY", "ACCESS_KEY_ID")
    for name, service in SERVICES.items():
        for key, value in service.get("environment", {}).items():
            if any(word in key for word in secret_words):
                assert re.fullmatch(r"\$\{\w+:[?-][^}]*\}", str(value)), f"{name}: {key}"
            assert "ACCESS_KEY" not in key, f"{name}: S3 keys come from the role's volume"
    mounted = {
        name: {v.split(":")[0].removeprefix("keys-") for v in s.get("volumes", [])} & ROLES
        for name, s in SERVICES.items()
    }
    assert mounted["rgw-keys"] == ROLES
    assert mounted["dashboard"] == {"reader"}
    assert mounted["ingest-bucket"] == {"writer", "source"}
    for name, service in bucketpipe_services().items():
        if name not in {"dashboard", "ingest-bucket"}:
            assert mounted[name] == {"writer"}, name
        files = key_files(service)
        assert {f.split("/")[3] for f in files} == mounted[name], name
        for file in files:
            role = file.split("/")[3]
            assert f"keys-{role}:/run/keys/{role}:ro" in service["volumes"], (name, file)


def test_bucketpipe_services_run_hardened_with_bounded_spills() -> None:
    for name, service in bucketpipe_services().items():
        assert service["read_only"] is True, name
        sizes = tmpfs_sizes(service)
        assert set(sizes) == {"/tmp", "/home/bucketpipe"}, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["init"] is True, name
        env = service["environment"]
        assert env["BUCKETPIPE_TEMP_DIR"].startswith("/tmp/"), name
        spill = duckdb_bytes(env["BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE"])
        assert spill < sizes["/tmp"], name
        # tmpfs is memory: DuckDB's own limit and full tmpfs mounts must fit the container.
        limit = memory_bytes(service["mem_limit"].replace("g", "Gi").replace("m", "Mi"))
        duckdb = duckdb_bytes(env["BUCKETPIPE_DUCKDB_MEMORY_LIMIT"])
        assert 0.3 * limit <= duckdb <= 0.65 * limit, name
        assert duckdb + sum(sizes.values()) <= 0.85 * limit, name
    bucket = SERVICES["ingest-bucket"]["environment"]
    room = tmpfs_sizes(SERVICES["ingest-bucket"])["/tmp"]
    largest = int(bucket["BUCKETPIPE_SOURCE_MAX_BYTES"])
    assert largest + duckdb_bytes(bucket["BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE"]) + 2**27 <= room


def test_every_command_parses_with_the_bucketpipe_cli() -> None:
    parser = build_parser()
    rejected = []
    for name, service in bucketpipe_services().items():
        command = command_after_keys(service)
        if command[:2] == ["/bin/sh", EVERY]:
            assert f"./every.sh:{EVERY}:ro" in service["volumes"], name
            command = command[3:]
        assert command == ["bucketpipe"], name
        assert f"./with-keys.sh:{WITH_KEYS}:ro" in service["volumes"], name
        args = service.get("command", ["--help"])
        if args != ["--help"] and not parses(parser, args):
            rejected.append(f"{name}: bucketpipe {' '.join(args)}")
    assert not rejected, f"commands the CLI does not accept: {rejected}"


def test_ports_listen_on_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_the_dashboard_fails_closed_as_in_the_cluster() -> None:
    dashboard = SERVICES["dashboard"]
    env = dashboard["environment"]
    args = dashboard["command"]
    assert args[args.index("--address") + 1] == "0.0.0.0"  # so: authentication, or stated public
    assert env["BUCKETPIPE_DASHBOARD_PASSWORD"] == "${BUCKETPIPE_DASHBOARD_PASSWORD:-}"
    assert env["BUCKETPIPE_DASHBOARD_PUBLIC"] == "${BUCKETPIPE_DASHBOARD_PUBLIC:-false}"
    assert dashboard["ports"] == ["127.0.0.1:8501:8501"]  # what makes PUBLIC=true acceptable
    assert dashboard["restart"].startswith("on-failure:")  # a refusal is not retried for ever
    assert env["REDIS_USERNAME"] == "reader"
    assert env["REDIS_PASSWORD"] == "${REDIS_READER_PASSWORD:?run local/init-env.sh}"


def _acl_users(words: list[str]) -> dict[str, list[str]]:
    """`--user NAME RULE...` arguments of redis-server -> NAME: rules, password rules dropped."""
    users: dict[str, list[str]] = {}
    name: str | None = None
    expecting_name = False
    for word in words:
        if word.startswith("--"):
            expecting_name, name = word == "--user", None
        elif expecting_name:
            name, expecting_name = word, False
            users[name] = []
        elif name is not None and not word.startswith(">"):
            users[name].append(word)
    return users


def test_redis_has_the_clusters_acl_users() -> None:
    script = SERVICES["redis"]["command"][-1].replace("$$", "$")
    local = _acl_users(shlex.split(script))
    (deployment,) = [
        d
        for d in load_yaml_documents(K8S / "deployments" / "redis.yaml")
        if d["kind"] == "Deployment"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    cluster = _acl_users([str(a) for a in container["args"]])
    assert set(local) == {"default", "reader"} and local == cluster


def test_env_example_documents_exactly_what_compose_uses() -> None:
    example = env_example()
    assert set(example) == interpolated()
    for name, value in example.items():
        if any(word in name for word in ("PASSWORD", "SECRET", "API_KEY")):
            assert value == "", f"{name} must be empty in the example"
    assert example["BUCKETPIPE_DASHBOARD_PUBLIC"] == "false"
    settings = set(all_env_names())
    assert {n for n in example if n.startswith("BUCKETPIPE_")} <= settings


def test_the_duckdb_share_check_reads_quantities_right() -> None:
    """The checks above can fail: a 2g container with a 1.9GiB DuckDB limit is refused."""
    service = {"tmpfs": ["/tmp:size=1g", "/home/bucketpipe:size=64m"]}
    assert tmpfs_sizes(service) == {"/tmp": 2**30, "/home/bucketpipe": 64 * 2**20}
    assert duckdb_bytes("1.9GiB") > 0.65 * memory_bytes("2Gi")
    assert _acl_users(["--user", "u", "on", ">pw", "+ping", "--save", ""]) == {"u": ["on", "+ping"]}
    assert Path(LOCAL / "every.sh").is_file()
