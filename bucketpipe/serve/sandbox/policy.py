"""What user SQL may contain: allowlists of parse-tree nodes, tables and functions.

Everything not listed is refused. Scalar, aggregate and window functions are allowed by
category: DuckDB's own `duckdb_functions().categories` where it has them, and the categories
below for the functions DuckDB leaves uncategorised. No category holds a function that reads
settings, secrets, variables, the environment, files or logs, loads extensions, sleeps or
changes the session (`current_setting`, `getvariable`, `setseed`, `nextval`, ...): those are
simply absent, and `REASONS` explains the common ones.
"""

from __future__ import annotations

import functools

import duckdb

# --- parse-tree nodes ------------------------------------------------------------------------
QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
TABLE_REFS = frozenset(
    {"BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "PIVOT"}
    | {"SHOW_REF", "EMPTY"}
)
EXPRESSIONS = frozenset(
    {"BETWEEN", "CASE", "CAST", "COLLATE", "COLUMN_REF", "COMPARISON", "CONJUNCTION"}
    | {"CONSTANT", "FUNCTION", "LAMBDA", "LAMBDA_REF", "OPERATOR", "POSITIONAL_REFERENCE"}
    | {"STAR", "SUBQUERY", "WINDOW"}
)

# --- tables ---------------------------------------------------------------------------------
# Table functions that compute rows or describe the dataset views; every other one reads
# files or URLs (read_*, glob, parquet_*), runs SQL from a string (query, query_table), or
# shows the engine's internals (duckdb_settings, duckdb_secrets, duckdb_variables, ...).
TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "json_each", "json_tree"}
    | {"duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_types", "duckdb_keywords"}
    | {"duckdb_functions"}
)
# System views a query may name, unqualified or qualified (`system.main.duckdb_tables`).
SYSTEM_VIEWS = frozenset(
    {"duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_types", "duckdb_schemas"}
)
INFORMATION_SCHEMA = frozenset({"tables", "columns", "schemata"})
# What `SHOW TABLES` and `SHOW ALL TABLES` parse to.
SHOW_TARGETS = frozenset({'"tables"', "__show_tables_expanded"})

# --- functions ------------------------------------------------------------------------------
# DuckDB's own categories whose functions are pure computations on their arguments.
DUCKDB_CATEGORIES = frozenset(
    {"array", "bitstring", "blob", "lambda", "list", "numeric", "regex", "string", "struct"}
    | {"text_similarity", "date", "timestamp", "aggregate"}
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The functions DuckDB lists without a category, sorted into categories of our own.
CATEGORIES: dict[str, frozenset[str]] = {
    "operator": _names("!__postfix % & * ** + - ->> / // << >> @ ^ | ~ ~~ !~~ ~~* !~~* ~~~"),
    "math": _names(
        """abs acos acosh add asin asinh atan atan2 atanh bit_count bit_position cbrt ceil
        ceiling cos cosh cot degrees divide equi_width_bins even exp factorial fdiv floor fmod
        gamma gcd get_bit greatest_common_divisor isfinite isinf isnan lcm
        least_common_multiple lgamma ln log log10 log2 mod multiply nextafter pi pow power
        radians random round round_even roundbankers set_bit sign signbit sin sinh sqrt
        subtract tan tanh trunc xor"""
    ),
    "date": _names(
        """age ago century current_date current_localtime current_localtimestamp date_add
        date_diff date_part date_sub date_trunc datediff datepart datesub datetrunc day
        dayname dayofmonth dayofweek dayofyear days_in_month decade epoch epoch_ms epoch_ns
        epoch_us era get_current_time get_current_timestamp hour isodow isoyear julian
        last_day make_date make_time make_timestamp make_timestamp_ms make_timestamp_ns
        make_timestamptz microsecond millennium millisecond minute month monthname nanosecond
        normalized_interval now quarter second strftime strptime time_bucket timezone
        timezone_hour timezone_minute to_centuries to_days to_decades to_hours
        to_microseconds to_millennia to_milliseconds to_minutes to_months to_quarters
        to_seconds to_timestamp to_weeks to_years today transaction_timestamp try_strptime
        week weekday weekofyear year yearweek"""
    ),
    "json": _names(
        """array_to_json from_json from_json_strict json json_array json_array_length
        json_contains json_exists json_extract json_extract_path json_extract_path_text
        json_extract_string json_group_array json_group_object json_group_structure json_keys
        json_merge_patch json_object json_pretty json_quote json_structure json_transform
        json_transform_strict json_type json_valid json_value row_to_json to_json"""
    ),
    "map and struct": _names(
        """cardinality element_at map map_concat map_contains map_contains_entry
        map_contains_value map_entries map_extract map_extract_value map_from_entries map_keys
        map_values remap_struct row struct_concat struct_contains struct_extract
        struct_extract_at struct_has struct_indexof struct_insert struct_keys struct_pack
        struct_position struct_update struct_values union_extract union_tag
        union_value"""
    ),
    "list": _names(
        """array_append array_pop_back array_pop_front array_prepend array_push_back
        array_push_front array_reverse array_to_string array_to_string_comma_default
        generate_subscripts unnest list_any_value list_append list_approx_count_distinct list_avg
        list_bit_and list_bit_or list_bit_xor list_bool_and list_bool_or list_count
        list_entropy list_first list_histogram list_kurtosis list_kurtosis_pop list_last
        list_mad list_max list_median list_min list_mode list_prepend list_product
        list_reverse list_sem list_skewness list_stddev_pop list_stddev_samp list_string_agg
        list_sum list_var_pop list_var_samp"""
    ),
    "text": _names("md5_number_lower md5_number_upper nullif split_part"),
    "enum, uuid and type": _names(
        """alias can_cast_implicitly enum_code enum_first enum_last enum_range
        enum_range_boundary gen_random_uuid typeof uuid uuid_extract_timestamp
        uuid_extract_version uuidv4 uuidv7"""
    ),
    "aggregate": _names(
        """any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max
        arg_max_null arg_max_nulls_last arg_min arg_min_null arg_min_nulls_last argmax argmin
        array_agg avg bit_and bit_or bit_xor bitstring_agg bool_and bool_or corr count
        count_if count_star countif covar_pop covar_samp entropy favg first fsum geomean
        geometric_mean group_concat histogram histogram_exact kahan_sum kurtosis
        kurtosis_pop last list listagg mad max max_by mean median min min_by mode product
        quantile quantile_cont quantile_disc regr_avgx regr_avgy regr_count regr_intercept
        regr_r2 regr_slope regr_sxx regr_sxy regr_syy reservoir_quantile sem skewness stddev
        stddev_pop stddev_samp string_agg sum sum_no_overflow sumkahan var_pop var_samp
        variance wavg weighted_avg"""
    ),
    "window": _names(
        """cume_dist dense_rank fill first_value lag last_value lead nth_value ntile
        percent_rank rank rank_dense row_number"""
    ),
}
# Why the functions people reach for first are missing (the rest get a generic message).
REASONS = {
    "current_setting": "settings are not available",
    "getvariable": "variables are not available",
    "getenv": "environment variables are not available",
    "duckdb_settings": "settings are not available",
    "duckdb_secrets": "secrets are not available",
    "which_secret": "secrets are not available",
    "duckdb_variables": "variables are not available",
    "duckdb_extensions": "extensions are not available",
    "duckdb_logs": "logs are not available",
    "enable_logging": "logging cannot be changed",
    "query": "it runs SQL from a string",
    "query_table": "it runs SQL from a string",
    "json_execute_serialized_sql": "it runs SQL from a string",
    "json_serialize_plan": "it plans SQL from a string",
    "setseed": "it changes the session",
    "nextval": "it changes the session",
    "sleep_ms": "it only waits",
    "pg_sleep": "it only waits",
}
READER_PREFIXES = ("read_", "parquet_", "sniff_", "glob", "iceberg_", "delta_", "sqlite_")


@functools.cache
def allowed_functions() -> frozenset[str]:
    """Names of the scalar, aggregate and window functions user SQL may call."""
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
    try:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name), categories FROM duckdb_functions() "
            "WHERE function_type IN ('scalar', 'aggregate', 'macro')"
        ).fetchall()
    finally:
        con.close()
    by_category = {name for name, cats in rows if set(cats or ()) & DUCKDB_CATEGORIES}
    return frozenset(by_category.union(*CATEGORIES.values()) - set(REASONS))


@functools.cache
def reserved_names() -> frozenset[str]:
    """Tables and views of the engine's own catalogs: a CTE may not take one of these names."""
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
    try:
        rows = con.execute(
            "SELECT lower(view_name) FROM duckdb_views() "
            "UNION SELECT lower(table_name) FROM duckdb_tables()"
        ).fetchall()
    finally:
        con.close()
    return frozenset(name for (name,) in rows) | {"pg_settings", "duckdb_settings"}
