"""The deploy guides' commands refer to files that exist and to objects the manifests create:
paths, CronJobs, Deployments, Routes, Secrets and their keys, labels, compose services, and
`bucketpipe` command lines the real CLI accepts."""

from __future__ import annotations

import json
import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import COMPOSE, ROOT, parses, workloads

DEPLOY_GUIDE = ROOT / "docs" / "deploy-rahti.md"
LOCAL_GUIDE = ROOT / "docs" / "local.md"

# Objects a Rahti project has before Bucketpipe arrives (the default network policies) and that
# the guide's own commands create (the image stream of `oc new-build`, a pull secret).
RAHTI_DEFAULTS = {
    ("NetworkPolicy", "allow-from-same-namespace"),
    ("NetworkPolicy", "allow-same-namespace"),
    ("NetworkPolicy", "allow-from-openshift-ingress"),
}
KINDS = {
    "cronjob": "CronJob",
    "cronjobs": "CronJob",
    "cj": "CronJob",
    "job": "Job",
    "jobs": "Job",
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "route": "Route",
    "svc": "Service",
    "service": "Service",
    "secret": "Secret",
    "networkpolicy": "NetworkPolicy",
    "netpol": "NetworkPolicy",
    "configmap": "ConfigMap",
    "imagestream": "ImageStream",
    "is": "ImageStream",
    "istag": "ImageStreamTag",
    "bc": "BuildConfig",
}
# Files the guides have the reader create: the copied overlay, local/.env (local/init-env.sh).
CREATED_BY_THE_READER = {"local/.env"}
PATH_TOKEN = re.compile(r"^(?:\.\./)*(?:k8s|local|docs|tests|\.github)/[\w./-]*$|^Dockerfile$")


def code_blocks(path: Path, languages: tuple[str, ...]) -> Iterator[str]:
    text = path.read_text()
    for match in re.finditer(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```", text, re.S | re.M):
        if match[1] in languages:
            yield textwrap.dedent(match[2])


def commands(path: Path) -> Iterator[list[str]]:
    """Shell command lines of the guide's sh blocks, continuations joined, heredocs skipped."""
    for block in code_blocks(path, ("sh", "bash")):
        heredoc_end: str | None = None
        pending = ""
        for raw in block.splitlines():
            if heredoc_end is not None:
                if raw.strip() == heredoc_end:
                    heredoc_end = None
                continue
            line = pending + raw.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            marker = re.search(r"<<-?'?(\w+)'?", line)
            if marker:
                heredoc_end = marker[1]
                line = line[: marker.start()]
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                if part.strip() and not part.lstrip().startswith("#"):
                    yield shlex.split(part, comments=True)


@dataclass
class Known:
    """Objects and paths the guide may refer to."""

    objects: set[tuple[str, str]]
    secret_keys: dict[str, set[str]]
    labels: set[tuple[str, str]]
    cronjob_names: set[str]
    path_aliases: dict[str, str] = field(default_factory=dict)

    def has(self, kind: str, name: str) -> bool:
        if (kind, name) in self.objects or (kind, name) in RAHTI_DEFAULTS:
            return True
        if kind == "Job":  # a CronJob's Job: <cronjob>-<scheduled minute>
            prefix, _, minute = name.rpartition("-")
            return prefix in self.cronjob_names and minute.isdigit()
        return False

    def path_exists(self, token: str) -> bool:
        path = token.rstrip(".,:;")
        for alias, source in self.path_aliases.items():
            if path == alias or path.startswith(alias + "/"):
                path = source + path[len(alias) :]
        return (ROOT / path).exists()


def known_objects(objects: list[dict[str, Any]]) -> Known:
    known = Known(set(), {}, set(), set())
    for obj in objects:
        name = obj["metadata"]["name"]
        known.objects.add((obj["kind"], name))
        if obj["kind"] == "CronJob":
            known.cronjob_names.add(name)
    for workload in workloads(objects):
        known.labels |= set(workload.labels.items())
        for container in workload.containers():
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    known.objects.add(("Secret", ref["name"]))
                    known.secret_keys.setdefault(ref["name"], set()).add(ref["key"])
    return known


def check_command(argv: list[str], known: Known, problems: list[str]) -> None:
    """Record in PROBLEMS what ARGV refers to that does not exist."""
    where = " ".join(argv)
    # Paths first: `cp -r SRC DST` makes DST an alias of SRC for later commands.
    if argv[:2] == ["cp", "-r"] and len(argv) == 4:
        known.path_aliases[argv[3].rstrip("/")] = argv[2].rstrip("/")
    for token in argv:
        value = token.split("=", 1)[1] if token.startswith("-") and "=" in token else token
        if PATH_TOKEN.match(value) and not known.path_exists(value):
            problems.append(f"{where}: no file {value}")
    # `bucketpipe ...`, also after `--` (oc exec ... -- bucketpipe config).
    for index, token in enumerate(argv):
        is_command = token == "bucketpipe" and (index == 0 or argv[index - 1] == "--")
        if is_command and not parses(build_parser(), argv[index + 1 :]):
            problems.append(f"{where}: the CLI does not accept it")
    if not argv or argv[0] != "oc":
        return
    args = argv[1:]
    creates = _created_objects(args, known, problems, where)
    for kind, name in creates:
        known.objects.add((kind, name))
    for index, token in enumerate(args):
        value = token.split("=", 1)[1] if token.startswith("--from=") else token
        if "/" in value and not value.startswith(("-", "http")):
            word, _, name = value.partition("/")
            if word in KINDS and not known.has(KINDS[word], name):
                problems.append(f"{where}: no {KINDS[word]} {name}")
        if token in ("-l", "--selector") and index + 1 < len(args):
            for pair in args[index + 1].split(","):
                key, _, label = pair.partition("=")
                if (key, label) not in known.labels:
                    problems.append(f"{where}: no pod labelled {pair}")
    verb_kind = [a for a in args if not a.startswith("-")]
    if (
        len(verb_kind) >= 3
        and verb_kind[0] in {"get", "describe", "delete", "patch", "annotate", "edit"}
        and verb_kind[1] in KINDS
        and not creates
    ):
        for name in verb_kind[2:]:
            if "=" in name or "{" in name:
                break
            if not known.has(KINDS[verb_kind[1]], name):
                problems.append(f"{where}: no {KINDS[verb_kind[1]]} {name}")


def _created_objects(
    args: list[str], known: Known, problems: list[str], where: str
) -> list[tuple[str, str]]:
    words = [a for a in args if not a.startswith("-")]
    if words[:3] == ["create", "secret", "generic"] and len(words) >= 4:
        name = words[3]
        expected = known.secret_keys.get(name)
        if expected is None:
            problems.append(f"{where}: no manifest uses Secret {name}")
            return []
        keys = {a.split("=", 2)[1] for a in args if a.startswith("--from-literal=")}
        if keys != expected:
            problems.append(f"{where}: keys {sorted(keys)}, manifests use {sorted(expected)}")
        return [("Secret", name)]
    if words[:3] == ["create", "secret", "docker-registry"] and len(words) >= 4:
        return [("Secret", words[3])]
    if words[:2] == ["create", "job"] and len(words) >= 3:
        return [("Job", words[2])]
    if words[:1] == ["new-build"]:
        name = next(a.split("=", 1)[1] for a in args if a.startswith("--name="))
        to = next(a.split("=", 1)[1] for a in args if a.startswith("--to="))
        return [("BuildConfig", name), ("ImageStream", to.split(":")[0]), ("ImageStreamTag", to)]
    return []


@pytest.fixture
def rahti_known(base_objects: list[dict[str, Any]], overlay_objects: list[dict[str, Any]]) -> Known:
    known = known_objects(base_objects + overlay_objects)
    # The guide pushes the image to the project's image stream `bucketpipe` (step 6).
    known.objects |= {("ImageStream", "bucketpipe")}
    return known


def test_the_deploy_guide_refers_to_real_files_and_objects(rahti_known: Known) -> None:
    problems: list[str] = []
    lines = list(commands(DEPLOY_GUIDE))
    assert len(lines) > 40
    for argv in lines:
        check_command(argv, rahti_known, problems)
    assert not problems, "\n".join(problems)


def test_the_deploy_guide_covers_the_essentials() -> None:
    text = DEPLOY_GUIDE.read_text()
    flat = " ".join(text.split())
    for needle in (
        "allas-conf --mode S3",
        "openstack ec2 credentials create",
        "https://a3s.fi",
        "oc apply -k k8s/overlays/mine",
        "--from=cronjob/",
        "oc logs",
        "oc scale deployment/bucketpipe-dashboard",
        "haproxy.router.openshift.io/ip_whitelist",
        "bucketpipe-lake-readonly",
        "image-registry.apps.2.rahti.csc.fi",
        "oc get cronjobs,jobs,pods",
        "403",
        "429",
        "ImagePullBackOff",
        "Read-only file system",
        "random UID",
        "QuotaExceeded",
        "60%",
    ):
        assert needle in flat, needle


def test_inline_paths_in_the_guides_exist() -> None:
    for guide in (DEPLOY_GUIDE, LOCAL_GUIDE):
        for token in re.findall(r"`((?:k8s|local|docs)/[\w./-]*)`", guide.read_text()):
            if "mine" in token.split("/") or token in CREATED_BY_THE_READER:
                continue
            assert (ROOT / token).exists(), f"{guide.name}: {token}"


def test_the_local_guide_refers_to_real_files_services_and_commands() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = set(compose["services"])
    profiles = {p for s in compose["services"].values() for p in s.get("profiles", [])}
    known = Known(set(), {}, set(), set())
    problems: list[str] = []
    lines = list(commands(LOCAL_GUIDE))
    assert len(lines) > 8
    for argv in lines:
        check_command(argv, known, problems)
        if argv[:1] == ["local/run-once.sh"] and not parses(build_parser(), argv[1:]):
            problems.append(f"{' '.join(argv)}: the CLI does not accept it")
        if argv[:2] == ["docker", "compose"]:
            problems += _compose_problems(argv, services, profiles)
    assert not problems, "\n".join(problems)


def _compose_problems(argv: list[str], services: set[str], profiles: set[str]) -> list[str]:
    problems = []
    rest = argv[2:]
    while rest and rest[0].startswith("-"):
        option, value = rest[0], rest[1]
        if option == "-f" and (ROOT / value).resolve() != COMPOSE:
            problems.append(f"{' '.join(argv)}: not local/compose.yaml")
        if option == "--profile" and value not in profiles:
            problems.append(f"{' '.join(argv)}: no profile {value}")
        rest = rest[2:]
    command, *args = rest
    names = [a for a in args if not a.startswith("-")]
    if command == "run":
        names = names[:1]
    if command in {"logs", "run", "up", "restart", "stop", "exec"}:
        problems += [f"{' '.join(argv)}: no service {n}" for n in names if n not in services]
    return problems


def test_the_checker_catches_wrong_references(base_objects: list[dict[str, Any]]) -> None:
    """The checks above can fail."""
    known = known_objects(base_objects)
    problems: list[str] = []
    for line in (
        "oc create job x --from=cronjob/bucketpipe-injest",
        "oc apply -k k8s/overlays/nowhere",
        "oc logs -f deployment/bucketpipe-dashbord",
        "oc create secret generic bucketpipe-lake --from-literal=AWS_KEY=x",
        "oc describe route dashboard",
        "bucketpipe clean --no-such-flag",
        "oc logs -l app.kubernetes.io/component=cleaner",
    ):
        check_command(shlex.split(line), known, problems)
    assert len(problems) == 7, problems


def test_allow_lists_in_the_guide_are_well_formed() -> None:
    """A malformed allow-list is ignored by the router, which then admits everyone."""
    schema = json.loads((Path(__file__).parent / "schemas" / "route.json").read_text())
    allow_list = {**schema["$defs"]["ipAllowList"], "$schema": schema["$schema"]}
    found = [
        token.split("=", 1)[1]
        for argv in commands(DEPLOY_GUIDE)
        for token in argv
        if token.startswith("haproxy.router.openshift.io/ip_whitelist=")
    ]
    assert found
    for value in found:
        jsonschema.validate(value, allow_list)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("193.166.0.0/16,203.0.113.7", allow_list)


def test_paths_mentioned_in_the_deployment_files_exist() -> None:
    """Comments in manifests, compose, Dockerfile and workflow point at files that exist."""
    files = [
        *sorted((ROOT / "k8s").rglob("*.yaml")),
        *sorted((ROOT / "k8s").rglob("*.env")),
        ROOT / "Dockerfile",
        ROOT / ".dockerignore",
        *sorted((ROOT / ".github").rglob("*.yml")),
        *sorted((ROOT / "local").glob("*.*")),
        ROOT / "local" / ".env.example",
    ]
    pattern = re.compile(r"(?<![\w/])((?:k8s|docs)/[\w./-]*[\w/-]|local/[\w.-]+\.\w+)")
    checked = 0
    for path in files:
        for token in pattern.findall(path.read_text()):
            if "mine" in token.split("/") or token in CREATED_BY_THE_READER:
                continue
            assert (ROOT / token).exists(), f"{path.relative_to(ROOT)}: {token}"
            checked += 1
    assert checked > 10
