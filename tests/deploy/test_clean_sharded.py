"""The clean-sharded component: bucketpipe-clean as an Indexed Job, one share of datasets a pod."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import (
    EXAMPLE_OVERLAY,
    objects_of,
    overlay_of,
    parses,
    render,
)

CLEAN = "bucketpipe-clean"
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def _job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = objects_of(objects, "CronJob")[CLEAN]["spec"]["jobTemplate"]["spec"]
    return spec


def test_clean_becomes_an_indexed_job_matching_its_shards(
    clean_sharded_objects: list[dict[str, Any]],
) -> None:
    job = _job(clean_sharded_objects)
    assert job["completionMode"] == "Indexed"
    (container,) = job["template"]["spec"]["containers"]
    args = container["args"]
    assert parses(build_parser(), args) and args[0] == "clean"
    shards = int(args[args.index("--shards") + 1])
    assert shards > 1
    assert job["completions"] == job["parallelism"] == shards
    # A failing shard is retried on its own; the others keep their commits.
    assert 0 < job["backoffLimitPerIndex"] <= job["backoffLimit"]
    env = {e["name"]: e for e in container["env"]}
    assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == COMPLETION_INDEX
    # Every pod of the Job shares its run id: the Job's name, which the last shard's manifest
    # and every shard's manifest are named after.
    run_id = env["BUCKETPIPE_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert run_id == "metadata.labels['batch.kubernetes.io/job-name']"


def test_apart_from_sharding_the_clean_pod_is_unchanged(
    clean_sharded_objects: list[dict[str, Any]], base_objects: list[dict[str, Any]]
) -> None:
    sharded, plain = _job(clean_sharded_objects), _job(base_objects)
    (container,) = sharded["template"]["spec"]["containers"]
    (plain_container,) = plain["template"]["spec"]["containers"]
    args = container["args"]
    shards = args[args.index("--shards") + 1]
    stripped = {
        **container,
        "args": [a for a in args if a not in {"--shards", shards}],
        "env": [e for e in container["env"] if e["name"] != "JOB_COMPLETION_INDEX"],
    }
    assert stripped == plain_container
    pod, plain_pod = sharded["template"]["spec"], plain["template"]["spec"]
    assert {**pod, "containers": []} == {**plain_pod, "containers": []}
    cronjobs = objects_of(clean_sharded_objects, "CronJob")
    assert (
        cronjobs[CLEAN]["spec"]["schedule"]
        == objects_of(base_objects, "CronJob")[CLEAN]["spec"]["schedule"]
    )
    # Only the clean CronJob changes.
    others = {n: c for n, c in cronjobs.items() if n != CLEAN}
    assert others == {n: c for n, c in objects_of(base_objects, "CronJob").items() if n != CLEAN}


def test_it_combines_with_the_clean_watcher_as_a_sharded_fallback(tmp_path: Path) -> None:
    text = (EXAMPLE_OVERLAY / "kustomization.yaml").read_text()
    text = text.replace(
        "  - ../../components/clean-watch\n",
        "  - ../../components/clean-watch\n  - ../../components/clean-sharded\n",
    )
    assert "components/clean-sharded" in text
    objects = render(overlay_of(text, tmp_path))
    job = _job(objects)
    assert job["completionMode"] == "Indexed"
    (container,) = job["template"]["spec"]["containers"]
    assert "--shards" in container["args"]
    # The watcher stays one pod cleaning everything; the daily fallback is what is sharded.
    (watcher,) = objects_of(objects, "Deployment")["bucketpipe-clean-watch"]["spec"]["template"][
        "spec"
    ]["containers"]
    assert "--shards" not in watcher["args"]
