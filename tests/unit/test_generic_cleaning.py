"""Generic cleaning of crafted messy files, end to end on a local lake: ingest bucket -> clean.

Every expected value below is worked out by hand from the files in the test.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bucketpipe.clean.job import run_clean
from bucketpipe.clean.rawinput import file_refs, raw_view_sql
from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.ingest.bucket.mapping import Mapping, parse_mapping
from bucketpipe.ingest.bucket.source import land
from bucketpipe.lake.quarantine import sample, summary
from bucketpipe.lake.runs import DatasetResult
from bucketpipe.quality.report import read_reports
from bucketpipe.serve.reader import LakeReader
from bucketpipe.wiring import AFTER_CLEAN

SettingsFactory = Callable[..., Settings]

JAN_CSV = (
    "Order ID;Customer;Amount (€);Order Date;Paid;Notes\n"
    "1;Äijä Oy;12,50;05.01.2024;yes;\n"
    "2;Björk AB;7,25;06.01.2024;no;\n"
    "2;Björk AB;7,25;06.01.2024;no;\n"
    "3;Café “Zoë”;12 kg;07.01.2024;yes;\n"
    "4;Oy Ab;9,00;08.01.2024;yes;x;y\n"
    "5;Kala;8,75;09.01.2024;N/A;\n"
    "6;Lumi;10,00;10.01.2024;yes;\n"
    "7;Sade;11,25;11.01.2024;no;\n"
    "8;Tuuli;950,00;12.01.2024;yes;\n"
    "9;Meri;9,50;13.01.2024;no;\n"
    "10;Kivi;10,75;14.01.2024;yes;\n"
).encode("cp1252")
FEB_JSON = json.dumps(
    [
        {
            "order_id": 11,
            "customer": "Kuu",
            "amount": 10.5,
            "order_date": "2024-02-01",
            "channel": "web",
            "address": {"city": "Oulu"},
        },
        {
            "order_id": 12,
            "customer": "Tähti ",
            "amount": 11.0,
            "order_date": "2024-02-02",
            "channel": "store",
            "address": {"city": "Turku"},
        },
        {
            "order_id": 13,
            "customer": "Pilvi",
            "amount": None,
            "order_date": "2024-02-03",
            "channel": "web",
            "address": {"city": "Oulu"},
        },
    ]
).encode()
MAR_CSV = (
    "Order ID,Customer,Amount (€),Order Date,Paid,Discount\n"
    "14,Järvi,20,2024-03-01,yes,5\n"
    "15,Joki,21,2024-03-02,maybe,0\n"
).encode("utf-8-sig")
CONFIG = "datasets:\n  shop:\n    outliers: {min_rows: 5}\n"
CONTENT = ("order_id", "customer", "amount", "order_date", "paid", "channel", "address_city")


class Lake:
    """A local source directory and lake, with the ingest and clean steps of one test."""

    def __init__(self, tmp_path: Path, make_settings: SettingsFactory, config: str, **kw: Any):
        self.source = tmp_path / "source"
        self.source.mkdir()
        (tmp_path / "clean.yaml").write_text(config)
        self.settings = make_settings(
            source=str(self.source), clean_config=str(tmp_path / "clean.yaml"), **kw
        )
        self.ctx = Context.from_settings(self.settings)
        self.runs = 0

    def drop(self, key: str, data: bytes) -> None:
        path = self.source / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def run(self, mapping: Mapping | None = None) -> dict[str, DatasetResult]:
        self.runs += 1
        ingest = land(self.ctx, run_id=f"b{self.runs}", mapping=mapping or Mapping())
        assert ingest is not None
        manifest = run_clean(self.ctx, run_id=f"c{self.runs}", after_clean=AFTER_CLEAN)
        assert manifest is not None
        return manifest.datasets

    def rows(self, dataset: str, columns: tuple[str, ...], order: str = "order_id") -> list[Any]:
        con = duckdb.connect()
        LakeReader(self.ctx.store).register_views(con, [dataset])
        cols = ", ".join(f'"{c}"' for c in columns)
        by = f'"{order}"' if order.isidentifier() else order
        return con.execute(f'SELECT {cols} FROM "{dataset}" ORDER BY {by}').fetchall()


@pytest.fixture
def shop(tmp_path: Path, make_settings: SettingsFactory) -> Lake:
    lake = Lake(tmp_path, make_settings, CONFIG)
    lake.drop("shop/2024-01.csv", JAN_CSV)
    lake.drop("shop/2024-02.json", FEB_JSON)
    return lake


def test_messy_files_clean_to_the_hand_written_rows(shop: Lake) -> None:
    result = shop.run()["shop"]
    d = dt.date
    assert shop.rows("shop", (*CONTENT, "_outlier_columns", "_completeness")) == [
        (1, "Äijä Oy", 12.5, d(2024, 1, 5), True, None, None, None, 0.7143),
        (2, "Björk AB", 7.25, d(2024, 1, 6), False, None, None, None, 0.7143),
        (5, "Kala", 8.75, d(2024, 1, 9), None, None, None, None, 0.5714),
        (6, "Lumi", 10.0, d(2024, 1, 10), True, None, None, None, 0.7143),
        (7, "Sade", 11.25, d(2024, 1, 11), False, None, None, None, 0.7143),
        (8, "Tuuli", 950.0, d(2024, 1, 12), True, None, None, "amount", 0.7143),
        (9, "Meri", 9.5, d(2024, 1, 13), False, None, None, None, 0.7143),
        (10, "Kivi", 10.75, d(2024, 1, 14), True, None, None, None, 0.7143),
        (11, "Kuu", 10.5, d(2024, 2, 1), None, "web", "Oulu", None, 0.8571),
        (12, "Tähti", 11.0, d(2024, 2, 2), None, "store", "Turku", None, 0.8571),
        (13, "Pilvi", None, d(2024, 2, 3), None, "web", "Oulu", None, 0.7143),
    ]
    # 13 parsed rows + 1 ragged line; order 3 (`12 kg`) and order 4 (ragged) quarantined;
    # the second order 2 is an exact duplicate.
    assert (result.rows_in, result.rows_written, result.rows_duplicate) == (14, 11, 1)
    assert result.rows_quarantined == 2
    extra = result.model_dump()
    assert extra["quarantine_reasons"] == {
        "invalid DOUBLE in amount": 1,
        "malformed line: too many columns": 1,
    }
    assert extra["types"] == {
        "order_id": "BIGINT",
        "customer": "VARCHAR",
        "amount": "DOUBLE",
        "order_date": "DATE",
        "paid": "BOOLEAN",
        "channel": "VARCHAR",
        "address_city": "VARCHAR",
    }
    assert extra["columns_dropped"] == {"notes": 100.0}
    assert extra["outliers"]["amount"]["count"] == 1
    jan, feb = f"{shop.source}/shop/2024-01.csv", f"{shop.source}/shop/2024-02.json"
    assert extra["drift"]["files"] == {
        jan: {"missing": ["address_city", "channel"]},
        feb: {"missing": ["paid"]},
    }


def test_quality_figures_of_the_messy_run(shop: Lake) -> None:
    result = shop.run()["shop"]
    (report,) = read_reports(shop.ctx.store, "shop")
    dims = {name: d.score for name, d in report.dimensions.items()}
    # Scored over what readers get: the 11 distinct rows committed (the 12th accepted row
    # repeats one exactly and is counted as a duplicate removed, not scored).
    # 11 rows x 7 columns = 77 cells, 56 filled.
    assert report.dimensions["completeness"].numerator == 56
    assert report.rows_duplicate == 1
    assert dims == {
        "completeness": 72.73,  # 56 / 77
        "uniqueness": 100.0,  # 11 distinct rows / 11
        "consistency": 97.37,  # 37 / 38: amount 950 is beyond Q3 + 3 IQR
        "validity": 84.62,  # 11 committed / (11 + 2 quarantined)
    }
    assert report.overall_score == 88.68 == result.quality_score
    assert {n: d.passed for n, d in report.dimensions.items()} == {
        "completeness": False,
        "uniqueness": True,
        "consistency": True,
        "validity": False,  # below its 85 % threshold: 2 of 13 distinct rows rejected
    }


def test_quarantine_holds_the_rejected_rows_with_reasons(shop: Lake) -> None:
    shop.run()
    con = duckdb.connect()
    (shop_summary,) = [s for s in summary(shop.ctx.store, con) if s.dataset == "shop"]
    assert shop_summary.rows == 2 and shop_summary.last_run == "c1"
    rows = sample(shop.ctx.store, con, "shop").sort_values("_reject_reason")
    assert list(rows["_reject_reason"]) == [
        "invalid DOUBLE in amount",
        "malformed line: too many columns",
    ]
    typed, ragged = rows.iloc[0], rows.iloc[1]
    assert (typed["order_id"], typed["amount"], typed["_source_row"]) == ("3", "12 kg", 4)
    assert (ragged["_raw_line"], ragged["_source_line"]) == ("4;Oy Ab;9,00;08.01.2024;yes;x;y", 6)
    assert set(rows["_dataset"]) == {"shop"} and set(rows["_ingest_run"]) == {"b1"}
    assert set(rows["_source_file"]) == {f"{shop.source}/shop/2024-01.csv"}


def test_a_reingested_file_does_not_quarantine_its_rejects_again(shop: Lake) -> None:
    shop.run()
    shop.drop("shop/2024-01.csv", JAN_CSV + "11;Uusi;5,00;15.01.2024;yes;\n".encode("cp1252"))
    result = shop.run()["shop"]
    assert (result.rows_written, result.rows_quarantined) == (1, 0)
    con = duckdb.connect()
    (shop_summary,) = [s for s in summary(shop.ctx.store, con) if s.dataset == "shop"]
    assert shop_summary.rows == 2 and shop_summary.last_run == "c1"


@pytest.mark.parametrize("key", [None, "order_id"], ids=["exact-rows", "keyed"])
def test_a_redelivered_file_scores_the_rows_readers_get(
    tmp_path: Path, make_settings: SettingsFactory, key: str | None
) -> None:
    # The attack: a source re-delivers a committed file with one new row, and a second file
    # repeats part of it. Every committed row is distinct (by the key, or exactly), so the
    # report of that run must score uniqueness 100 % and call the repeats removed duplicates,
    # not blame the source for them.
    keyed = f"    key: [{key}]\n" if key else ""
    config = f"datasets:\n  shop:\n{keyed}    outliers: {{min_rows: 5}}\n"
    lake = Lake(tmp_path, make_settings, config)
    lake.drop("shop/2024-01.csv", JAN_CSV)
    lake.run()
    (first,) = read_reports(lake.ctx.store, "shop")
    lake.drop("shop/2024-01.csv", JAN_CSV + "11;Uusi;5,00;15.01.2024;yes;\n".encode("cp1252"))
    lake.drop("shop/2024-01b.csv", b"\n".join(JAN_CSV.split(b"\n")[:4]) + b"\n")
    result = lake.run()["shop"]
    # 10 accepted rows of the re-delivery (orders 3 and 4 are rejected again, and already in
    # quarantine) + 3 of the partial copy: 9 distinct rows, 8 of them committed before. One
    # row is written and the other 12 are duplicates.
    assert (result.rows_written, result.rows_duplicate, result.rows_quarantined) == (1, 12, 0)
    reports = sorted(read_reports(lake.ctx.store, "shop"), key=lambda r: r.created_at)
    second = reports[-1]
    assert second.run_id == "c2" and first.run_id == "c1"
    assert second.rows == 9  # the batch, one row per key: the 8 kept rows of January + order 11
    uniqueness = second.dimensions["uniqueness"]
    assert (uniqueness.score, uniqueness.numerator, uniqueness.denominator) == (100.0, 9, 9)
    assert uniqueness.passed and first.dimensions["uniqueness"].score == 100.0
    assert not any("duplicate" in r for r in second.recommendations), second.recommendations
    assert any("duplicates removed" in s for s in second.steps), second.steps
    assert len(lake.rows("shop", ("order_id",))) == 9


def test_schema_drift_across_runs_keeps_committed_types(shop: Lake) -> None:
    shop.run()
    shop.drop("shop/2024-03.csv", MAR_CSV)
    result = shop.run()["shop"].model_dump()
    assert result["drift"] == {
        "new_columns": ["discount"],
        "missing_columns": ["address_city", "channel"],
        "retyped_columns": {
            "paid": {
                "committed": "BOOLEAN",
                "inferred": "VARCHAR",
                "written": "BOOLEAN",
                "action": "kept",
            }
        },
        "files": {},
    }
    assert result["quarantine_reasons"] == {"invalid BOOLEAN in paid": 1}
    assert result["types"]["amount"] == "DOUBLE"  # integers this time; the contract stays
    rows = shop.rows("shop", ("order_id", "amount", "paid", "discount"))
    assert rows[-1] == (14, 20.0, True, 5)
    assert rows[0] == (1, 12.5, True, None)
    snapshot = LakeReader(shop.ctx.store).snapshot("shop")
    assert snapshot is not None
    types = dict(snapshot.columns)
    assert (types["discount"], types["paid"], types["amount"]) == ("BIGINT", "BOOLEAN", "DOUBLE")


def test_rerunning_the_same_files_adds_nothing(shop: Lake) -> None:
    shop.run()
    shop.drop("shop/2024-02.json", FEB_JSON + b"\n")  # changed ETag, same rows
    result = shop.run()["shop"]
    assert (result.rows_written, result.rows_duplicate) == (0, 3)
    assert len(shop.rows("shop", ("order_id",))) == 11


def test_widening_integer_to_double(tmp_path: Path, make_settings: SettingsFactory) -> None:
    lake = Lake(tmp_path, make_settings, "")
    lake.drop("m/1.csv", b"id,value\n1,10\n2,20\n")
    lake.run()
    lake.drop("m/2.csv", b"id,value\n3,2.5\n")
    result = lake.run()["m"].model_dump()
    assert result["types"]["value"] == "DOUBLE"
    assert result["drift"]["retyped_columns"] == {
        "value": {
            "committed": "BIGINT",
            "inferred": "DOUBLE",
            "written": "DOUBLE",
            "action": "widened",
        }
    }
    assert lake.rows("m", ("id", "value"), order="id") == [(1, 10.0), (2, 20.0), (3, 2.5)]


def test_key_and_latest_replace_a_changed_row(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    config = "datasets:\n  prices:\n    key: [SKU]\n"
    lake = Lake(tmp_path, make_settings, config)
    lake.drop("prices/p.csv", b"SKU,Price\nA1,10\nA1,11\nB2,5\n")
    first = lake.run()["prices"]
    # the last row of a file wins a repeated key
    assert lake.rows("prices", ("sku", "price"), order="sku") == [("A1", 11), ("B2", 5)]
    assert first.rows_duplicate == 1
    lake.drop("prices/p.csv", b"SKU,Price\nA1,12\n")
    second = lake.run()["prices"]
    assert second.rows_replaced == 1
    assert lake.rows("prices", ("sku", "price"), order="sku") == [("A1", 12), ("B2", 5)]


def test_invalid_values_can_be_kept_as_null_with_a_flag(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    config = "defaults:\n  on_invalid: empty\n  infer_share: 0.6\n"
    lake = Lake(tmp_path, make_settings, config)
    lake.drop("t/a.csv", b"n,x\n1,10\n2,oops\n3,30\n")
    result = lake.run()["t"]
    assert result.rows_quarantined == 0
    assert lake.rows("t", ("n", "x", "_invalid_columns"), order="n") == [
        (1, 10, None),
        (2, None, "x"),
        (3, 30, None),
    ]
    (report,) = read_reports(lake.ctx.store, "t")
    assert report.rows_invalid_kept == 1
    assert report.dimensions["validity"].score == 66.67  # (3 - 1) / 3


def test_ndjson_bad_lines_and_excel_sheets(tmp_path: Path, make_settings: SettingsFactory) -> None:
    from openpyxl import Workbook

    lake = Lake(tmp_path, make_settings, "")
    lake.drop("events/e.jsonl", b'{"kind": "a", "n": 1}\n{broken\n\n{"kind": "b", "n": 2}\n')
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "North"
    first.append(["Region", "Sales"])
    first.append(["N1", 10])
    south = book.create_sheet("South")
    south.append(["Region", "Sales", "Manager"])
    south.append(["S1", 20.5, "Ann"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    lake.drop("regions/book.xlsx", path.read_bytes())
    results = lake.run()
    assert results["events"].model_dump()["quarantine_reasons"] == {
        "malformed line: not valid JSON": 1
    }
    assert lake.rows("events", ("kind", "n"), order="n") == [("a", 1), ("b", 2)]
    uri = f"{lake.source}/regions/book.xlsx"
    assert lake.rows("regions", ("region", "sales", "manager", "_source_file"), "region") == [
        ("N1", 10.0, None, f"{uri}#North"),
        ("S1", 20.5, "Ann", f"{uri}#South"),
    ]


def test_one_sheet_from_the_mapping(tmp_path: Path, make_settings: SettingsFactory) -> None:
    from openpyxl import Workbook

    lake = Lake(tmp_path, make_settings, "")
    book = Workbook()
    book.active.title = "Notes"  # type: ignore[union-attr]
    data = book.create_sheet("Data")
    data.append(["a"])
    data.append([1])
    path = tmp_path / "book.xlsx"
    book.save(path)
    lake.drop("book.xlsx", path.read_bytes())
    lake.run(parse_mapping("rules: [{pattern: '*.xlsx', dataset: sheet_data, sheet: Data}]"))
    assert lake.rows("sheet_data", ("a",), order="a") == [(1,)]


def test_parquet_with_nested_columns(tmp_path: Path, make_settings: SettingsFactory) -> None:
    lake = Lake(tmp_path, make_settings, "")
    path = tmp_path / "n.parquet"
    duckdb.connect().execute(
        "COPY (SELECT 1 AS id, {'a': 1, 'b': 'x'} AS meta, [1, 2] AS tags, "
        f"TIMESTAMP '2024-01-05 10:00:00' AS at) TO '{path}' (FORMAT parquet)"
    )
    lake.drop("nested/n.parquet", path.read_bytes())
    lake.run()
    assert lake.rows("nested", ("id", "meta", "tags", "at"), order="id") == [
        (1, '{"a":1,"b":"x"}', "[1,2]", dt.datetime(2024, 1, 5, 10, 0))
    ]


def test_missing_value_options(tmp_path: Path, make_settings: SettingsFactory) -> None:
    config = (
        "datasets:\n  px:\n    missing:\n      numeric: median\n      text: unknown\n"
        "      ffill_by: [symbol]\n      ffill_order: day\n      ffill_columns: [price]\n"
        "      drop_columns_over: 0.9\n"
    )
    lake = Lake(tmp_path, make_settings, config)
    rows = [
        "symbol,day,price,volume,note,sparse",
        "A,2024-01-01,10,100,x,",
        "A,2024-01-02,,,,",
        "A,2024-01-03,12,300,,",
        "B,2024-01-01,,200,y,",
        "B,2024-01-02,20,,,",
        *[f"C,2024-01-{d:02d},5,50,z," for d in range(1, 5)],
        "C,2024-01-05,5,50,z,1",
    ]
    lake.drop("px/p.csv", ("\n".join(rows) + "\n").encode())
    result = lake.run()["px"].model_dump()
    assert result["columns_dropped"] == {"sparse": 90.0}
    assert result["imputed"] == {"price": 2, "volume": 2, "note": 3}
    got = lake.rows("px", ("symbol", "day", "price", "volume", "note", "_imputed_columns"), "day")
    by_key = {(s, str(d)): (p, v, n, flag) for s, d, p, v, n, flag in got}
    # price forward-filled within the symbol, then back-filled (B's first day)
    assert by_key[("A", "2024-01-02")] == (10, 50, "unknown", "price,volume,note")
    assert by_key[("B", "2024-01-01")] == (20, 200, "y", "price")
    # volume median over the 8 known values (50 x5, 100, 200, 300) is 50
    assert by_key[("B", "2024-01-02")] == (20, 50, "unknown", "volume,note")


@pytest.mark.parametrize(
    ("action", "expected", "quarantined"),
    [
        ("flag", [1.0, 2.0, 3.0, 4.0, 5.0, 100.0], 0),
        ("clip", [1.0, 2.0, 3.0, 4.0, 5.0, 8.5], 0),
        ("drop", [1.0, 2.0, 3.0, 4.0, 5.0], 1),
        ("empty", [None, 1.0, 2.0, 3.0, 4.0, 5.0], 0),
    ],
)
def test_outlier_actions(
    tmp_path: Path,
    make_settings: SettingsFactory,
    action: str,
    expected: list[float | None],
    quarantined: int,
) -> None:
    # Values 1,2,3,4,5,100 (n=6): Q1 = 2.25, Q3 = 4.75 (positions 1.25 and 3.75), IQR = 2.5,
    # fences -1.5 and 8.5; 100 is the only outlier, and clipping puts it at 8.5.
    config = f"defaults:\n  outliers: {{min_rows: 5, action: {action}}}\n"
    lake = Lake(tmp_path, make_settings, config)
    lake.drop(
        "o/v.csv", b"k,v\n" + b"".join(f"r{v},{v}.0\n".encode() for v in (1, 2, 3, 4, 5, 100))
    )
    result = lake.run()["o"]
    assert result.rows_quarantined == quarantined
    values = [v for (v,) in lake.rows("o", ("v",), order="v NULLS FIRST, k")]
    assert values == expected


def test_data_lines_with_a_trailing_delimiter(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    lake = Lake(tmp_path, make_settings, "")
    lake.drop("t/a.csv", b"a;b\n1;x;\n2;y;\n3;z\n")
    result = lake.run()["t"].model_dump()
    assert lake.rows("t", ("a", "b"), order="a") == [(1, "x"), (2, "y")]
    assert result["quarantine_reasons"] == {"malformed line: too few columns": 1}
    assert result["columns_dropped"] == {"column_3": 100.0}


def test_short_rows_can_be_padded(tmp_path: Path, make_settings: SettingsFactory) -> None:
    lake = Lake(tmp_path, make_settings, "defaults: {short_rows: pad}\n")
    lake.drop("t/a.csv", b"a;b;c\n1;x;p\n2;y\n3\n")
    result = lake.run()["t"]
    assert result.rows_quarantined == 0
    assert lake.rows("t", ("a", "b", "c"), order="a") == [
        (1, "x", "p"),
        (2, "y", None),
        (3, None, None),
    ]


def test_landed_files_carry_their_listed_size(shop: Lake, tmp_path: Path) -> None:
    """Clean reads each landed file's size from its raw line: the loader decides by it whether
    a file fits beside others still loading."""
    assert land(shop.ctx, run_id="b1", mapping=Mapping()) is not None
    raw = sorted(str(p) for p in (tmp_path / "lake" / "raw").rglob("*.jsonl.gz"))
    con = duckdb.connect()
    con.execute(f"CREATE VIEW raw AS {raw_view_sql(raw)}")
    sizes = {ref.uri.rsplit("/", 1)[-1]: ref.size for ref in file_refs(con)}
    assert sizes == {"2024-01.csv": len(JAN_CSV), "2024-02.json": len(FEB_JSON)}


def test_a_column_named_like_the_partition_keeps_its_values(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    """`dt` names the partition every dataset's files are laid out by; a file's own `dt`
    column (CSV, Parquet or JSON) was silently replaced by it, its values lost."""
    lake = Lake(tmp_path, make_settings, "")
    lake.drop("evts/a.csv", b"DT,value\nnot-a-date,1\n2020-01-01,2\n")
    path = tmp_path / "e.parquet"
    duckdb.connect().execute(f"COPY (SELECT 'x' AS dt, 3 AS value) TO '{path}' (FORMAT parquet)")
    lake.drop("evts/b.parquet", path.read_bytes())
    lake.drop("evts/c.json", b'[{"dt": "y", "value": 4}]')
    result = lake.run()["evts"]
    assert result.status == "ok" and result.rows_written == 4
    assert lake.rows("evts", ("dt_2", "value"), order="value") == [
        ("not-a-date", 1),
        ("2020-01-01", 2),
        ("x", 3),
        ("y", 4),
    ]
