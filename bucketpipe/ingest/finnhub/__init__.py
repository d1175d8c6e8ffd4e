"""The Finnhub source: a header-authenticated, rate-limited client and the ingest run.

Modules: `endpoints` (what is fetched), `client` (HTTP, retries), `retry` (what an answer
means), `plan` (what is due), `state` (what earlier runs fetched), `cursors` (how state moves
after a run), `shard` (who fetches what), `bodies` (checks on answers), `report` (the
manifest's account), `run` (one run end to end).
"""

from bucketpipe.ingest.finnhub.client import FinnhubClient, Reply, finnhub_limits
from bucketpipe.ingest.finnhub.endpoints import BY_DATASET, ENDPOINTS, SOURCE, Endpoint
from bucketpipe.ingest.finnhub.run import RunOptions, RunOutcome, ingest_finnhub
from bucketpipe.ingest.finnhub.shard import Shard, resolve_shard, shard_of

__all__ = [
    "BY_DATASET",
    "ENDPOINTS",
    "SOURCE",
    "Endpoint",
    "FinnhubClient",
    "Reply",
    "RunOptions",
    "RunOutcome",
    "Shard",
    "finnhub_limits",
    "ingest_finnhub",
    "resolve_shard",
    "shard_of",
]
