"""The lake: object stores, key layout, snapshot commits, run manifests, raw and data files,
DuckDB."""
