"""The manifests render with kustomize and validate strictly against the Kubernetes API schemas;
the OpenShift Route validates against the schema kept in tests/deploy/schemas/route.json."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kubernetes_validate import utils as kv

from tests.deploy.deploy_helpers import EXAMPLE_OVERLAY, K8S, kubectl, objects_of, render

# The oldest Kubernetes we check against (OKD 4.17 runs 1.30), the one Rahti runs now (OKD 4.22,
# Kubernetes 1.35, per CSC's Rahti documentation) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.35.0", kv.latest_version())
ROUTE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "route.json").read_text())

# Kinds that are not Kubernetes core APIs, with the schema that checks them instead (the
# monitoring component's ServiceMonitor and PrometheusRule: tests/deploy/test_monitoring.py).
OPENSHIFT_KINDS = {"Route", "ServiceMonitor", "PrometheusRule"}


def validate_kubernetes(obj: dict[str, Any], version: str) -> None:
    """Strict validation (unknown fields are errors); a kind without a schema is an error too."""
    kv.validate(obj, version, strict=True)


def test_every_rendering_has_the_expected_objects(top_objects: list[dict[str, Any]]) -> None:
    kinds = sorted({(o["kind"], o["metadata"]["name"]) for o in top_objects})
    assert ("CronJob", "bucketpipe-ingest-finnhub") in kinds
    assert ("CronJob", "bucketpipe-ingest-finnhub-sharded") in kinds
    assert ("CronJob", "bucketpipe-ingest-bucket") in kinds
    assert ("CronJob", "bucketpipe-clean") in kinds
    assert ("CronJob", "bucketpipe-compact") in kinds
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


def test_kubectl_kustomize_piped_into_kubernetes_validate_cli() -> None:
    """The issue's check, literally: `kubectl kustomize k8s | kubernetes-validate --strict -`."""
    rendered = subprocess.run(
        [kubectl(), "kustomize", str(K8S)], capture_output=True, text=True, check=True, timeout=120
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
    # Only the Route is left to its own schema (below); nothing else may lack a schema.
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert warnings and all("kind Route" in line for line in warnings), warnings


def test_the_route_matches_the_openshift_route_schema(
    every_rendering: list[dict[str, Any]],
) -> None:
    jsonschema.Draft202012Validator.check_schema(ROUTE_SCHEMA)
    routes = objects_of(every_rendering, "Route")
    assert routes
    for route in routes.values():
        jsonschema.validate(route, ROUTE_SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["spec"]["tls"].update(termination="simple"), "unknown termination"),
        (lambda r: r["spec"]["tls"].update(insecureEdgeTerminationPolicy="Redirct"), "typo"),
        (lambda r: r["spec"].update(tsl={}), "unknown field"),
        (lambda r: r["spec"]["to"].update(kind="Deployment"), "only Services are backends"),
        (
            lambda r: r["metadata"]["annotations"].update(
                {"haproxy.router.openshift.io/ip_whitelist": "193.166.0.0/16,10.0.0.1"}
            ),
            "comma-separated allow-list (the router would ignore it and allow everyone)",
        ),
        (
            lambda r: (
                r["spec"]["tls"].update(termination="passthrough"),
                r["spec"].update(path="/x"),
            ),
            "passthrough routes cannot have a path",
        ),
        (lambda r: r["spec"].pop("to"), "a route needs a backend"),
    ],
)
def test_the_route_schema_rejects_broken_routes(
    top_objects: list[dict[str, Any]], change: Any, reason: str
) -> None:
    route = copy.deepcopy(objects_of(top_objects, "Route")["bucketpipe-dashboard"])
    route["metadata"].setdefault("annotations", {})
    change(route)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(route, ROUTE_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_route_schema_accepts_a_valid_allow_list(top_objects: list[dict[str, Any]]) -> None:
    route = copy.deepcopy(objects_of(top_objects, "Route")["bucketpipe-dashboard"])
    route["metadata"]["annotations"]["haproxy.router.openshift.io/ip_whitelist"] = (
        "193.166.0.0/16 203.0.113.7 2001:db8::/32"
    )
    jsonschema.validate(route, ROUTE_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_route_is_edge_tls_with_redirect(top_objects: list[dict[str, Any]]) -> None:
    route = objects_of(top_objects, "Route")["bucketpipe-dashboard"]
    assert route["spec"]["tls"] == {
        "termination": "edge",
        "insecureEdgeTerminationPolicy": "Redirect",
    }
    services = objects_of(top_objects, "Service")
    target = services[route["spec"]["to"]["name"]]
    assert route["spec"]["port"]["targetPort"] in {p["name"] for p in target["spec"]["ports"]}


def test_the_base_and_k8s_render_the_same(
    top_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    assert top_objects == base_objects


def test_the_example_overlay_sets_namespace_image_bucket_and_schedule(
    overlay_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    assert {o["metadata"].get("namespace") for o in overlay_objects} == {"my-rahti-project"}
    images = {
        c["image"] for o in overlay_objects for c in _containers(o) if "redis" not in c["image"]
    }
    assert images == {
        "image-registry.openshift-image-registry.svc:5000/my-rahti-project/bucketpipe:0.1.0"
    }
    (config,) = objects_of(overlay_objects, "ConfigMap").values()
    assert config["data"]["BUCKETPIPE_LAKE"] == "s3://my-project-bucketpipe/lake"
    assert config["data"]["AWS_ENDPOINT_URL"] == "https://a3s.fi"  # merged, not replaced
    base_schedule = objects_of(base_objects, "CronJob")["bucketpipe-ingest-finnhub"]["spec"]
    schedule = objects_of(overlay_objects, "CronJob")["bucketpipe-ingest-finnhub"]["spec"]
    assert schedule["schedule"] == "0,30 * * * *" != base_schedule["schedule"]


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
    option = re.compile(r"^(\s*)# ((?:- |  +)\S.*|components:\s*)$")
    return "\n".join(option.sub(r"\1\2", line) for line in text.splitlines()) + "\n"


def test_the_example_overlay_options_work_when_uncommented(tmp_path: Path) -> None:
    text = uncomment_options((EXAMPLE_OVERLAY / "kustomization.yaml").read_text())
    assert text.count("# - target:") == 0 and "\ncomponents:" in text
    k8s = os.path.relpath(K8S, tmp_path)
    text = text.replace("../../", f"{k8s}/")
    (tmp_path / "kustomization.yaml").write_text(text)
    objects = render(tmp_path)
    cronjobs = objects_of(objects, "CronJob")
    assert cronjobs["bucketpipe-ingest-bucket"]["spec"]["suspend"] is False
    assert cronjobs["bucketpipe-ingest-finnhub"]["spec"]["suspend"] is True
    assert cronjobs["bucketpipe-ingest-finnhub-sharded"]["spec"]["suspend"] is False
    (config,) = objects_of(objects, "ConfigMap").values()
    assert config["data"]["BUCKETPIPE_SOURCE"].startswith("s3://")
    route = objects_of(objects, "Route")["bucketpipe-dashboard"]
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/ip_whitelist"]
    jsonschema.validate(route, ROUTE_SCHEMA, cls=jsonschema.Draft202012Validator)
    for obj in objects:
        if obj["kind"] not in OPENSHIFT_KINDS:
            validate_kubernetes(obj, KUBERNETES_VERSIONS[1])
