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

from jobs.cli import build_parser
from tests.deploy.deploy_helpers import COMPOSE, ROOT, parses, workloads

DEPLOY_GUIDE = ROOT / "docs" / "deploy-rahti.md"
LOCAL_GUIDE = ROOT / "docs" / "local.md"
DASHBOARD_GUIDE = ROOT / "docs" / "dashboard.md"
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
                    yield _without_redirections(shlex.split(part, comments=True))


def _without_redirections(argv: list[str]) -> list[str]:
    """`cmd ARGS > file` -> `cmd ARGS`."""
    out: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in {">", ">>", "<", "2>"}:
            skip = True
        else:
            out.append(token)
    return out


@dataclass
class Known:
    """Objects and paths the guide may refer to."""

    objects: set[tuple[str, str]]
    secret_keys: dict[str, set[str]]
    labels: set[tuple[str, str]]
    cronjob_names: set[str]
    path_aliases: dict[str, str] = field(default_factory=dict)

    def has(self, kind: str, name: str) -> bool:
        if (kind, name) in self.objects:
            return True
        if name.startswith("$") and kind != "Job":
            return True  # a name the reader found and put in a variable
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
    verb_kind = _words(args)
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


def _words(args: list[str]) -> list[str]:
    """The arguments that are not options or option values (`-o yaml`, `-l key=value`)."""
    words, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in {"-o", "--output", "-l", "--selector", "-n", "--namespace", "-f"}:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def _created_objects(
    args: list[str], known: Known, problems: list[str], where: str
) -> list[tuple[str, str]]:
    words = [a for a in args if not a.startswith("-")]
    if words[:3] == ["create", "secret", "generic"] and len(words) >= 4:
        name = words[3]
        expected = known.secret_keys.get(name)
        if expected is None and any(a.startswith("--from-file") for a in args):
            return [("Secret", name)]  # a file to mount (docs/dashboard.md's OIDC secrets.toml)
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
    if words[:2] == ["create", "imagestream"] and len(words) >= 3:
        return [("ImageStream", words[2])]
    if words[:1] == ["import-image"] and len(words) >= 2:
        stream, _, tag = words[1].partition(":")
        return [("ImageStream", stream), ("ImageStreamTag", f"{stream}:{tag or 'latest'}")]
    if words[:1] == ["new-build"]:
        name = next(a.split("=", 1)[1] for a in args if a.startswith("--name="))
        to = next(a.split("=", 1)[1] for a in args if a.startswith("--to="))
        return [("BuildConfig", name), ("ImageStream", to.split(":")[0]), ("ImageStreamTag", to)]
    return []


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
