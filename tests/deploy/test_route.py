"""The dashboard's OpenShift Route: valid against the schema kept in
tests/deploy/schemas/route.json, edge TLS with HSTS, connection rate limits, and an allow-list
under its current name that admits nobody until an overlay lists real networks."""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy.deploy_helpers import objects_of

ROUTE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "route.json").read_text())
ANNOTATION = "haproxy.router.openshift.io/"
ALLOW_LIST = ANNOTATION + "ip_allowlist"
LEGACY_ALLOW_LIST = ANNOTATION + "ip_whitelist"
# RFC 5737: documentation ranges no client on the internet has.
DOCUMENTATION = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24")]


def validate(route: dict[str, Any]) -> None:
    jsonschema.validate(route, ROUTE_SCHEMA, cls=jsonschema.Draft202012Validator)


def the_route(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return objects_of(objects, "Route")["bucketpipe-dashboard"]


def test_the_route_matches_the_openshift_route_schema(
    top_objects: list[dict[str, Any]], overlay_objects: list[dict[str, Any]]
) -> None:
    jsonschema.Draft202012Validator.check_schema(ROUTE_SCHEMA)
    for objects in (top_objects, overlay_objects):
        validate(the_route(objects))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["spec"]["tls"].update(termination="simple"), "unknown termination"),
        (lambda r: r["spec"]["tls"].update(insecureEdgeTerminationPolicy="Redirct"), "typo"),
        (lambda r: r["spec"].update(tsl={}), "unknown field"),
        (lambda r: r["spec"]["to"].update(kind="Deployment"), "only Services are backends"),
        (
            lambda r: r["metadata"]["annotations"].update({ALLOW_LIST: "193.166.0.0/16,10.0.0.1"}),
            "comma-separated allow-list (the router would ignore it and allow everyone)",
        ),
        (
            lambda r: r["metadata"]["annotations"].update({ANNOTATION + "hsts_header": "1 year"}),
            "an HSTS header the router cannot use",
        ),
        (
            lambda r: r["metadata"]["annotations"].update(
                {ANNOTATION + "rate-limit-connections.rate-http": "many"}
            ),
            "a rate limit that is not a number",
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
    route = copy.deepcopy(the_route(top_objects))
    change(route)
    with pytest.raises(jsonschema.ValidationError):
        validate(route)


def test_the_route_schema_accepts_a_valid_allow_list(top_objects: list[dict[str, Any]]) -> None:
    route = copy.deepcopy(the_route(top_objects))
    route["metadata"]["annotations"][ALLOW_LIST] = "193.166.0.0/16 203.0.113.7 2001:db8::/32"
    validate(route)


def test_the_route_is_edge_tls_with_redirect_and_hsts(
    top_objects: list[dict[str, Any]],
) -> None:
    route = the_route(top_objects)
    assert route["spec"]["tls"] == {
        "termination": "edge",
        "insecureEdgeTerminationPolicy": "Redirect",
    }
    hsts = route["metadata"]["annotations"][ANNOTATION + "hsts_header"]
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 180 * 86400  # half a year at least
    services = objects_of(top_objects, "Service")
    target = services[route["spec"]["to"]["name"]]
    assert route["spec"]["port"]["targetPort"] in {p["name"] for p in target["spec"]["ports"]}


def test_the_route_limits_connections_per_client(top_objects: list[dict[str, Any]]) -> None:
    annotations = the_route(top_objects)["metadata"]["annotations"]
    assert annotations[ANNOTATION + "rate-limit-connections"] == "true"
    for limit in ("concurrent-tcp", "rate-tcp", "rate-http"):
        value = int(annotations[f"{ANNOTATION}rate-limit-connections.{limit}"])
        # Enough for a few dozen people behind one NAT, too few for a flood from one address.
        assert 50 <= value <= 1000, limit


def _allowed(route: dict[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    annotations = route["metadata"]["annotations"]
    assert LEGACY_ALLOW_LIST not in annotations, "use ip_allowlist, not the legacy ip_whitelist"
    return [ipaddress.ip_network(entry) for entry in annotations[ALLOW_LIST].split()]


def test_the_route_is_closed_until_an_overlay_lists_networks(
    top_objects: list[dict[str, Any]], overlay_objects: list[dict[str, Any]]
) -> None:
    """Without an overlay the Route admits only documentation addresses, that is nobody; the
    example overlay replaces them (with documentation ranges too: it must be edited)."""
    shipped = _allowed(the_route(top_objects))
    assert shipped and all(any(n.subnet_of(d) for d in DOCUMENTATION) for n in shipped)  # type: ignore[arg-type]
    example = _allowed(the_route(overlay_objects))
    assert example and example != shipped
    assert all(any(n.subnet_of(d) for d in DOCUMENTATION) for n in example)  # type: ignore[arg-type]
    assert not any(n.prefixlen == 0 for n in example), "0.0.0.0/0 is no allow-list"
