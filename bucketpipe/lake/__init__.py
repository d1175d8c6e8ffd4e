"""The lake: object stores, key layout, snapshot commits, run manifests, raw records, DuckDB."""
