"""The clean watcher component: a `clean --watch` Deployment, and the clean CronJob as fallback."""

from __future__ import annotations

from typing import Any

from bucketpipe.jobs.cli import build_parser
from tests.deploy.deploy_helpers import (
    cron_field,
    minutes_of_day,
    objects_of,
    parses,
)

WATCHER = "bucketpipe-clean-watch"


def _watcher(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployments = objects_of(objects, "Deployment")
    assert WATCHER in deployments, "the example overlay renders no clean watcher"
    return deployments[WATCHER]


def test_the_example_runs_clean_watch_as_a_deployment(
    overlay_objects: list[dict[str, Any]],
) -> None:
    watcher = _watcher(overlay_objects)
    # A rollout replaces the pod: two pods' limits never count against the quota at once.
    assert watcher["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = watcher["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[:2] == ["clean", "--watch"] and parses(build_parser(), args)
    heartbeat = args[args.index("--heartbeat-file") + 1]
    # The liveness probe checks the file the watch touches, through the same CLI.
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe[0] == "bucketpipe" and parses(build_parser(), probe[1:])
    assert probe[probe.index("--heartbeat") + 1] == heartbeat
    # It writes the lake and reads the stream: the writer's key and Redis' password.
    secrets = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for env in container["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert {"bucketpipe-lake", "bucketpipe-redis"} <= secrets
    labels = watcher["spec"]["template"]["metadata"]["labels"]
    assert labels.get("bucketpipe/redis-client") == "true"  # the Redis NetworkPolicy admits it


def test_the_watcher_has_the_clean_cronjobs_size(overlay_objects: list[dict[str, Any]]) -> None:
    (container,) = _watcher(overlay_objects)["spec"]["template"]["spec"]["containers"]
    cronjob = objects_of(overlay_objects, "CronJob")["bucketpipe-clean"]
    (clean,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == clean["resources"]


def test_with_the_watcher_the_clean_cronjob_is_a_daily_fallback_in_a_quiet_window(
    overlay_objects: list[dict[str, Any]],
) -> None:
    cronjobs = objects_of(overlay_objects, "CronJob")
    fallback = cronjobs["bucketpipe-clean"]
    spec = fallback["spec"]
    assert not spec.get("suspend")
    (start,) = minutes_of_day(spec["schedule"])
    # Neither the compaction's longest run nor the ingests after the night's pause (06:00)
    # overlap it.
    compact = cronjobs["bucketpipe-compact"]["spec"]
    (compact_start,) = minutes_of_day(compact["schedule"])
    assert compact_start + _longest_run_minutes(compact) <= start
    assert start + _longest_run_minutes(spec) <= 6 * 60
    paused = cron_field("0-1,6-23", 0, 23)
    for name in ("bucketpipe-ingest-bucket", "bucketpipe-ingest-finnhub-sharded"):
        hours = {m // 60 for m in minutes_of_day(cronjobs[name]["spec"]["schedule"])}
        assert hours <= paused, name


def _longest_run_minutes(spec: dict[str, Any]) -> float:
    """A run may start late by the starting deadline, last its active deadline, then 30 s."""
    seconds = spec["startingDeadlineSeconds"] + spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    return float(seconds + 30) / 60
