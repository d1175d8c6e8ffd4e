"""Ingest: land raw data from Finnhub, a source bucket or the demo market, and commit the run."""
