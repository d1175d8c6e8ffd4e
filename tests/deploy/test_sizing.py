"""Every input sized to its pod, and the pods to the project: DuckDB's memory and spills inside
each container's limits, scratch space that holds what the job copies into it, ephemeral storage
that covers the emptyDirs, and the example overlay within a CSC project's quota on Rahti, counted
on limits at the busiest minute of the day (tests/deploy/quota.py), as the guide's table says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deploy_helpers import (
    EXAMPLE_OVERLAY,
    ROOT,
    bucketpipe_containers,
    cpu_millicores,
    duckdb_bytes,
    final_stage_env,
    memory_bytes,
    overlay_of,
    render,
    within,
    workloads,
)
from tests.deploy.policies import RAHTI_CPU_QUOTA, RAHTI_EPHEMERAL_QUOTA, RAHTI_MEMORY_QUOTA
from tests.deploy.quota import Peak, peak

# DuckDB's memory limit as a share of the container's memory limit: DuckDB spills above it, and
# Python, pandas/pyarrow buffers and (in the dashboard) Streamlit sessions need the rest.
DUCKDB_SHARE = (0.3, 0.65)
LOG_ALLOWANCE = 64 * 2**20  # container logs count against ephemeral storage too
SOURCE_MARGIN = 128 * 2**20  # between a copied source file plus DuckDB's spill and the sizeLimit
GUIDE = ROOT / "docs" / "deploy-rahti.md"


def _env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["env"]}


def _empty_dir(workload: Any, name: str) -> int:
    [volume] = [v for v in workload.pod_spec["volumes"] if v["name"] == name]
    return memory_bytes(volume["emptyDir"]["sizeLimit"])


def test_duckdb_memory_is_sized_below_the_container_limit(
    every_rendering: list[dict[str, Any]],
) -> None:
    low, high = DUCKDB_SHARE
    for workload, container in bucketpipe_containers(every_rendering):
        env = _env(container)
        limit = memory_bytes(container["resources"]["limits"]["memory"])
        duckdb = duckdb_bytes(str(env["BUCKETPIPE_DUCKDB_MEMORY_LIMIT"]))
        assert low * limit <= duckdb <= high * limit, workload.name
        threads = int(str(env["BUCKETPIPE_DUCKDB_THREADS"]))
        assert threads <= max(1, cpu_millicores(container["resources"]["limits"]["cpu"]) // 1000)


def test_duckdb_spills_stay_inside_the_temp_emptydir(
    every_rendering: list[dict[str, Any]],
) -> None:
    """A spill larger than the emptyDir would get the pod evicted; DuckDB must stop first."""
    for workload, container in bucketpipe_containers(every_rendering):
        cap = duckdb_bytes(str(_env(container)["BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE"]))
        assert cap < _empty_dir(workload, "tmp"), workload.name


def test_every_pod_tells_bucketpipe_the_size_of_its_scratch_space(
    every_rendering: list[dict[str, Any]],
) -> None:
    """Without BUCKETPIPE_SCRATCH_BYTES a run measures the free space of /tmp's file system,
    which is the node's disk, not the emptyDir's sizeLimit: files that fit there would get the
    pod evicted. Every container states the sizeLimit of its tmp emptyDir."""
    for workload, container in bucketpipe_containers(every_rendering):
        scratch = _env(container).get("BUCKETPIPE_SCRATCH_BYTES")
        assert scratch is not None, workload.name
        assert memory_bytes(str(scratch)) == _empty_dir(workload, "tmp"), workload.name


def test_the_sql_workers_spills_fit_beside_the_dashboards_own(
    every_rendering: list[dict[str, Any]],
) -> None:
    """Each SQL worker spills into its own folder of the same emptyDir as the dashboard's
    DuckDB: all of them at their caps together must still fit."""
    checked = 0
    for workload, container in bucketpipe_containers(every_rendering):
        if container["args"][:1] != ["dashboard"]:
            continue
        env = _env(container)
        own = duckdb_bytes(str(env["BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE"]))
        sql = min(own, duckdb_bytes(str(env["BUCKETPIPE_SQL_MAX_TEMP_SIZE"])))
        workers = int(str(env["BUCKETPIPE_SQL_WORKERS"]))
        assert own + workers * sql < _empty_dir(workload, "tmp"), workload.name
        checked += 1
    assert checked >= 1


def test_a_source_file_and_a_spill_fit_the_scratch_space_together(
    every_rendering: list[dict[str, Any]],
) -> None:
    """`ingest bucket` copies a source object into /tmp while DuckDB may spill beside it: the
    largest object it takes plus the spill cap plus a margin must fit the emptyDir."""
    checked = 0
    for workload, container in bucketpipe_containers(every_rendering):
        env = _env(container)
        if container["args"][:2] != ["ingest", "bucket"]:
            continue
        largest = int(str(env["BUCKETPIPE_SOURCE_MAX_BYTES"]))
        spill = duckdb_bytes(str(env["BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE"]))
        assert largest + spill + SOURCE_MARGIN <= _empty_dir(workload, "tmp"), workload.name
        checked += 1
    assert checked == 1


def test_writable_paths_are_emptydirs(every_rendering: list[dict[str, Any]]) -> None:
    """The root filesystem is read-only: the temp dir and $HOME must be emptyDir mounts."""
    home = final_stage_env()["HOME"]
    for workload, container in bucketpipe_containers(every_rendering):
        empty_dirs = {v["name"] for v in workload.pod_spec["volumes"] if "emptyDir" in v}
        mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs]
        for path in (str(_env(container)["BUCKETPIPE_TEMP_DIR"]), home):
            assert any(within(path, mount) for mount in mounts), f"{workload.name}: {path}"


def test_ephemeral_storage_limits_cover_the_emptydirs_and_logs(
    every_rendering: list[dict[str, Any]],
) -> None:
    """The kubelet evicts a pod whose emptyDirs plus logs exceed its containers' limits: with the
    limit above every sizeLimit plus the logs, a full emptyDir fails a write instead."""
    for workload in workloads(every_rendering):
        volumes = workload.pod_spec.get("volumes", [])
        empty = sum(memory_bytes(v["emptyDir"]["sizeLimit"]) for v in volumes if "emptyDir" in v)
        assert all(v["emptyDir"].get("sizeLimit") for v in volumes if "emptyDir" in v)
        limits = sum(
            memory_bytes(c["resources"]["limits"]["ephemeral-storage"])
            for c in workload.containers()
        )
        assert empty + LOG_ALLOWANCE <= limits, f"{workload.name}: {empty} + logs > {limits}"


# --- the project's quota ---------------------------------------------------------------------
VARIANTS = {
    "as shipped": (False, False),
    "with the bucket ingest": (True, False),
    "with the sharded Finnhub ingest": (False, True),
    "with both": (True, True),
}


def example_variant(directory: Path, bucket: bool, sharded: bool) -> list[dict[str, Any]]:
    """The example overlay with the bucket ingest and/or the sharded component switched on."""
    text = (EXAMPLE_OVERLAY / "kustomization.yaml").read_text()
    if sharded:
        text = text.replace(
            "# - ../../components/finnhub-sharded", "- ../../components/finnhub-sharded"
        )
    if bucket:
        text += (
            "  - target:\n      kind: CronJob\n      name: bucketpipe-ingest-bucket\n"
            "    patch: |-\n      - op: replace\n        path: /spec/suspend\n"
            "        value: false\n"
        )
    return render(overlay_of(text, directory))


@pytest.fixture(scope="module")
def peaks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Peak]:
    return {
        name: peak(example_variant(tmp_path_factory.mktemp("variant"), *switches))
        for name, switches in VARIANTS.items()
    }


def test_the_example_fits_a_projects_initial_quota(peaks: dict[str, Peak]) -> None:
    """Counted on limits, at the busiest minute: only the documented combination exceeds it."""
    for name, busiest in peaks.items():
        fits = (
            busiest.cpu <= RAHTI_CPU_QUOTA
            and busiest.memory <= RAHTI_MEMORY_QUOTA
            and busiest.ephemeral <= RAHTI_EPHEMERAL_QUOTA
        )
        assert fits == (name != "with both"), (name, busiest)


def test_the_compaction_never_overlaps_the_bucket_ingest(peaks: dict[str, Peak]) -> None:
    assert not {"bucketpipe-compact", "bucketpipe-ingest-bucket"} <= set(
        peaks["with the bucket ingest"].cpu_running
    )


def _guide_table() -> dict[str, list[str]]:
    """The rows of the guide's quota table: first cell -> the other cells."""
    text = GUIDE.read_text()
    section = text[text.index("<!-- quota:start -->") : text.index("<!-- quota:end -->")]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[2:]}


def test_the_guide_shows_what_can_run_at_once(peaks: dict[str, Peak]) -> None:
    """The guide's table says what the busiest minute costs; it is computed, not guessed."""
    table = _guide_table()
    assert set(table) == {f"Example overlay {name}" for name in VARIANTS}
    for name, busiest in peaks.items():
        cpu, memory, ephemeral, running = table[f"Example overlay {name}"]
        assert cpu.startswith(f"{busiest.cpu / 1000:g} "), (name, cpu)
        assert memory.startswith(f"{busiest.memory / 2**30:g} "), (name, memory)
        assert ephemeral.startswith(f"{busiest.ephemeral / 2**30:.2f} "), (name, ephemeral)
        jobs = {j.removeprefix("bucketpipe-") for j in busiest.cpu_running}
        assert set(re.findall(r"`([\w-]+)`", running)) >= jobs, (name, running)


def _sizing_rows() -> list[list[str]]:
    text = GUIDE.read_text()
    section = text[text.index("### Sizing of each pod") :]
    lines = [line for line in section.splitlines()[2:] if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_the_guides_sizing_table_is_what_the_manifests_say(
    base_objects: list[dict[str, Any]],
) -> None:
    pods = {w.name.removeprefix("bucketpipe-"): w for w in workloads(base_objects)}
    described = set()
    for pod, cpu, memory, ephemeral, scratch, duck_memory, duck_spill in _sizing_rows():
        for name in re.sub(r"\s*\([^)]*\)", "", pod).split(", "):
            workload = pods[name]
            described.add(name)
            (container,) = workload.pod_spec["containers"]
            resources = container["resources"]
            for cell, resource in (
                (cpu, "cpu"),
                (memory, "memory"),
                (ephemeral, "ephemeral-storage"),
            ):
                pair = f"{resources['requests'][resource]} / {resources['limits'][resource]}"
                assert cell == pair, (name, resource)
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            tmp = [v for v in workload.pod_spec["volumes"] if v["name"] == "tmp"]
            assert scratch == (tmp[0]["emptyDir"]["sizeLimit"] if tmp else "-"), name
            assert duck_memory == env.get("BUCKETPIPE_DUCKDB_MEMORY_LIMIT", "-"), name
            assert duck_spill == env.get("BUCKETPIPE_DUCKDB_MAX_TEMP_SIZE", "-"), name
    assert described == set(pods) - {"ingest-finnhub-sharded"}
