"""The deploy guides' commands refer to files that exist and to objects the manifests create:
paths, CronJobs, Deployments, Routes, Secrets and their keys, labels, compose services, and
`bucketpipe` command lines the real CLI accepts (the checks are in doc_checker.py)."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import COMPOSE, ROOT, parses
from tests.deploy.doc_checker import (
    CREATED_BY_THE_READER,
    Known,
    check_command,
    commands,
    known_objects,
)

DEPLOY_GUIDE = ROOT / "docs" / "deploy-rahti.md"
LOCAL_GUIDE = ROOT / "docs" / "local.md"


@pytest.fixture
def rahti_known(top_objects: list[dict[str, Any]], overlay_objects: list[dict[str, Any]]) -> Known:
    return known_objects(top_objects + overlay_objects)


def test_the_deploy_guide_refers_to_real_files_and_objects(rahti_known: Known) -> None:
    problems: list[str] = []
    lines = list(commands(DEPLOY_GUIDE))
    assert len(lines) > 40
    for argv in lines:
        check_command(argv, rahti_known, problems)
    assert not problems, "\n".join(problems)


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
        check_command(_on_the_host(argv), known, problems)
        if argv[:1] == ["local/run-once.sh"] and not parses(build_parser(), argv[1:]):
            problems.append(f"{' '.join(argv)}: the CLI does not accept it")
        if argv[:2] == ["docker", "compose"]:
            problems += _compose_problems(argv, services, profiles)
    assert not problems, "\n".join(problems)


def _on_the_host(argv: list[str]) -> list[str]:
    """The part of a command line that runs on the host: `docker compose exec SERVICE CMD...`
    runs CMD inside the container, where paths are the image's."""
    if argv[:2] == ["docker", "compose"] and "exec" in argv:
        return argv[: argv.index("exec") + 2]
    return argv


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
    if command in {"run", "exec"}:
        names = names[:1]  # the rest runs inside the container
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
