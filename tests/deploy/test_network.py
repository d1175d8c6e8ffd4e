"""NetworkPolicies that isolate, checked on the rendered manifests: every pod is selected for
ingress and egress, Redis talks to nobody, the dashboard and the jobs reach only DNS, Redis and
HTTPS on public addresses, and the router is admitted through OpenShift's current policy-group
label with `podSelector: {}` in the same peer."""

from __future__ import annotations

import ipaddress
from typing import Any

from tests.deploy.deploy_helpers import matches, objects_of, workloads

ROUTER_PEER = {
    "namespaceSelector": {"matchLabels": {"policy-group.network.openshift.io/ingress": ""}},
    "podSelector": {},
}
LEGACY_ROUTER_LABEL = "network.openshift.io/policy-group"
REDIS = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "redis"}


def _policies_for(
    objects: list[dict[str, Any]], labels: dict[str, str], direction: str
) -> list[dict[str, Any]]:
    return [
        policy
        for policy in objects_of(objects, "NetworkPolicy").values()
        if direction in policy["spec"].get("policyTypes", ["Ingress"])
        and matches(policy["spec"]["podSelector"], labels)
    ]


def _egress_rules(objects: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    return [r for p in _policies_for(objects, labels, "Egress") for r in p["spec"]["egress"]]


def test_every_pod_is_isolated_in_both_directions(
    every_rendering: list[dict[str, Any]],
) -> None:
    """A pod no policy selects for a direction is open in that direction."""
    for workload in workloads(every_rendering):
        for direction in ("Ingress", "Egress"):
            assert _policies_for(every_rendering, workload.labels, direction), (
                f"{workload.name}: no {direction} policy selects it"
            )


def test_redis_admits_only_its_clients_and_connects_nowhere(
    every_rendering: list[dict[str, Any]],
) -> None:
    assert _egress_rules(every_rendering, REDIS) == []
    policies = objects_of(every_rendering, "NetworkPolicy")
    allowed = policies["bucketpipe-redis"]["spec"]["ingress"][0]["from"][0]["podSelector"]
    for workload in workloads(every_rendering):
        uses_redis = any(
            e["name"] == "REDIS_PASSWORD"
            for c in workload.containers()
            if c["name"] != "redis"
            for e in c.get("env", [])
        )
        labelled = matches(allowed, workload.labels)
        assert uses_redis == labelled, (
            f"{workload.name}: uses Redis {uses_redis}, allowed {labelled}"
        )


def test_the_dashboard_and_jobs_reach_only_dns_redis_and_public_https(
    every_rendering: list[dict[str, Any]],
) -> None:
    for workload in workloads(every_rendering):
        if workload.labels.get("app.kubernetes.io/name") != "bucketpipe":
            continue
        rules = _egress_rules(every_rendering, workload.labels)
        kinds = set()
        for rule in rules:
            ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
            (peer,) = rule["to"]
            if ports <= {(proto, port) for proto in ("UDP", "TCP") for port in (53, 5353)}:
                names = peer["namespaceSelector"]["matchExpressions"][0]["values"]
                assert set(names) == {"openshift-dns", "kube-system"}
                kinds.add("dns")
            elif ports == {("TCP", 6379)}:
                assert peer == {"podSelector": {"matchLabels": REDIS}}
                kinds.add("redis")
            elif ports == {("TCP", 443)}:
                block = peer["ipBlock"]
                assert block["cidr"] == "0.0.0.0/0"
                excluded = [ipaddress.ip_network(n) for n in block["except"]]
                for internal in ("10.128.0.1", "172.30.0.1", "169.254.169.254", "100.64.0.1"):
                    assert any(ipaddress.ip_address(internal) in n for n in excluded), internal
                kinds.add("https")
            else:
                raise AssertionError(f"{workload.name}: unexpected egress rule {rule}")
        assert kinds == {"dns", "redis", "https"}, workload.name


def test_nothing_comes_into_the_jobs(every_rendering: list[dict[str, Any]]) -> None:
    for workload in workloads(every_rendering):
        if workload.kind != "CronJob":
            continue
        policies = _policies_for(every_rendering, workload.labels, "Ingress")
        assert all(p["spec"].get("ingress", []) == [] for p in policies), workload.name


def test_only_the_router_reaches_the_dashboard_on_openshift(
    top_objects: list[dict[str, Any]],
    base_objects: list[dict[str, Any]],
    overlay_objects: list[dict[str, Any]],
) -> None:
    (dashboard,) = [w for w in workloads(base_objects) if w.name == "bucketpipe-dashboard"]
    base_rules = [
        rule
        for p in _policies_for(base_objects, dashboard.labels, "Ingress")
        for rule in p["spec"]["ingress"]
    ]
    assert base_rules == []  # plain Kubernetes: nothing, until you add your ingress controller
    for objects in (top_objects, overlay_objects):
        rules = [
            rule
            for p in _policies_for(objects, dashboard.labels, "Ingress")
            for rule in p["spec"]["ingress"]
        ]
        assert rules == [{"from": [ROUTER_PEER], "ports": [{"protocol": "TCP", "port": 8501}]}]


def test_no_policy_uses_the_legacy_router_label(every_rendering: list[dict[str, Any]]) -> None:
    for name, policy in objects_of(every_rendering, "NetworkPolicy").items():
        assert LEGACY_ROUTER_LABEL not in str(policy), name


def test_ingress_rules_open_only_ports_the_pods_serve(
    every_rendering: list[dict[str, Any]],
) -> None:
    pods = list(workloads(every_rendering))
    for name, policy in objects_of(every_rendering, "NetworkPolicy").items():
        selected = [w for w in pods if matches(policy["spec"]["podSelector"], w.labels)]
        assert selected, f"NetworkPolicy {name} selects no pod"
        ports = {
            port["containerPort"]
            for workload in selected
            for container in workload.containers()
            for port in container.get("ports", [])
        }
        for rule in policy["spec"].get("ingress", []):
            assert {p["port"] for p in rule["ports"]} <= ports, name
