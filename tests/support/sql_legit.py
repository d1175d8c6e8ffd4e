"""Ordinary analyst SQL the sandbox must run: comments anywhere, CTEs, window functions,
QUALIFY, PIVOT/UNPIVOT, regexp, lists and structs, dates, EXPLAIN, DESCRIBE, SUMMARIZE, SHOW
TABLES, non-ASCII text and expressions of 1,000 terms."""

from __future__ import annotations

LEGIT = [
    "SELECT 1",
    "SELECT /* c */ 1",
    "-- a comment first\nSELECT count(*) AS n FROM quotes",
    "SELECT symbol -- trailing comment\nFROM quotes /* block\n comment */ LIMIT 3",
    "/* é ü ✓ 日本 */ SELECT symbol FROM quotes LIMIT 1",
    "select * from quotes limit 5;",
    "FROM quotes SELECT symbol, price LIMIT 3",
    "TABLE company_profiles",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT 'héllo wörld ✓ 日本語 🚀' AS greeting",
    "SELECT symbol, 'Ünïcödé' AS label FROM quotes WHERE symbol <> 'ÄÖ' LIMIT 2",
    "WITH t AS (SELECT symbol, avg(price) AS p FROM quotes GROUP BY ALL) "
    "SELECT * FROM t ORDER BY p",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) "
    "SELECT sum(n) FROM t",
    "SELECT symbol, price, avg(price) OVER (PARTITION BY symbol ORDER BY ts ROWS BETWEEN 4 "
    "PRECEDING AND CURRENT ROW) AS ma FROM quotes",
    "SELECT symbol, ts, price FROM quotes "
    "QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY ts DESC) = 1",
    "SELECT symbol, lag(price) OVER (PARTITION BY symbol ORDER BY ts) AS prev FROM quotes",
    "SELECT symbol, rank() OVER (ORDER BY price DESC), ntile(4) OVER (ORDER BY price) FROM quotes",
    "PIVOT quotes ON symbol IN ('AAPL', 'MSFT') USING avg(price)",
    "SELECT * FROM quotes PIVOT (avg(price) FOR symbol IN ('AAPL', 'MSFT'))",
    "UNPIVOT (SELECT symbol, price, change_pct FROM quotes) ON price, change_pct "
    "INTO NAME field VALUE amount",
    "SELECT symbol, regexp_matches(symbol, '^A') AS a, regexp_replace(symbol, 'A', 'a', 'g') "
    "FROM quotes",
    "SELECT regexp_extract('2026-01-02', '(\\d+)-(\\d+)', 2)",
    "SELECT symbol FROM quotes WHERE symbol SIMILAR TO 'A.*' OR symbol ~~ 'M%'",
    "SELECT list_transform([1, 2, 3], x -> x * 2), list_filter([1, 2, 3], x -> x > 1)",
    "SELECT [x * 2 FOR x IN [1, 2, 3] IF x > 1] AS doubled",
    "SELECT list(price ORDER BY ts) AS prices FROM quotes GROUP BY symbol",
    "SELECT {'symbol': symbol, 'price': price} AS s FROM quotes LIMIT 2",
    "SELECT struct_pack(a := 1, b := 'x').b, map {'k': 1}['k']",
    "SELECT unnest([1, 2, 3]) AS n",
    "SELECT * FROM range(5) t(n)",
    "SELECT * FROM generate_series(1, 10, 3)",
    "SELECT date_trunc('month', ts) AS m, count(*) FROM quotes GROUP BY ALL ORDER BY 1",
    "SELECT strftime(ts, '%Y-%m-%d') AS d, dayname(ts), extract(hour FROM ts) FROM quotes",
    "SELECT current_date, now() > TIMESTAMP '2000-01-01', today() - INTERVAL 7 DAY",
    "SELECT date_diff('day', DATE '2026-01-01', DATE '2026-03-01'), make_date(2026, 1, 2)",
    "SELECT time_bucket(INTERVAL '1 hour', ts) AS h, avg(price) FROM quotes GROUP BY 1",
    "SELECT epoch(ts), age(TIMESTAMP '2026-01-01', TIMESTAMP '2025-01-01') FROM quotes LIMIT 1",
    "EXPLAIN SELECT symbol, avg(price) FROM quotes GROUP BY symbol",
    "EXPLAIN SELECT * FROM quotes WHERE symbol = 'AAPL'",
    "DESCRIBE quotes",
    "DESCRIBE SELECT symbol, price FROM quotes",
    "SUMMARIZE quotes",
    "SUMMARIZE SELECT price FROM quotes",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal",
    "SELECT * FROM information_schema.columns WHERE table_name = 'quotes'",
    "SELECT symbol, median(price), quantile_cont(price, 0.9), stddev(price) FROM quotes "
    "GROUP BY ALL",
    "SELECT symbol, string_agg(DISTINCT exchange, ',') FROM company_profiles GROUP BY ALL",
    "SELECT q.symbol, p.name FROM quotes q JOIN company_profiles p USING (symbol) LIMIT 5",
    "SELECT symbol FROM quotes UNION SELECT symbol FROM company_profiles",
    "SELECT symbol FROM quotes EXCEPT SELECT 'AAPL'",
    "SELECT CASE WHEN price > 100 THEN 'high' ELSE 'low' END AS band, count(*) FROM quotes "
    "GROUP BY 1",
    "SELECT coalesce(NULL, 1), nullif(1, 1), greatest(1, 2), least(3, 4), try_cast('x' AS INT)",
    "SELECT round(avg(price), 2), floor(max(price)), ceil(min(price)), abs(-1), sqrt(16.0) "
    "FROM quotes",
    "SELECT upper(symbol), lower(symbol), length(symbol), left(symbol, 1), "
    "concat(symbol, '!'), symbol || '?' FROM quotes LIMIT 3",
    "SELECT split_part('a,b,c', ',', 2), string_split('a b', ' '), trim('  x  '), "
    "replace('abc', 'b', 'x')",
    "SELECT '{\"a\": 1}'::JSON ->> 'a', json_extract('{\"b\": [1, 2]}', '$.b[1]')",
    "SELECT to_json({'a': 1}), json_object('k', 2)",
    "SELECT hash(symbol), md5(symbol) FROM quotes LIMIT 1",
    "SELECT * FROM quotes WHERE symbol IN ('AAPL', 'MSFT') AND price BETWEEN 0 AND 1e9",
    "SELECT * FROM quotes ORDER BY price DESC NULLS LAST LIMIT 3 OFFSET 1",
    "SELECT * FROM quotes USING SAMPLE 10 ROWS",
    "SELECT COLUMNS('p.*') FROM quotes LIMIT 1",
    "SELECT * EXCLUDE (price) FROM quotes LIMIT 1",
    "SELECT EXISTS (SELECT 1 FROM quotes WHERE price > 0)",
    "SELECT * FROM range(3) t(x) ASOF JOIN range(3) u(y) ON x >= y",
    "SELECT symbol FROM quotes UNION ALL BY NAME SELECT 'X' AS symbol",
    "SELECT list_reduce([1, 2, 3], (x, y) -> x + y), [1, 2, 3].list_sum()",
    "SELECT * FROM (DESCRIBE quotes) WHERE column_name = 'price'",
    'SELECT key, value FROM json_each(\'{"a": 1, "b": [2]}\')',
    "SELECT symbol, sum(price) FROM quotes GROUP BY GROUPING SETS ((symbol), ())",
    "SELECT #1, #2 FROM quotes LIMIT 2",
    "SELECT 1 WHERE " + " OR ".join(f"{i} = 999" for i in range(1000)) + " OR true",
    "SELECT 1 IN (" + ", ".join(str(i) for i in range(1000)) + ")",
    "SELECT CASE " + " ".join(f"WHEN range = {i} THEN {i}" for i in range(1000)) + " END "
    "FROM range(3)",
    "SELECT [" + ", ".join(str(i) for i in range(1000)) + "] AS many",
    "SELECT " + " + ".join(["range"] * 500) + " FROM range(3)",
    "SELECT " + " + ".join(["1"] * 200),
]
