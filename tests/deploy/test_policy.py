"""Policy checks on the rendered manifests: resources within Rahti's rules, the restricted
security context, pinned images, the CronJob contract, settings and Secrets, and commands that the
real `bucketpipe` CLI accepts."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bucketpipe import __version__
from bucketpipe.config.settings import Settings, all_env_names
from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import (
    SECRET_EXAMPLES,
    bucketpipe_containers,
    load_yaml_documents,
    matches,
    minutes_of_day,
    objects_of,
    parses,
    split_image,
    within,
    workloads,
)
from tests.deploy.policies import (
    cronjob_problems,
    image_problems,
    resource_problems,
    secret_value_problems,
    security_problems,
    setting_problems,
)

WRITER_SECRET = "bucketpipe-lake"
READONLY_SECRET = "bucketpipe-lake-readonly"

POLICIES = {
    "resources": resource_problems,
    "security": security_problems,
    "images": image_problems,
    "cronjobs": cronjob_problems,
    "settings": setting_problems,
    "secret values": secret_value_problems,
}


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_the_manifests_comply_with_the_policy(
    every_rendering: list[dict[str, Any]], policy: str
) -> None:
    assert POLICIES[policy](every_rendering) == []


def _pod(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    obj = objects_of(objects, kind)[name]
    if kind == "CronJob":
        spec: dict[str, Any] = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    spec = obj["spec"]["template"]["spec"]
    return spec


def _break_ratio(objects: list[dict[str, Any]]) -> None:
    (c,) = _pod(objects, "CronJob", "bucketpipe-clean")["containers"]
    c["resources"]["limits"]["memory"] = "8Gi"


def _drop_limits(objects: list[dict[str, Any]]) -> None:
    _pod(objects, "Deployment", "bucketpipe-redis")["containers"][0]["resources"].pop("limits")


def _no_ephemeral_storage(objects: list[dict[str, Any]]) -> None:
    (c,) = _pod(objects, "CronJob", "bucketpipe-compact")["containers"]
    c["resources"]["limits"].pop("ephemeral-storage")


def _privilege_escalation(objects: list[dict[str, Any]]) -> None:
    c = _pod(objects, "Deployment", "bucketpipe-dashboard")["containers"][0]
    c["securityContext"]["allowPrivilegeEscalation"] = True


def _writable_root(objects: list[dict[str, Any]]) -> None:
    c = _pod(objects, "CronJob", "bucketpipe-compact")["containers"][0]
    del c["securityContext"]["readOnlyRootFilesystem"]


def _host_path(objects: list[dict[str, Any]]) -> None:
    _pod(objects, "CronJob", "bucketpipe-clean")["volumes"].append(
        {"name": "x", "hostPath": {"path": "/var"}}
    )


def _latest(objects: list[dict[str, Any]]) -> None:
    _pod(objects, "Deployment", "bucketpipe-redis")["containers"][0]["image"] = "redis:latest"


def _untagged(objects: list[dict[str, Any]]) -> None:
    _pod(objects, "Deployment", "bucketpipe-redis")["containers"][0]["image"] = "docker.io/redis"


def _allow_concurrency(objects: list[dict[str, Any]]) -> None:
    objects_of(objects, "CronJob")["bucketpipe-clean"]["spec"]["concurrencyPolicy"] = "Allow"


def _no_starting_deadline(objects: list[dict[str, Any]]) -> None:
    del objects_of(objects, "CronJob")["bucketpipe-ingest-finnhub"]["spec"][
        "startingDeadlineSeconds"
    ]


def _bad_time_zone(objects: list[dict[str, Any]]) -> None:
    objects_of(objects, "CronJob")["bucketpipe-compact"]["spec"]["timeZone"] = "Europe/Hellsinki"


def _retry_config_errors(objects: list[dict[str, Any]]) -> None:
    job = objects_of(objects, "CronJob")["bucketpipe-ingest-bucket"]["spec"]["jobTemplate"]["spec"]
    del job["podFailurePolicy"]


def _unknown_env(objects: list[dict[str, Any]]) -> None:
    c = _pod(objects, "CronJob", "bucketpipe-clean")["containers"][0]
    c["env"].append({"name": "BUCKETPIPE_LAKE_URL", "value": "s3://x/y"})


def _unknown_config_key(objects: list[dict[str, Any]]) -> None:
    (config,) = objects_of(objects, "ConfigMap").values()
    config["data"]["BUCKETPIPE_SYMBOL"] = "AAPL"


def _secret_with_value(objects: list[dict[str, Any]]) -> None:
    objects.append(
        {
            "kind": "Secret",
            "metadata": {"name": "bucketpipe-finnhub"},
            "stringData": {"FINNHUB_API_KEY": "abc123"},
        }
    )


def _secret_in_config(objects: list[dict[str, Any]]) -> None:
    (config,) = objects_of(objects, "ConfigMap").values()
    config["data"]["REDIS_PASSWORD"] = "hunter2"


@pytest.mark.parametrize(
    ("policy", "breakage", "expected"),
    [
        ("resources", _break_ratio, "memory limit over 5x the request"),
        ("resources", _drop_limits, "no cpu request and limit"),
        ("resources", _no_ephemeral_storage, "no ephemeral-storage request and limit"),
        ("security", _privilege_escalation, "allowPrivilegeEscalation false"),
        ("security", _writable_root, "readOnlyRootFilesystem"),
        ("security", _host_path, "volume type not allowed"),
        ("images", _latest, "latest"),
        ("images", _untagged, "no tag or digest"),
        ("cronjobs", _allow_concurrency, "concurrencyPolicy is not Forbid"),
        ("cronjobs", _no_starting_deadline, "startingDeadlineSeconds"),
        ("cronjobs", _bad_time_zone, "timeZone"),
        ("cronjobs", _retry_config_errors, "configuration error (exit 2) is retried"),
        ("settings", _unknown_env, "BUCKETPIPE_LAKE_URL is not a setting"),
        ("settings", _unknown_config_key, "BUCKETPIPE_SYMBOL is not a setting"),
        ("secret values", _secret_with_value, "has a value for FINNHUB_API_KEY"),
        ("secret values", _secret_in_config, "holds secret REDIS_PASSWORD"),
    ],
)
def test_each_policy_catches_a_broken_manifest(
    base_objects: list[dict[str, Any]], policy: str, breakage: Any, expected: str
) -> None:
    objects = copy.deepcopy(base_objects)
    breakage(objects)
    problems = POLICIES[policy](objects)
    assert any(expected in problem for problem in problems), problems


def test_the_base_image_tag_is_the_package_version(base_objects: list[dict[str, Any]]) -> None:
    tags = {split_image(c["image"])[1] for _, c in bucketpipe_containers(base_objects)}
    assert tags == {__version__}


def test_every_cronjob_takes_its_run_id_from_the_job_name(
    every_rendering: list[dict[str, Any]],
) -> None:
    for name, cronjob in objects_of(every_rendering, "CronJob").items():
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        field = env["BUCKETPIPE_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert field == "metadata.labels['batch.kubernetes.io/job-name']", name


def test_clean_runs_after_ingest_and_at_least_as_often(base_objects: list[dict[str, Any]]) -> None:
    cronjobs = objects_of(base_objects, "CronJob")
    ingest = minutes_of_day(cronjobs["bucketpipe-ingest-finnhub"]["spec"]["schedule"])
    clean = minutes_of_day(cronjobs["bucketpipe-clean"]["spec"]["schedule"])
    assert len(ingest) == 24 * 4  # every 15 minutes
    assert len(clean) >= len(ingest)
    assert not set(ingest) & set(clean), "clean should start after ingest, not with it"
    compact = minutes_of_day(cronjobs["bucketpipe-compact"]["spec"]["schedule"])
    assert len(compact) == 1  # daily


def test_the_finnhub_run_budget_ends_before_the_job_deadline(
    every_rendering: list[dict[str, Any]],
) -> None:
    """A run stops starting calls after its budget, so the deadline never cuts a run short."""
    (config,) = objects_of(every_rendering, "ConfigMap").values()
    budget = float(
        config["data"].get(
            "BUCKETPIPE_FINNHUB_RUN_BUDGET_SECONDS",
            Settings.model_fields["finnhub_run_budget_seconds"].default,
        )
    )
    for name, cronjob in objects_of(every_rendering, "CronJob").items():
        if "finnhub" in name:
            deadline = cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
            assert budget + 120 <= deadline, name


def test_the_sharded_variant_is_an_indexed_job_matching_its_shards(
    base_objects: list[dict[str, Any]],
) -> None:
    cronjobs = objects_of(base_objects, "CronJob")
    sharded = cronjobs["bucketpipe-ingest-finnhub-sharded"]
    job = sharded["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    (container,) = job["template"]["spec"]["containers"]
    args = container["args"]
    shards = int(args[args.index("--shards") + 1])
    assert shards > 1
    assert job["completions"] == job["parallelism"] == shards
    env = {e["name"]: e for e in container["env"]}
    assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    )
    # Apart from sharding, the two variants run the same pod: they cannot drift apart.
    plain = cronjobs["bucketpipe-ingest-finnhub"]
    plain_pod = plain["spec"]["jobTemplate"]["spec"]["template"]
    sharded_pod = job["template"]
    (plain_container,) = plain_pod["spec"]["containers"]
    stripped = {
        **container,
        "args": [a for a in args if a not in {"--shards", str(shards)}],
        "env": [e for e in container["env"] if e["name"] != "JOB_COMPLETION_INDEX"],
    }
    assert stripped == plain_container
    assert {**sharded_pod["spec"], "containers": []} == {**plain_pod["spec"], "containers": []}
    assert sharded["spec"]["schedule"] == plain["spec"]["schedule"]


def test_every_setting_in_the_manifests_is_valid(every_rendering: list[dict[str, Any]]) -> None:
    """The ConfigMap plus each container's literal values build a valid Settings object."""
    (config,) = objects_of(every_rendering, "ConfigMap").values()
    for _, container in bucketpipe_containers(every_rendering):
        values = dict(config["data"])
        values.update({e["name"]: e["value"] for e in container["env"] if "value" in e})
        fields = all_env_names()
        Settings(**{fields[name]: value for name, value in values.items()})


def test_secret_templates_have_no_values_and_match_the_manifests(
    overlay_objects: list[dict[str, Any]],
) -> None:
    # The example overlay: the base plus the components it switches on (monitoring's Secret).
    templates: dict[str, set[str]] = {}
    for path in sorted(SECRET_EXAMPLES.glob("*.example.yaml")):
        (secret,) = load_yaml_documents(path)
        assert secret["kind"] == "Secret"
        values = {**secret.get("data", {}), **secret.get("stringData", {})}
        assert values and not any(values.values()), f"{path.name} must list keys, not values"
        templates[secret["metadata"]["name"]] = set(values)
    referenced: dict[str, set[str]] = {}
    for workload in workloads(overlay_objects):
        for container in workload.containers():
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.setdefault(ref["name"], set()).add(ref["key"])
    assert templates == referenced


def test_the_dashboard_reads_the_lake_with_read_only_credentials(
    every_rendering: list[dict[str, Any]],
) -> None:
    secrets_by_workload = _secret_names_by_workload(every_rendering)
    dashboard = secrets_by_workload["bucketpipe-dashboard"]
    assert READONLY_SECRET in dashboard and WRITER_SECRET not in dashboard
    for name, secrets in secrets_by_workload.items():
        if WRITER_SECRET in secrets:
            # doctor writes (and deletes) probe objects to check conditional writes.
            assert any(word in name for word in ("ingest", "clean", "compact", "doctor")), (
                f"{name} has write access to the lake but does not write"
            )
    assert READONLY_SECRET in secrets_by_workload["bucketpipe-status"]


def test_every_command_parses_with_the_bucketpipe_cli(
    every_rendering: list[dict[str, Any]],
) -> None:
    parser = build_parser()
    rejected = []
    for workload, container in bucketpipe_containers(every_rendering):
        assert container.get("command") in (None, ["bucketpipe"]), workload.name
        if not parses(parser, container["args"]):
            rejected.append(f"{workload.name}: bucketpipe {' '.join(container['args'])}")
    assert not rejected, f"commands the CLI does not accept: {rejected}"


def test_services_select_exactly_their_workload(every_rendering: list[dict[str, Any]]) -> None:
    pods = list(workloads(every_rendering))
    for name, service in objects_of(every_rendering, "Service").items():
        selector = {"matchLabels": service["spec"]["selector"]}
        (target,) = [w for w in pods if w.kind == "Deployment" and matches(selector, w.labels)]
        ports = {p["name"] for c in target.containers() for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name}: {port}"


def test_the_dashboard_is_replicated_and_probed_on_the_health_endpoint(
    every_rendering: list[dict[str, Any]],
) -> None:
    dashboard = objects_of(every_rendering, "Deployment")["bucketpipe-dashboard"]
    assert dashboard["spec"]["replicas"] == 2
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/_stcore/health", "port": "http"}
    args = container["args"]
    port = int(args[args.index("--port") + 1])
    assert args[args.index("--address") + 1] == "0.0.0.0"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": port}
    budget = objects_of(every_rendering, "PodDisruptionBudget")["bucketpipe-dashboard"]
    assert budget["spec"]["minAvailable"] == 1


def _secret_names_by_workload(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for workload in workloads(objects):
        names = out.setdefault(workload.name, set())
        for container in workload.containers():
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    names.add(ref["name"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    names.add(source["secretRef"]["name"])
    return out


def test_label_selector_semantics() -> None:
    """The helper the policy checks rely on behaves like Kubernetes."""
    labels = {"app.kubernetes.io/component": "clean", "bucketpipe/redis-client": "true"}
    assert matches({"matchLabels": {"bucketpipe/redis-client": "true"}}, labels)
    assert not matches({"matchLabels": {"bucketpipe/redis-client": "false"}}, labels)
    expression = {"key": "app.kubernetes.io/component", "operator": "In", "values": ["ingest"]}
    assert not matches({"matchExpressions": [expression]}, labels)
    assert matches({}, labels)
    assert within("/tmp/bucketpipe", "/tmp") and not within("/tmpx", "/tmp")


def test_the_dashboard_needs_its_password_secret(every_rendering: list[dict[str, Any]]) -> None:
    """No Secret, no dashboard: the reference is not optional (an optional one served an open
    dashboard when the Secret was missing)."""
    dashboard = objects_of(every_rendering, "Deployment")["bucketpipe-dashboard"]
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    ref = env["BUCKETPIPE_DASHBOARD_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "bucketpipe-dashboard", "key": "BUCKETPIPE_DASHBOARD_PASSWORD"}
    assert "BUCKETPIPE_DASHBOARD_PUBLIC" not in env  # the cluster never serves it open


def test_readers_use_redis_read_only_user_and_jobs_the_default(
    every_rendering: list[dict[str, Any]],
) -> None:
    for workload, container in bucketpipe_containers(every_rendering):
        env = {e["name"]: e for e in container["env"]}
        secret = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        reads_only = workload.name in {
            "bucketpipe-dashboard",
            "bucketpipe-status",
            "bucketpipe-metrics",
        }
        if reads_only:
            assert env["REDIS_USERNAME"]["value"] == "reader", workload.name
            assert secret == "bucketpipe-redis-reader", workload.name
        else:
            assert "REDIS_USERNAME" not in env, workload.name
            assert secret == "bucketpipe-redis", workload.name
