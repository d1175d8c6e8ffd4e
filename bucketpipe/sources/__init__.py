"""Data sources that land raw data: the Finnhub API, files in a bucket, the offline demo."""
