"""Clean: raw lines to typed, deduplicated, partitioned Parquet; derived datasets; quarantine."""
