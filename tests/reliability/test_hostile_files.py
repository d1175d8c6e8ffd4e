"""Hostile files: random bytes, wrong encodings, ragged and enormous rows, formula-like cells,
deep JSON. Property-based (hypothesis) on the parsing (`inspect_file`) and end to end through
`ingest bucket` and clean: no unhandled exception and no crash; a file that cannot be read is
reported with a reason, a row that cannot be cleaned is quarantined with a reason, and the lake
stays sound. Formula-like cells stay text, and every CSV export neutralises them.

Each end-to-end example runs in a child process, so that even a crash of native code (a stack
overflow on deep JSON) is a failed example rather than the end of the test session.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import string
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.formats.detect import inspect_file
from bucketpipe.formats.readers import UnreadableFile
from bucketpipe.lake.duck import connect
from bucketpipe.lake.quarantine import file_keys, relation_sql
from bucketpipe.serve.reader import LakeReader
from tests.reliability.crash_runner import land_and_clean_child
from tests.reliability.harness import Figures, Lake, forkserver

pytestmark = pytest.mark.integration

FORMULAS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://example.invalid","x")',
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
)
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "shift_jis")
NAMES = ("data.csv", "data.tsv", "data.txt", "data.json", "data.ndjson", "data.jsonl",
         "data.csv.gz", "data.xlsx", "data.parquet", "data")  # fmt: skip
DEEP = 100_000


@dataclass(frozen=True)
class Blob:
    """A hostile file's bytes, shown by what they are (hypothesis prints failing examples)."""

    what: str
    data: bytes

    def __repr__(self) -> str:
        digest = hashlib.sha256(self.data).hexdigest()[:10]
        return f"Blob({self.what!r}, {len(self.data)} bytes, sha256 {digest})"


def blob(what: str) -> Callable[[bytes], Blob]:
    return lambda data: Blob(what, data)


# --- strategies ----------------------------------------------------------------------------------
cells = st.one_of(
    st.text(max_size=20),
    st.sampled_from(FORMULAS),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "NA", "null", "1,5", "2026-13-45", "31.12.2025", '"', "'", ";", "\n"]),
)


@st.composite
def ragged_csv(draw: Any) -> Blob:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 6))
    letters = string.ascii_letters + " %-_."
    rows = [[draw(st.text(letters, max_size=12)) for _ in range(width)]]
    for _ in range(draw(st.integers(0, 25))):
        rows.append([draw(cells) for _ in range(draw(st.integers(0, width + 3)))])
    out = io.StringIO()
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    csv.writer(out, delimiter=delimiter, lineterminator=ending).writerows(rows)
    text = out.getvalue()
    if draw(st.booleans()):
        text += draw(st.sampled_from(['"unterminated', "a,b\n" * 3, "\x00", "\ufeff"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return Blob(f"ragged csv ({encoding})", text.encode(encoding, errors="replace"))


@st.composite
def deep_json(draw: Any) -> Blob:
    depth = draw(st.sampled_from([1, 50, 101, 1_000, DEEP]))
    kind = draw(st.sampled_from(["array", "object", "mixed"]))
    if kind == "array":
        body = "[" * depth + "1" + "]" * depth
    elif kind == "object":
        body = '{"a":' * depth + "1" + "}" * depth
    else:
        body = '[{"a":' * depth + "1" + "}]" * depth
    records = draw(st.sampled_from(["one", "list", "lines"]))
    if records == "list":
        body = f'[{{"id": 1, "x": {body}}}, {{"id": 2}}]'
    elif records == "lines":
        body = f'{{"id": 1, "x": {body}}}\n{{"id": 2}}\n'
    return Blob(f"json nested {depth} ({kind}, {records})", body.encode())


@st.composite
def enormous(draw: Any) -> Blob:
    size = draw(st.sampled_from([64 * 1024, 1024 * 1024]))
    cell = draw(st.sampled_from(["x", "=", "9", "é"])) * size
    shape = draw(st.sampled_from(["cell", "columns", "line"]))
    if shape == "cell":
        data = f"id,text\n1,{cell}\n2,short\n".encode()
    elif shape == "columns":
        n = min(size // 16, 5_000)
        data = (",".join(f"c{i}" for i in range(n)) + "\n" + "1," * (n - 1) + "1\n").encode()
    else:
        data = cell.encode()  # one line, no newline
    return Blob(f"enormous {shape} ({size} bytes)", data)


hostile = st.one_of(
    st.binary(max_size=4096).map(blob("random bytes")),
    ragged_csv(),
    deep_json(),
    enormous(),
    st.text(max_size=500).map(lambda t: Blob("text", t.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=512).map(lambda b: Blob("gzip of random bytes", gzip.compress(b))),
    st.sampled_from([b"PK\x03\x04broken zip", b"PAR1garbagePAR1", b"\xef\xbb\xbf", b" \n\t"]).map(
        blob("broken magic")
    ),
)

KNOWN: list[tuple[Blob, str]] = [
    (Blob("deep ndjson", f'{{"id": 1, "x": {"[" * DEEP}1{"]" * DEEP}}}\n{{"id": 2}}\n'.encode()),
     "deep.ndjson"),
    (Blob("deep json", ("[" * DEEP + "1" + "]" * DEEP).encode()), "deep.json"),
    (Blob("mixed records", b'[{"id": 1, "x": {"a": {"b": [1, 2]}}}, {"id": 2, "x": null}, 3]'),
     "mixed.json"),
    (Blob("formulas", ("id,cmd\n" + "".join(f"{i},{f}\n" for i, f in enumerate(FORMULAS)))
          .encode()), "formulas.csv"),
    (Blob("utf-16", "id;name\n1;Åsa\n2;Jürgen\n".encode("utf-16")), "utf16.csv"),
    (Blob("cp1252", "id;name\n1;Åsa\n2;Jürgen €\n".encode("cp1252")), "cp1252.csv"),
    (Blob("binary", b"\x00\x01\x02binary\xff\xfe"), "binary.csv"),
    (Blob("ragged", b'a,b\n1,2,3,4\n5\n"unterminated,6\n'), "ragged.csv"),
    (Blob("wide", (",".join(f"c{i}" for i in range(3000)) + "\n" + "1," * 2999 + "1\n")
          .encode()), "wide.csv"),
    (Blob("huge header", b"x" * 300_000), "header.csv"),
]  # fmt: skip


def budget(request: pytest.FixtureRequest, quick: int, long: int, *, shrink: bool) -> Any:
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(
        max_examples=long if request.config.getoption("--long") else quick,
        deadline=None,
        phases=phases,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=not request.config.getoption("--long"),
        database=None,
    )


# --- parsing -------------------------------------------------------------------------------------
@pytest.mark.timeout(1800)
def test_inspecting_a_hostile_file_reads_it_or_says_why_not(request: pytest.FixtureRequest) -> None:
    figures = Figures("hostile files, inspection")
    outcomes: dict[str, int] = {}

    @budget(request, 60, 600, shrink=True)
    @given(file=hostile, name=st.sampled_from(NAMES))
    def check(file: Blob, name: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "file.src"
            path.write_bytes(file.data)
            con = duckdb.connect(":memory:")
            reason = None
            try:
                options = inspect_file(path, f"in/{name}", overrides={}, con=con, scratch=Path(tmp))
            except UnreadableFile as exc:
                options, reason = None, str(exc)
            finally:
                con.close()
        if options is None:
            assert reason and reason.strip() and "\n" not in reason, "a reason, on one line"
            outcomes["refused"] = outcomes.get("refused", 0) + 1
        else:
            assert options.format
            outcomes[options.format] = outcomes.get(options.format, 0) + 1

    for file, name in KNOWN:
        check = example(file=file, name=name)(check)
    check()
    figures.values.update(sorted(outcomes.items()))
    figures.report()


# --- end to end ----------------------------------------------------------------------------------
def lake_values(root: Path) -> dict[str, Any]:
    return {
        "lake": str(root / "lake"),
        "temp_dir": str(root / "tmp"),
        "source": str(root / "source"),
        "log_format": "json",
        "log_level": "WARNING",
        "redis_url": None,
        "source_max_bytes": 4 * 1024 * 1024,
    }


def quarantine_without_reason(ctx: Context, con: Any) -> int:
    missing = 0
    for dataset in LakeReader(ctx.store).datasets():
        keys = file_keys(ctx.store, dataset)
        if keys:
            sql = relation_sql([ctx.store.duckdb_path(k) for k in keys])
            row = con.execute(f"SELECT count(*) FROM ({sql}) WHERE _reject_reason IS NULL")
            found = row.fetchone()
            missing += int(found[0]) if found else 0
    return missing


def land_and_clean(files: list[tuple[Blob, str]], figures: Figures) -> None:
    """Drop the files in a source folder, run `ingest bucket` and clean in a child, check."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for index, (file, name) in enumerate(files):
            target = root / "source" / f"d{index % 2}" / f"{index}-{name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.data)
        values = lake_values(root)
        process = forkserver().Process(
            target=land_and_clean_child,
            args=(values, str(root / "result.json"), str(root / "run.log")),
            daemon=True,
        )
        process.start()
        process.join(300)
        if process.exitcode is None:
            process.kill()
            process.join()
        log = (root / "run.log").read_text(errors="replace") if (root / "run.log").exists() else ""
        assert process.exitcode == 0, f"exit {process.exitcode} on {files}:\n{log[-3000:]}"
        result = json.loads((root / "result.json").read_text())
        details = result["landed"]["details"]
        assert details["files_landed"] + details["files_failed"] + details["files_ignored"] >= 1
        for failed in details["failed"]:
            assert failed["error"] and failed["status"] >= 400, failed
        figures.add("files_refused_at_landing", details["files_failed"])
        if details["files_landed"]:
            assert result["cleaned"] is not None
            for name, dataset in result["cleaned"]["datasets"].items():
                if dataset["status"] == "failed":
                    assert dataset["message"], name
                    figures.add("datasets_failed_with_reason")
                figures.add("rows_quarantined", dataset.get("rows_quarantined", 0))
                for reason in dataset.get("files_failed", {}).values():
                    assert reason, name
                    figures.add("files_failed_in_clean")
        settings_ = Settings(**values)
        ctx = Context.from_settings(settings_)
        con = connect(settings_)
        try:
            assert quarantine_without_reason(ctx, con) == 0
        finally:
            con.close()
            ctx.close()
        state = Lake(values, root).check()
        assert not state.violations, state.violations
        assert not state.uncleaned
        figures.add("examples")


@pytest.mark.timeout(3600)
def test_hostile_files_land_and_clean_without_crashing(request: pytest.FixtureRequest) -> None:
    figures = Figures("hostile files, ingest bucket + clean")

    @budget(request, 6, 80, shrink=False)
    @example(files=KNOWN[:5])
    @example(files=KNOWN[5:])
    @given(files=st.lists(st.tuples(hostile, st.sampled_from(NAMES)), min_size=1, max_size=3))
    def check(files: list[tuple[Blob, str]]) -> None:
        land_and_clean(files, figures)

    check()
    figures.report()


# --- formula-like cells --------------------------------------------------------------------------
def test_formula_cells_stay_text_and_every_csv_export_neutralises_them(tmp_path: Path) -> None:
    from bucketpipe.clean.job import run_clean
    from bucketpipe.ingest.bucket.mapping import Mapping
    from bucketpipe.ingest.bucket.source import land
    from bucketpipe.serve.queries.explore import Slice, export
    from bucketpipe.wiring import AFTER_CLEAN
    from tests.reliability.harness import lake_env, start_cli

    source = tmp_path / "source" / "sheets"
    source.mkdir(parents=True)
    rows = "".join(f"{i};{f.replace(chr(13), ' ')};-{i}.5\n" for i, f in enumerate(FORMULAS))
    (source / "cells.csv").write_text(f"id;cmd;amount\n{rows}")
    values = lake_values(tmp_path)
    settings_ = Settings(**values)
    ctx = Context.from_settings(settings_)
    try:
        assert land(ctx, run_id="f1", mapping=Mapping()) is not None
        assert run_clean(ctx, after_clean=AFTER_CLEAN, run_id="c1") is not None
        con = connect(settings_)
        LakeReader(ctx.store).register_views(con)
        stored = [r[0] for r in con.execute("SELECT cmd FROM sheets ORDER BY id").fetchall()]
        # Cleaning keeps the text (trimmed), it does not execute or drop it.
        assert [s.strip() for s in stored] == [f.replace("\r", " ").strip() for f in FORMULAS]
        data, _ = export(con, Slice("sheets"), ["id", "cmd", "amount"], "csv")
        con.close()
    finally:
        ctx.close()
    exported = list(csv.DictReader(io.StringIO(data.decode())))
    assert all(not row["cmd"].startswith(("=", "+", "-", "@", "\t")) for row in exported), exported
    assert {row["amount"] for row in exported} == {f"-{i}.5" for i in range(len(FORMULAS))}

    log = tmp_path / "sql.log"
    out = tmp_path / "sql.csv"
    process = start_cli(
        lake_env(Lake(values, tmp_path)),
        ["sql", "--format", "csv", "SELECT id, cmd, amount FROM sheets ORDER BY id"],
        log,
    )
    process.join(120)
    assert process.exitcode == 0, log.read_text()[-2000:]
    text = log.read_text()
    out.write_text(text[text.index("id,cmd,amount") :])
    printed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(printed) == len(FORMULAS)
    assert all(row["cmd"].startswith("'") for row in printed), printed
    assert all(row["amount"].startswith("-") for row in printed)
