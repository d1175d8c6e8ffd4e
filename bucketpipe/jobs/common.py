"""What every subcommand shares: settings, logging, the context, run ids, exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import duckdb
from pydantic import ValidationError

from bucketpipe.config.errors import (
    BucketpipeError,
    ConfigError,
    LockBusy,
    TransientError,
)
from bucketpipe.config.logs import configure_logging
from bucketpipe.config.scratch import run_directory
from bucketpipe.config.settings import Settings, env_name
from bucketpipe.context import Context
from bucketpipe.jobs.outcomes import ErrorCapture, report_end
from bucketpipe.lake.duck import tls_config_error
from bucketpipe.lake.runs import resolve_run_id, utcnow

log = logging.getLogger("bucketpipe")

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed, or some of its work failed (what succeeded is committed)
EXIT_CONFIG = 2  # a setting or argument is wrong; the message says which
EXIT_TEMPFAIL = 75  # a service was unreachable; the next run will try again
EXIT_INTERRUPTED = 130  # stopped by SIGTERM or SIGINT; what was committed stays

Handler = Callable[[argparse.Namespace, Settings], int]


class Subcommand(Protocol):
    """A subcommand module: `register(subparsers)` adds its parser and sets its `handler`."""

    def register(self, sub: Any) -> None: ...


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the environment, a validation error turned into a one-line ConfigError."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "?"
        name = env_name(field) if field in Settings.model_fields else field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def run_id_for(args: argparse.Namespace, settings: Settings, job: str) -> str:
    """The run's id; remembered on `args`, so the run's end is reported under the same id."""
    run_id = resolve_run_id(
        job,
        k8s_job_name=settings.run_id,
        cli_run_id=getattr(args, "run_id", None),
        now=utcnow(),
    )
    args.resolved_run_id = run_id
    return run_id


@contextmanager
def context(settings: Settings) -> Iterator[Context]:
    ctx = Context.from_settings(settings)
    try:
        yield ctx
    finally:
        ctx.close()


def add_run_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id",
        help="run id (default: the Kubernetes Job name, else a UTC timestamp and a random tag); "
        "rerunning a committed run id is a no-op",
    )


def guarded(handler: Handler, args: argparse.Namespace, settings: Settings) -> int:
    """Run a subcommand, mapping Bucketpipe's errors to one-line messages and exit codes; a
    run's end (job runs only) is then recorded and announced (`jobs.outcomes`)."""
    started = utcnow()
    with ErrorCapture() as capture:
        code, error = _mapped(handler, args, settings)
    if not isinstance(error, LockBusy):
        report_end(args, settings, code=code, error=error, reason=capture.first, started=started)
    return code


def _mapped(
    handler: Handler, args: argparse.Namespace, settings: Settings
) -> tuple[int, BaseException | None]:
    try:
        if not getattr(args, "scratch", True):
            # A command that replaces its process (the dashboard's exec of Streamlit) would
            # leave its directory unlocked, to be swept as a killed run's while it still runs.
            return handler(args, settings), None
        with run_directory(settings.temp_dir) as scratch:
            # Everything the run writes to disk (DuckDB's spill, downloads) goes under its own
            # directory, removed when it ends; a killed run's is removed by the next one.
            return handler(args, settings.model_copy(update={"temp_dir": str(scratch)})), None
    except LockBusy as exc:
        log.warning(str(exc))
        return EXIT_OK, exc
    except ConfigError as exc:
        log.error(str(exc))
        return EXIT_CONFIG, exc
    except TransientError as exc:
        log.error(str(exc))
        return EXIT_TEMPFAIL, exc
    except BucketpipeError as exc:
        log.error(str(exc))
        return EXIT_FAILED, exc
    except KeyboardInterrupt as exc:
        log.error("stopped; what was committed stays, the unfinished run is redone next time")
        return EXIT_INTERRUPTED, exc
    except (MemoryError, duckdb.OutOfMemoryException) as exc:
        log.error(
            "out of memory: %s; raise BUCKETPIPE_DUCKDB_MEMORY_LIMIT (with the pod's memory "
            "limit) or lower BUCKETPIPE_DUCKDB_THREADS; nothing half-written is visible",
            (str(exc).strip().splitlines() or [""])[0][:200],
        )
        log.debug("traceback", exc_info=True)
        return EXIT_FAILED, exc
    except Exception as exc:
        problem = tls_config_error(exc)
        if problem is not None:  # DuckDB's httpfs refused the endpoint's certificate
            log.error(str(problem))
            return EXIT_CONFIG, problem
        first = (str(exc).strip().splitlines() or [""])[0]
        log.error(
            "unexpected %s: %s (nothing half-written is visible; rerun, or set "
            "BUCKETPIPE_LOG_LEVEL=DEBUG for details)",
            type(exc).__name__,
            first[:300],
        )
        log.debug("traceback", exc_info=True)
        return EXIT_FAILED, exc


def setup_logging(settings: Settings | None) -> None:
    if settings is None:
        configure_logging()
    else:
        configure_logging(settings.log_level, settings.log_format)


def fail_config(message: str) -> int:
    configure_logging()
    log.error(message)
    sys.stderr.flush()
    return EXIT_CONFIG
