"""The monitoring component: off in the base, on in the example overlay; its ServiceMonitor and
PrometheusRule validate against the schemas in tests/deploy/schemas/ (kubernetes-validate does
not know these CRDs) and its alert expressions are valid PromQL. That every series they name is
exported is checked against a real scrape in tests/integration/test_metrics.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest

from tests.deploy.deploy_helpers import objects_of

SCHEMAS = Path(__file__).parent / "schemas"
SERVICE_MONITOR = json.loads((SCHEMAS / "servicemonitor.json").read_text())
PROMETHEUS_RULE = json.loads((SCHEMAS / "prometheusrule.json").read_text())
REQUIRED_ALERTS = {
    "BucketpipeDatasetStale",
    "BucketpipeJobFailing",
    "BucketpipeQualityBelowThreshold",
    "BucketpipeLakeObjectsHigh",
    "BucketpipeFinnhubRateLimited",
}


def validate(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)


def test_the_component_is_off_in_the_base_and_on_in_the_example(
    base_objects: list[dict[str, Any]], overlay_objects: list[dict[str, Any]]
) -> None:
    kinds = {"ServiceMonitor", "PrometheusRule"}
    assert not [o for o in base_objects if o["kind"] in kinds]
    assert "bucketpipe-metrics" not in objects_of(base_objects, "Deployment")
    assert {o["kind"] for o in overlay_objects} >= kinds
    assert "bucketpipe-metrics" in objects_of(overlay_objects, "Deployment")


def test_the_crds_match_their_schemas(overlay_objects: list[dict[str, Any]]) -> None:
    for schema in (SERVICE_MONITOR, PROMETHEUS_RULE):
        jsonschema.Draft202012Validator.check_schema(schema)
    (monitor,) = objects_of(overlay_objects, "ServiceMonitor").values()
    (rule,) = objects_of(overlay_objects, "PrometheusRule").values()
    validate(monitor, SERVICE_MONITOR)
    validate(rule, PROMETHEUS_RULE)


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("ServiceMonitor", lambda o: o["spec"]["endpoints"][0].update(intervall="60s")),
        ("ServiceMonitor", lambda o: o["spec"]["endpoints"][0].update(interval="1 minute")),
        ("ServiceMonitor", lambda o: o["spec"].pop("selector")),
        ("PrometheusRule", lambda o: o["spec"]["groups"][0]["rules"][0].update(fro="5m")),
        ("PrometheusRule", lambda o: o["spec"]["groups"][0]["rules"][0].pop("expr")),
        (
            "PrometheusRule",
            lambda o: o["spec"]["groups"][0]["rules"][0]["labels"].update(severity="page"),
        ),
    ],
)
def test_the_schemas_reject_broken_objects(
    overlay_objects: list[dict[str, Any]], kind: str, change: Any
) -> None:
    (obj,) = copy.deepcopy(objects_of(overlay_objects, kind)).values()
    change(obj)
    schema = SERVICE_MONITOR if kind == "ServiceMonitor" else PROMETHEUS_RULE
    with pytest.raises(jsonschema.ValidationError):
        validate(obj, schema)


def test_the_service_monitor_scrapes_the_metrics_service(
    overlay_objects: list[dict[str, Any]],
) -> None:
    (monitor,) = objects_of(overlay_objects, "ServiceMonitor").values()
    service = objects_of(overlay_objects, "Service")["bucketpipe-metrics"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    # The series carry the Bucketpipe job in `job`: the scrape must not rename it.
    assert all(e["honorLabels"] for e in monitor["spec"]["endpoints"])
    deployment = objects_of(overlay_objects, "Deployment")["bucketpipe-metrics"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_every_alert_is_there_and_valid_promql(overlay_objects: list[dict[str, Any]]) -> None:
    (rule,) = objects_of(overlay_objects, "PrometheusRule").values()
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} >= REQUIRED_ALERTS
    for r in rules:
        promql_parser.parse(r["expr"])  # raises on a syntax error
    with pytest.raises(ValueError, match="invalid promql"):
        promql_parser.parse("bucketpipe_lake_objects >")


def test_the_metrics_pod_probes_mean_something(overlay_objects: list[dict[str, Any]]) -> None:
    deployment = objects_of(overlay_objects, "Deployment")["bucketpipe-metrics"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][:1] == ["metrics"]
    limits = container["resources"]["limits"]
    assert (
        "ephemeral-storage" in limits and "ephemeral-storage" in container["resources"]["requests"]
    )
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == (
        "bucketpipe-lake-readonly"
    )


def test_every_cronjob_gets_the_webhook_from_an_optional_secret(
    overlay_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    def webhook_env(obj: dict[str, Any]) -> list[dict[str, Any]]:
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return [
            e
            for e in spec["containers"][0].get("env", [])
            if e["name"] == "BUCKETPIPE_ALERT_WEBHOOK_URL"
        ]

    for cronjob in objects_of(overlay_objects, "CronJob").values():
        (entry,) = webhook_env(cronjob)
        ref = entry["valueFrom"]["secretKeyRef"]
        assert ref == {
            "name": "bucketpipe-alerts",
            "key": "BUCKETPIPE_ALERT_WEBHOOK_URL",
            "optional": True,
        }
    assert not [c for c in objects_of(base_objects, "CronJob").values() if webhook_env(c)]
