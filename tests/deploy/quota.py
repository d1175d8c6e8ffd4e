"""What can run at once, and what it costs against a Rahti project's quota.

Rahti counts LIMITS against the quota: a pod that may use 1 CPU takes 1 CPU of the project's 4
whether it uses it or not. So the question is not what runs on average but what can be alive at
the same minute: every Deployment's pods (replicas plus the surge of a rollout) and every CronJob
whose run may still be going. A run of a CronJob scheduled at minute m may start as late as
m + startingDeadlineSeconds, lives at most activeDeadlineSeconds, and its pods keep their quota
for the termination grace period after that. `concurrencyPolicy: Forbid` means one run per
CronJob at a time, so a CronJob counts at most once, with all its parallel pods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tests.deploy.deploy_helpers import (
    cpu_millicores,
    memory_bytes,
    minutes_of_day,
    objects_of,
    workloads,
)

DAY = 24 * 60
TERMINATION_GRACE_SECONDS = 30  # Kubernetes' default; no pod here sets another


@dataclass(frozen=True)
class Usage:
    """Limits summed over pods: CPU in millicores, memory and ephemeral storage in bytes."""

    cpu: float = 0.0
    memory: int = 0
    ephemeral: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu + other.cpu, self.memory + other.memory, self.ephemeral + other.ephemeral
        )

    def times(self, n: int) -> Usage:
        return Usage(self.cpu * n, self.memory * n, self.ephemeral * n)


@dataclass(frozen=True)
class Peak:
    """The highest sum of limits over a day, per resource, and what runs at that minute."""

    cpu: float
    cpu_running: tuple[str, ...]
    memory: int
    ephemeral: int


def pod_limits(pod_spec: dict[str, Any]) -> Usage:
    """A pod's limits: its containers' limits summed (init containers run before, one by one)."""
    total = Usage()
    for container in pod_spec["containers"]:
        limits = container.get("resources", {}).get("limits", {})
        total += Usage(
            cpu_millicores(limits.get("cpu", 0)),
            memory_bytes(limits.get("memory", 0)),
            memory_bytes(limits.get("ephemeral-storage", 0)),
        )
    for init in pod_spec.get("initContainers", []):
        limits = init.get("resources", {}).get("limits", {})
        total = Usage(
            max(total.cpu, cpu_millicores(limits.get("cpu", 0))),
            max(total.memory, memory_bytes(limits.get("memory", 0))),
            max(total.ephemeral, memory_bytes(limits.get("ephemeral-storage", 0))),
        )
    return total


def always_running(objects: list[dict[str, Any]]) -> dict[str, Usage]:
    """Deployments: their replicas plus the pods a rollout adds (maxSurge)."""
    out = {}
    for name, deployment in objects_of(objects, "Deployment").items():
        spec = deployment["spec"]
        surge = 0
        if spec.get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate":
            surge_value = spec.get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
            if isinstance(surge_value, str) and surge_value.endswith("%"):
                surge = math.ceil(spec["replicas"] * int(surge_value[:-1]) / 100)
            else:
                surge = int(surge_value)
        out[name] = pod_limits(spec["template"]["spec"]).times(spec["replicas"] + surge)
    return out


def run_windows(cronjob: dict[str, Any]) -> list[tuple[int, int]]:
    """(first minute, minutes) during which each scheduled run may hold its pods."""
    spec = cronjob["spec"]
    job = spec["jobTemplate"]["spec"]
    seconds = (
        spec.get("startingDeadlineSeconds", 0)
        + job["activeDeadlineSeconds"]
        + TERMINATION_GRACE_SECONDS
    )
    length = math.ceil(seconds / 60)
    return [(minute, length) for minute in minutes_of_day(spec["schedule"])]


def scheduled(objects: list[dict[str, Any]]) -> dict[str, tuple[Usage, set[int]]]:
    """Each active CronJob: the limits of one run (all its parallel pods) and the minutes of the
    day at which a run of it may be alive."""
    out = {}
    for workload in workloads(objects):
        if workload.kind != "CronJob" or workload.owner["spec"].get("suspend", False):
            continue
        parallel = workload.owner["spec"]["jobTemplate"]["spec"].get("parallelism", 1)
        minutes: set[int] = set()
        for start, length in run_windows(workload.owner):
            minutes.update((start + offset) % DAY for offset in range(length))
        out[workload.name] = (pod_limits(workload.pod_spec).times(parallel), minutes)
    return out


def peak(objects: list[dict[str, Any]]) -> Peak:
    """The highest limits that can be alive at one minute of the day, per resource."""
    base = Usage()
    for usage in always_running(objects).values():
        base += usage
    jobs = scheduled(objects)
    best_cpu, best_memory, best_ephemeral = -1.0, 0, 0
    running_at_best: tuple[str, ...] = ()
    for minute in range(DAY):
        running = sorted(name for name, (_, minutes) in jobs.items() if minute in minutes)
        total = base
        for name in running:
            total += jobs[name][0]
        if total.cpu > best_cpu:
            best_cpu, running_at_best = total.cpu, tuple(running)
        best_memory = max(best_memory, total.memory)
        best_ephemeral = max(best_ephemeral, total.ephemeral)
    return Peak(best_cpu, running_at_best, best_memory, best_ephemeral)
