"""The manifests render with kustomize, validate strictly against the Kubernetes API schemas, and
render exactly what is checked in under tests/deploy/renders/. The base is plain Kubernetes; the
OpenShift objects come from k8s/components/openshift; the CronJobs come from one template."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kv

from tests.deploy.deploy_helpers import (
    BASE,
    CRONJOBS,
    EXAMPLE_OVERLAY,
    K8S,
    RENDERS,
    kubectl,
    objects_of,
    overlay_of,
    render,
)

# The oldest Kubernetes we check against (OKD 4.17 runs 1.30), the one Rahti runs now (OKD 4.22,
# Kubernetes 1.35, per CSC's Rahti documentation) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.35.0", kv.latest_version())

# Kinds that are not Kubernetes core APIs, each checked against its own schema instead
# (test_route.py; the monitoring component's ServiceMonitor and PrometheusRule: test_monitoring.py).
OPENSHIFT_KINDS = {"Route", "ServiceMonitor", "PrometheusRule"}
CRONJOB_NAMES = {
    "bucketpipe-ingest-finnhub",
    "bucketpipe-ingest-finnhub-sharded",
    "bucketpipe-ingest-bucket",
    "bucketpipe-ingest-demo",
    "bucketpipe-clean",
    "bucketpipe-compact",
    "bucketpipe-status",
    "bucketpipe-doctor",
}
GOLDEN = {"k8s.yaml": K8S, "example.yaml": EXAMPLE_OVERLAY}


def validate_kubernetes(obj: dict[str, Any], version: str) -> None:
    """Strict validation (unknown fields are errors); a kind without a schema is an error too."""
    kv.validate(obj, version, strict=True)


def test_every_rendering_has_the_expected_objects(top_objects: list[dict[str, Any]]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in top_objects}
    assert {name for kind, name in kinds if kind == "CronJob"} == CRONJOB_NAMES
    assert ("Deployment", "bucketpipe-redis") in kinds
    assert ("Deployment", "bucketpipe-dashboard") in kinds
    assert ("Route", "bucketpipe-dashboard") in kinds
    assert {k for k, _ in kinds} >= {"Service", "NetworkPolicy", "ConfigMap"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_objects_pass_strict_kubernetes_validation(
    every_rendering: list[dict[str, Any]], version: str
) -> None:
    checked = 0
    for obj in every_rendering:
        if obj["kind"] in OPENSHIFT_KINDS:
            continue
        validate_kubernetes(obj, version)
        checked += 1
    assert checked >= 10


def test_strict_validation_rejects_an_unknown_field(top_objects: list[dict[str, Any]]) -> None:
    """The check above can fail: a misspelt field is an error in strict mode."""
    cronjob = copy.deepcopy(objects_of(top_objects, "CronJob")["bucketpipe-clean"])
    cronjob["spec"]["concurrencyPolicyy"] = "Forbid"
    with pytest.raises(kv.ValidationError):
        validate_kubernetes(cronjob, KUBERNETES_VERSIONS[-1])


def _validate_cli(directory: Path) -> list[str]:
    """`kubectl kustomize DIR | kubernetes-validate --strict -`: its WARN lines (kinds it has no
    schema for); fails on any error."""
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    cli = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run(
        [str(cli), "--strict", "--quiet", "-k", KUBERNETES_VERSIONS[-1], "-"],
        input=rendered,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("WARN")]


def test_kubectl_kustomize_piped_into_kubernetes_validate_cli() -> None:
    """The Rahti render: only the Route is left to its own schema (test_route.py)."""
    warnings = _validate_cli(K8S)
    assert warnings and all("kind Route" in line for line in warnings), warnings


def test_the_base_is_plain_kubernetes(base_objects: list[dict[str, Any]]) -> None:
    """`kubectl apply -k k8s/base` works on any cluster: every object has a Kubernetes schema and
    nothing selects OpenShift's namespaces."""
    assert _validate_cli(BASE) == []
    assert not [o for o in base_objects if o["kind"] in OPENSHIFT_KINDS]
    assert "openshift.io" not in yaml.safe_dump(objects_of(base_objects, "NetworkPolicy"))


def test_k8s_is_the_base_plus_the_openshift_component(
    top_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in top_objects}
    base_names = {(o["kind"], o["metadata"]["name"]) for o in base_objects}
    assert names - base_names == {
        ("Route", "bucketpipe-dashboard"),
        ("NetworkPolicy", "bucketpipe-dashboard-from-router"),
    }
    assert [o for o in top_objects if (o["kind"], o["metadata"]["name"]) in base_names] == (
        base_objects
    )


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_renders_match_the_checked_in_ones(name: str) -> None:
    """Any change to what the cluster receives is a reviewed diff of tests/deploy/renders/."""
    expected = list(yaml.safe_load_all((RENDERS / name).read_text()))
    rendered = render(GOLDEN[name])
    assert rendered == [doc for doc in expected if doc], (
        f"kubectl kustomize {GOLDEN[name].relative_to(K8S.parent)} differs from "
        f"tests/deploy/renders/{name}: run `make k8s-renders` and review the diff"
    )


def test_one_cronjob_template_and_no_copies() -> None:
    """Every CronJob is made from k8s/cronjobs/template; the job folders hold only patches."""
    defining = [
        path.relative_to(CRONJOBS).as_posix()
        for path in sorted(CRONJOBS.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "CronJob"
    ]
    assert defining == ["template/cronjob.yaml"]
    for folder in sorted(p for p in CRONJOBS.iterdir() if p.is_dir()):
        files = sorted(p.name for p in folder.rglob("*") if p.is_file())
        if folder.name != "template":
            assert all(f == "kustomization.yaml" for f in files), folder
    top = yaml.safe_load((CRONJOBS / "kustomization.yaml").read_text())
    for job in top["resources"]:
        kustomization = yaml.safe_load((CRONJOBS / job / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../template"], job
        assert f"bucketpipe{kustomization['nameSuffix']}" in CRONJOB_NAMES, job


def test_every_cronjob_sets_its_schedule_and_command(base_objects: list[dict[str, Any]]) -> None:
    """No job inherits the template's placeholder schedule or `--help` unless it is suspended."""
    for name, cronjob in objects_of(base_objects, "CronJob").items():
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["args"] != ["--help"], name
        component = cronjob["metadata"]["labels"]["app.kubernetes.io/component"]
        assert name.removeprefix("bucketpipe-").startswith(component), name
        if not cronjob["spec"].get("suspend", False):
            assert cronjob["spec"]["schedule"] != "0 0 * * *", name


def test_the_example_overlay_sets_namespace_images_bucket_and_schedules(
    overlay_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    assert {o["metadata"].get("namespace") for o in overlay_objects} == {"my-rahti-project"}
    images = {c["image"] for o in overlay_objects for c in _containers(o)}
    registry = "image-registry.openshift-image-registry.svc:5000/my-rahti-project/"
    # Both images come from the project's image streams: nothing is pulled from Docker Hub.
    assert images == {f"{registry}bucketpipe:0.1.0", f"{registry}redis:7.4.6-alpine"}
    (config,) = objects_of(overlay_objects, "ConfigMap").values()
    assert config["data"]["BUCKETPIPE_LAKE"] == "s3://my-project-bucketpipe/lake"
    assert config["data"]["AWS_ENDPOINT_URL"] == "https://a3s.fi"  # merged, not replaced
    base = objects_of(base_objects, "CronJob")
    overlay = objects_of(overlay_objects, "CronJob")
    for name in overlay:
        if name.startswith("bucketpipe-ingest-") and name != "bucketpipe-ingest-demo":
            # Every scheduled ingest is re-scheduled, the sharded one included.
            assert overlay[name]["spec"]["schedule"] != base[name]["spec"]["schedule"], name
    assert overlay["bucketpipe-ingest-finnhub"]["spec"]["schedule"] == "0,30 * * * *"


def test_workloads_refer_to_the_generated_configmap(every_rendering: list[dict[str, Any]]) -> None:
    (config,) = objects_of(every_rendering, "ConfigMap").values()
    refs = {
        ref["configMapRef"]["name"]
        for o in every_rendering
        for c in _containers(o)
        for ref in c.get("envFrom", [])
        if "configMapRef" in ref
    }
    assert refs == {config["metadata"]["name"]}
    assert config["metadata"]["name"].startswith("bucketpipe-config-")  # content hash suffix


def test_the_sharded_component_swaps_the_finnhub_ingest(
    sharded_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    def suspended(objects: list[dict[str, Any]], name: str) -> bool:
        return bool(objects_of(objects, "CronJob")[name]["spec"].get("suspend", False))

    assert not suspended(base_objects, "bucketpipe-ingest-finnhub")
    assert suspended(base_objects, "bucketpipe-ingest-finnhub-sharded")
    assert suspended(sharded_objects, "bucketpipe-ingest-finnhub")
    assert not suspended(sharded_objects, "bucketpipe-ingest-finnhub-sharded")


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]["template"]["spec"]
    elif "template" in spec:
        spec = spec["template"]["spec"]
    else:
        return []
    return list(spec.get("containers", []))


def uncomment_options(text: str) -> str:
    """The example overlay with its commented-out options switched on."""
    option = re.compile(r"^(\s*)# ((?:- |  +)\S.*)$")
    return "\n".join(option.sub(r"\1\2", line) for line in text.splitlines()) + "\n"


def test_the_example_overlay_options_work_when_uncommented(tmp_path: Path) -> None:
    text = uncomment_options((EXAMPLE_OVERLAY / "kustomization.yaml").read_text())
    assert text.count("# - target:") == 0 and "  - ../../components/finnhub-sharded" in text
    objects = render(overlay_of(text, tmp_path))
    cronjobs = objects_of(objects, "CronJob")
    assert cronjobs["bucketpipe-ingest-bucket"]["spec"]["suspend"] is False
    assert cronjobs["bucketpipe-ingest-finnhub"]["spec"]["suspend"] is True
    assert cronjobs["bucketpipe-ingest-finnhub-sharded"]["spec"]["suspend"] is False
    (config,) = objects_of(objects, "ConfigMap").values()
    assert config["data"]["BUCKETPIPE_SOURCE"].startswith("s3://")
    for obj in objects:
        if obj["kind"] not in OPENSHIFT_KINDS:
            validate_kubernetes(obj, KUBERNETES_VERSIONS[1])
