"""Benchmarks of the bucket design against the shared-volume-and-CSV design (`bucketpipe bench`).

Every figure comes from the product's own code paths (the dashboard's query functions, the
clean job, the Finnhub ingest with its rate limiter, compaction) on generated history, measured
beside a faithful implementation of the common design (`baseline`) that answers the same
questions from one CSV per dataset per run.
"""
