"""What the deploy guides must say, in what order: protection before the first apply, images
from the project's own streams, unique names for manual Jobs, Rahti's policies found rather than
guessed, allow-lists the router can read, and docs/dashboard.md's Secret keys as the manifests
read them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.deploy_helpers import ROOT
from tests.deploy.doc_checker import check_command, code_blocks, commands, known_objects

DEPLOY_GUIDE = ROOT / "docs" / "deploy-rahti.md"
DASHBOARD_GUIDE = ROOT / "docs" / "dashboard.md"


def test_the_deploy_guide_covers_the_essentials() -> None:
    text = DEPLOY_GUIDE.read_text()
    flat = " ".join(text.split())
    for needle in (
        "allas-conf --mode S3",
        "openstack ec2 credentials create",
        "openstack ec2 credentials delete",
        "https://a3s.fi",
        "oc new-project",
        "oc apply -k k8s/overlays/mine",
        "--from=cronjob/",
        "oc logs",
        "oc scale deployment/bucketpipe-dashboard",
        "haproxy.router.openshift.io/ip_allowlist",
        "bucketpipe-lake-readonly",
        "image-registry.apps.2.rahti.csc.fi",
        "oc get cronjobs,jobs,pods",
        "oc create imagestream bucketpipe",
        "--reference-policy=local",
        "bucketpipe doctor",
        "CSC project of its own",
        "Rotating keys",
        "arn:aws:iam:::user/<reader user ID>",
        "--query Owner.ID",
        "tested on Ceph RGW",
        "whether they can write",
        "counted on limits",
        "budget of 800 MB",
        "403",
        "429",
        "ImagePullBackOff",
        "Read-only file system",
        "random UID",
        "QuotaExceeded",
        "60%",
    ):
        assert needle in flat, needle
    assert not re.search(r':root"', text), "arn:aws:iam::<id>:root names an RGW tenant"
    assert '"Principal": {"AWS": ["arn:aws:iam:::user/' in text
    assert "ip_whitelist" not in text, "the legacy annotation name"


def _first(text: str, needle: str) -> int:
    index = text.find(needle)
    assert index >= 0, needle
    return index


def test_the_guide_protects_before_it_applies() -> None:
    """Password, allow-list and image stream come before the first apply or push."""
    text = DEPLOY_GUIDE.read_text()
    first_apply = _first(text, "\noc apply -k")
    assert _first(text, "oc create secret generic bucketpipe-dashboard") < first_apply
    assert _first(text, "haproxy.router.openshift.io/ip_allowlist") < first_apply
    stream = _first(text, "oc create imagestream bucketpipe")
    assert stream < _first(text, "docker push") and stream < _first(text, "oc start-build")


def test_the_guide_imports_the_images_it_pulls() -> None:
    """Redis and the Dockerfile's base come from the project's image streams, by the same tag
    and digest the manifests and the Dockerfile pin."""
    lines = [argv for argv in commands(DEPLOY_GUIDE) if argv[:2] == ["oc", "import-image"]]
    sources = {next(a for a in argv if a.startswith("--from="))[7:] for argv in lines}
    dockerfile = (ROOT / "Dockerfile").read_text()
    digest = re.search(r"ARG PYTHON_IMAGE=\S+@(sha256:[0-9a-f]{64})", dockerfile)
    assert digest and f"docker.io/library/python@{digest[1]}" in sources
    redis = yaml.safe_load_all((ROOT / "k8s" / "deployments" / "redis.yaml").read_text())
    (image,) = {
        c["image"]
        for doc in redis
        if doc and doc["kind"] == "Deployment"
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    assert image in sources
    builds = [argv for argv in commands(DEPLOY_GUIDE) if argv[:2] == ["oc", "new-build"]]
    assert all(f"python@{digest[1]}" in " ".join(argv) for argv in builds) and builds


def test_manual_jobs_get_unique_names() -> None:
    """A reused Job name is a reused run id: the run would be a silent no-op."""
    created = [argv for argv in commands(DEPLOY_GUIDE) if argv[:3] == ["oc", "create", "job"]]
    assert len(created) >= 4
    for argv in created:
        assert argv[3] == "$name", " ".join(argv)
    assignments = re.findall(r"^name=(.+)$", DEPLOY_GUIDE.read_text(), re.M)
    assert assignments and all(a.endswith("-$(date +%s)") for a in assignments)
    flat = " ".join(DEPLOY_GUIDE.read_text().split())
    assert "a Job's name is its run id" in flat and "silently do nothing" in flat


def test_the_guide_finds_rahtis_policies_instead_of_guessing() -> None:
    text = DEPLOY_GUIDE.read_text()
    for guessed in ("allow-from-same-namespace", "allow-same-namespace"):
        assert guessed not in text
    assert "oc get networkpolicy -o yaml" in text


def test_allow_lists_in_the_guides_are_well_formed() -> None:
    """A malformed allow-list is ignored by the router, which then admits everyone."""
    schema = json.loads((Path(__file__).parent / "schemas" / "route.json").read_text())
    allow_list = {**schema["$defs"]["ipAllowList"], "$schema": schema["$schema"]}
    found = []
    for guide in (DEPLOY_GUIDE, DASHBOARD_GUIDE):
        flat = " ".join(guide.read_text().split())
        found += re.findall(r"e\.g\. `([0-9./: ]+)`", flat)
        found += [
            token.split("=", 1)[1].strip("'\"")
            for argv in commands(guide)
            for token in argv
            if token.startswith("haproxy.router.openshift.io/ip_allowlist=")
        ]
    assert found
    for value in found:
        jsonschema.validate(value, allow_list)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("193.166.0.0/16,203.0.113.7", allow_list)


def test_the_dashboard_guide_uses_the_keys_the_manifests_read(
    top_objects: list[dict[str, Any]],
) -> None:
    """docs/dashboard.md's commands and YAML name the Secrets and keys the Deployment reads."""
    known = known_objects(top_objects)
    problems: list[str] = []
    for argv in commands(DASHBOARD_GUIDE):
        check_command(argv, known, problems)
    assert not problems, "\n".join(problems)
    refs = [
        (ref["name"], ref["key"])
        for block in code_blocks(DASHBOARD_GUIDE, ("yaml",))
        for ref in _secret_key_refs(yaml.safe_load(block))
    ]
    for name, key in refs:
        assert key in known.secret_keys.get(name, {key}), f"docs/dashboard.md: {name}/{key}"
    secrets = [a for a in commands(DASHBOARD_GUIDE) if a[:3] == ["oc", "create", "secret"]]
    assert any("bucketpipe-dashboard" in argv for argv in secrets)


def _secret_key_refs(node: Any) -> Iterator[dict[str, str]]:
    if isinstance(node, dict):
        if "secretKeyRef" in node:
            yield node["secretKeyRef"]
        for value in node.values():
            yield from _secret_key_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _secret_key_refs(value)
