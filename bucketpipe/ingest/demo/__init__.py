"""The offline demo market: deterministic data in Finnhub's shapes, with realistic defects."""
