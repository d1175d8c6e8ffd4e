"""Checks of the guides' shell commands against the repository and the rendered manifests:
paths that exist, objects the manifests create (or the guide's own commands create first),
Secrets with the keys the workloads read, and `bucketpipe` command lines the real CLI accepts."""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import ROOT, parses, workloads

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
    verb_kind = words_of(args)
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


def words_of(args: list[str]) -> list[str]:
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
