"""The dashboard's shared resources: settings, the lake session, and cached query results."""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import date
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import streamlit as st
from pydantic import BaseModel, ValidationError

from bucketpipe.config.errors import BucketpipeError, ConfigError
from bucketpipe.config.logs import configure_logging, mask
from bucketpipe.config.settings import Settings, env_name
from bucketpipe.context import Context
from bucketpipe.serve.queries.base import datasets_of
from bucketpipe.serve.queries.session import LakeSession, VersionKey

log = logging.getLogger(__name__)
T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Settings from the environment (the ones the jobs read)."""
    try:
        loaded = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "?"
        name = env_name(field) if field in Settings.model_fields else field
        raise ConfigError(f"{name}: {first['msg']}") from None
    configure_logging(loaded.log_level, loaded.log_format)
    return loaded


def _close_lake(session: LakeSession) -> None:
    session.close()  # stops the SQL worker processes with it


@st.cache_resource(show_spinner="Opening the lake…", on_release=_close_lake)
def lake() -> LakeSession:
    """One session per dashboard process, shared by every browser session."""
    session = LakeSession.from_settings(settings())
    session.sync()
    return session


def context() -> Context:
    """The read side of a job context (for manifests and Redis)."""
    session = lake()
    return Context(settings=session.settings, store=session.store, signals=session.signals)


# Results of `query()` are cached by the snapshot versions of the datasets a query reads: a rerun
# never re-reads unchanged data and a commit invalidates exactly the affected results. They are
# kept as objects shared by the process's sessions, each session getting its own shallow copy
# (`_detached`): a cache of pickles gave each hit its own unpickled copy, which for the 5,000-row
# overview cost as much CPU as reading it again. Results of `timed()` (run manifests, listings,
# Redis) are cached for `refresh_seconds`.
@st.cache_resource(show_spinner=False, max_entries=1024, ttl=6 * 3600)
def _by_version(
    name: str,
    key: VersionKey,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    _fn: Callable[..., Any],
) -> Any:
    return lake().run([dataset for dataset, _ in key] or None, _fn, *args, **dict(kwargs))


def query(
    fn: Callable[..., T], *args: Any, datasets: tuple[str, ...] | None = None, **kwargs: Any
) -> T:
    """`fn(cursor, *args, **kwargs)`, cached until a dataset it reads is committed again."""
    key = lake().version_key(datasets if datasets is not None else datasets_of(fn))
    name = f"{fn.__module__}.{fn.__qualname__}"
    result: T = _detached(_by_version(name, key, args, tuple(sorted(kwargs.items())), fn))
    return result


_IMMUTABLE: tuple[type, ...] = (str, bytes, int, float, complex, bool, type(None), frozenset)
_IMMUTABLE += (date, time_of_day, Decimal, pa.Table, pa.Schema, pa.Array, pa.ChunkedArray)


def _detached(value: Any) -> Any:
    """`value` as a session may use it without touching the cached object other sessions share.

    Frames are copied shallowly: with pandas' copy-on-write, a change to the copy (a new
    column, a value set) copies the data it touches, never the shared frame's. Containers,
    dataclasses and models are rebuilt around detached members; immutable values are shared.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, pd.DataFrame | pd.Series):
        return value.copy(deep=False)
    if isinstance(value, tuple):
        return (
            type(value)(*map(_detached, value))
            if hasattr(value, "_fields")
            else tuple(map(_detached, value))
        )
    if isinstance(value, list):
        return [_detached(item) for item in value]
    if isinstance(value, dict):
        return {name: _detached(item) for name, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        copied = copy.copy(value)
        for field in dataclasses.fields(value):
            object.__setattr__(copied, field.name, _detached(getattr(value, field.name)))
        return copied
    if isinstance(value, BaseModel):
        return value.model_copy(deep=True)
    return copy.deepcopy(value)


@st.cache_data(show_spinner=False, max_entries=256)
def _by_time(name: str, bucket: int, args: tuple[Any, ...], _fn: Callable[..., Any]) -> Any:
    return _fn(context(), *args)


def timed(fn: Callable[..., T], *args: Any) -> T:
    """`fn(context, *args)`, cached for `refresh_seconds` (manifests, listings, Redis)."""
    every = settings().refresh_seconds
    result: T = _by_time(f"{fn.__module__}.{fn.__qualname__}", int(time.time() // every), args, fn)
    return result


def clear_timed() -> None:
    _by_time.clear()


def guarded(render: Callable[[], None]) -> None:
    """Run a page; an unexpected error becomes a one-line message (details go to the log)."""
    try:
        render()
    except BucketpipeError as exc:
        st.error(mask(str(exc)), icon=":material/error:")
    except Exception as exc:
        log.exception("page failed")
        st.error(
            f"This view could not be shown: {exc.__class__.__name__}: {_first_line(exc)}. "
            "The details are in the dashboard's log.",
            icon=":material/error:",
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return mask(text[0][:200]) if text else "no message"
