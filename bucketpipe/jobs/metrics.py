"""`bucketpipe metrics`: Prometheus metrics of the pipeline on /metrics, with /healthz and
/readyz for the probes (docs/operations.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bucketpipe.config.settings import Settings
from bucketpipe.context import Context
from bucketpipe.jobs.argtypes import port
from bucketpipe.jobs.common import EXIT_OK
from bucketpipe.jobs.expectations import expectations
from bucketpipe.serve.metrics import CachedView, PipelineCollector, wsgi_app
from bucketpipe.serve.ops import CountingStore, ManifestCache, OpsView, collect
from bucketpipe.serve.queries.session import reader_settings

log = logging.getLogger(__name__)

DEFAULT_PORT = 9108


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "metrics",
        help="serve Prometheus metrics of the jobs, datasets, quality and lake on /metrics",
        description="Serve the Prometheus text format on /metrics, computed from the lake "
        "(run ledgers, manifests, snapshots, quality reports, the object census) and Redis, "
        "re-read at most every BUCKETPIPE_METRICS_CACHE_SECONDS; /healthz answers while the "
        "process serves, /readyz while the lake can be read.",
    )
    parser.add_argument("--port", type=port, default=DEFAULT_PORT, help="port (default 9108)")
    parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
    parser.set_defaults(handler=handle)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http " + format, *args)


def build_app(settings: Settings, ctx: Context) -> Any:
    """The WSGI app serving the metrics of the lake and Redis `ctx` points at."""
    cache = ManifestCache()

    def read() -> tuple[OpsView, int]:
        store = CountingStore(ctx.store)
        view = collect(store, ctx.signals, ctx.now(), cache)
        return view, store.requests

    collector = PipelineCollector(
        CachedView(read, settings.metrics_cache_seconds),
        expectations(settings),
        object_limit=settings.lake_object_limit,
        object_warn_percent=settings.lake_object_warn_percent,
    )
    return wsgi_app(collector)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    ctx = Context.from_settings(reader_settings(settings))
    server = make_server(
        args.address, args.port, build_app(settings, ctx), _Server, handler_class=_QuietHandler
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "serving metrics",
        extra={"url": f"http://{args.address}:{server.server_port}/metrics", "lake": ctx.store.url},
    )
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
        ctx.close()
    return EXIT_OK
