"""Cleaning: turning raw lines into typed, deduplicated, partitioned, committed Parquet."""
