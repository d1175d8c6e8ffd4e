"""Deployment policies as functions that list what breaks them (empty list: compliant), so the
tests can show each policy both passing on the manifests and catching a broken object."""

from __future__ import annotations

import zoneinfo
from typing import Any

from bucketpipe.config.settings import all_env_names
from bucketpipe.jobs.common import EXIT_CONFIG
from tests.deploy.deploy_helpers import (
    bucketpipe_containers,
    cpu_millicores,
    memory_bytes,
    minutes_of_day,
    objects_of,
    split_image,
    workloads,
)

# Rahti's LimitRange (`oc describe limitranges` in a Rahti project; CSC's Rahti documentation,
# "Resource quota"): a container asks for 50m..4 CPUs and 8Mi..16Gi of memory, a limit is at most
# 5x its request, and the defaults (100m/500Mi requested, 500m/1Gi limit) apply to containers
# that set nothing, which is why every container here sets its own.
RAHTI_MAX_LIMIT_REQUEST_RATIO = 5
RAHTI_CPU_RANGE = (50.0, 4000.0)  # millicores
RAHTI_MEMORY_RANGE = (8 * 2**20, 16 * 2**30)
# What a CSC project starts with on Rahti, shared by all its pods and counted on LIMITS (what a
# pod may use, not what it asks for): 4 vCPU, 16 GiB of memory, 5 GiB of ephemeral storage.
RAHTI_CPU_QUOTA = 4000.0  # millicores
RAHTI_MEMORY_QUOTA = 16 * 2**30
RAHTI_EPHEMERAL_QUOTA = 5 * 2**30

# A Secret key read under another setting's name: the read-only lake keys, which the dashboard
# reads as AWS_*, are BUCKETPIPE_READER_* in a pod that also holds the writer's (doctor).
READER_KEYS_AS_READER_SETTINGS = {
    ("bucketpipe-lake-readonly", "AWS_ACCESS_KEY_ID", "BUCKETPIPE_READER_ACCESS_KEY_ID"),
    ("bucketpipe-lake-readonly", "AWS_SECRET_ACCESS_KEY", "BUCKETPIPE_READER_SECRET_ACCESS_KEY"),
}

# Volumes the restricted-v2 SCC admits.
RESTRICTED_VOLUME_TYPES = {"emptyDir", "configMap", "secret", "projected", "downwardAPI"}


def resource_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Containers without CPU, memory and ephemeral-storage requests and limits, or outside
    Rahti's rules (ephemeral storage has no LimitRange there, but counts against the quota)."""
    problems = []
    for workload in workloads(objects):
        for container in workload.containers():
            where = f"{workload.name}/{container['name']}"
            resources = container.get("resources", {})
            for resource, parse, (low, high) in (
                ("cpu", cpu_millicores, RAHTI_CPU_RANGE),
                ("memory", memory_bytes, RAHTI_MEMORY_RANGE),
                ("ephemeral-storage", memory_bytes, (0, RAHTI_EPHEMERAL_QUOTA)),
            ):
                try:
                    request = float(parse(resources["requests"][resource]))
                    limit = float(parse(resources["limits"][resource]))
                except KeyError:
                    problems.append(f"{where}: no {resource} request and limit")
                    continue
                if request > limit:
                    problems.append(f"{where}: {resource} request above its limit")
                if limit > RAHTI_MAX_LIMIT_REQUEST_RATIO * request:
                    problems.append(f"{where}: {resource} limit over 5x the request")
                if request < low or limit > high:
                    problems.append(f"{where}: {resource} outside Rahti's LimitRange")
    return problems


def security_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Pods that the restricted-v2 SCC (or the restricted Pod Security Standard) would refuse,
    plus this project's own hardening: no API token, no service-link variables."""
    problems = []
    for workload in workloads(objects):
        pod = workload.pod_spec
        pod_context = pod.get("securityContext", {})
        name = workload.name
        if any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")):
            problems.append(f"{name}: host namespaces")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token it does not need")
        if pod.get("enableServiceLinks") is not False:
            problems.append(f"{name}: service links inject BUCKETPIPE_*_PORT=tcp://... variables")
        if "fsGroup" in pod_context or "runAsUser" in pod_context:
            problems.append(f"{name}: fixed UID/fsGroup (OpenShift assigns them)")
        for volume in pod.get("volumes", []):
            if not set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES:
                problems.append(f"{name}: volume type not allowed: {volume}")
        for container in workload.containers():
            where = f"{name}/{container['name']}"
            context = container.get("securityContext", {})
            effective = {**pod_context, **context}
            capabilities = context.get("capabilities", {})
            checks = {
                "runAsNonRoot": effective.get("runAsNonRoot") is True,
                "no fixed runAsUser": "runAsUser" not in effective,
                "allowPrivilegeEscalation false": context.get("allowPrivilegeEscalation") is False,
                "not privileged": not context.get("privileged", False),
                "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                "capabilities drop ALL": capabilities.get("drop") == ["ALL"],
                "no added capabilities": not capabilities.get("add"),
                "seccomp RuntimeDefault": effective.get("seccompProfile")
                == {"type": "RuntimeDefault"},
            }
            problems += [f"{where}: {rule}" for rule, ok in checks.items() if not ok]
    return problems


def image_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Images without a version tag or digest, `latest`, or pulled every time."""
    problems = []
    for workload in workloads(objects):
        for container in workload.containers():
            image = container["image"]
            _, tag, digest = split_image(image)
            if not (tag or digest):
                problems.append(f"{image}: no tag or digest")
            elif tag == "latest":
                problems.append(f"{image}: latest")
            elif tag and not digest and not any(ch.isdigit() for ch in tag):
                problems.append(f"{image}: tag is not a version")
            if container.get("imagePullPolicy") not in (None, "IfNotPresent"):
                problems.append(f"{image}: pull policy {container['imagePullPolicy']}")
    return problems


def cronjob_problems(objects: list[dict[str, Any]]) -> list[str]:
    """CronJobs that could run twice at once, pile up, run forever or keep pods around."""
    problems = []
    for name, cronjob in objects_of(objects, "CronJob").items():
        spec = cronjob["spec"]
        job = spec["jobTemplate"]["spec"]
        pod = job["template"]["spec"]
        if spec.get("concurrencyPolicy") != "Forbid":
            problems.append(f"{name}: concurrencyPolicy is not Forbid")
        if not 0 < spec.get("startingDeadlineSeconds", 0) <= 3600:
            problems.append(f"{name}: startingDeadlineSeconds missing or over an hour")
        for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            if not isinstance(spec.get(field), int) or spec[field] < 1:
                problems.append(f"{name}: {field} not set")
        try:
            zoneinfo.ZoneInfo(spec.get("timeZone", ""))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f"{name}: timeZone missing or unknown")
        try:
            minutes_of_day(spec.get("schedule", ""))
        except ValueError as exc:
            problems.append(f"{name}: schedule: {exc}")
        if not isinstance(job.get("backoffLimit"), int) or not 0 <= job["backoffLimit"] <= 6:
            problems.append(f"{name}: backoffLimit missing or above 6")
        if not 0 < job.get("activeDeadlineSeconds", 0) <= 4 * 3600:
            problems.append(f"{name}: activeDeadlineSeconds missing or over 4 hours")
        if not job.get("ttlSecondsAfterFinished", 0) > 0:
            problems.append(f"{name}: ttlSecondsAfterFinished missing")
        if pod.get("restartPolicy") != "Never":
            problems.append(f"{name}: restartPolicy is not Never")
        rules = job.get("podFailurePolicy", {}).get("rules", [])
        fails_fast = any(
            rule["action"] == "FailJob"
            and EXIT_CONFIG in rule.get("onExitCodes", {}).get("values", [])
            and rule["onExitCodes"]["operator"] == "In"
            for rule in rules
        )
        if not fails_fast:
            problems.append(f"{name}: a configuration error (exit {EXIT_CONFIG}) is retried")
    return problems


def setting_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Env vars and ConfigMap keys given to Bucketpipe containers that are not settings."""
    settings = set(all_env_names())
    problems = []
    for config in objects_of(objects, "ConfigMap").values():
        problems += [
            f"ConfigMap key {key} is not a setting" for key in config["data"] if key not in settings
        ]
    for workload, container in bucketpipe_containers(objects):
        for env in container.get("env", []):
            if env["name"] not in settings:
                problems.append(f"{workload.name}: {env['name']} is not a setting")
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if (
                ref
                and ref["key"] != env["name"]
                and (ref["name"], ref["key"], env["name"]) not in (READER_KEYS_AS_READER_SETTINGS)
            ):
                problems.append(f"{workload.name}: {env['name']} comes from key {ref['key']}")
        for source in container.get("envFrom", []):
            if set(source) != {"configMapRef"}:
                problems.append(f"{workload.name}: envFrom {source} (use explicit secretKeyRef)")
    return problems


def secret_value_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Secrets with values in the output, or secret settings in a ConfigMap."""
    secret_settings = {
        name
        for name in all_env_names()
        if any(word in name for word in ("SECRET", "PASSWORD", "API_KEY", "ACCESS_KEY_ID"))
    }
    problems = []
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "Secret":
            values = {**obj.get("data", {}), **obj.get("stringData", {})}
            problems += [f"Secret {name} has a value for {k}" for k, v in values.items() if v]
        if obj["kind"] == "ConfigMap":
            problems += [
                f"ConfigMap {name} holds secret {k}" for k in obj["data"] if k in secret_settings
            ]
    return problems
