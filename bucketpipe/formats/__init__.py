"""File formats: readers for CSV/TSV, JSON, NDJSON, Excel and Parquet, with their bounds."""
