"""Anny's model cache as a first run meets it: ``anny.Anny()`` builds about 800 MB of model
data once (about 2.5 minutes on two CPU cores) and loads it in seconds afterwards. This module
says so on stderr while it happens, keeps concurrent processes from building it twice,
removes a cache file whose writing was interrupted, and builds again a file that a killed
process left half written (every later load of it would fail).

A cold cache is told from a warm one by Anny itself: ``anny.models.model_data.cache_builder``
logs "No cached model data found at <file>, building model data..." just before it builds a
file, "Saved built model data to cache at <file>" once it is written, and "Loading cached
model data from <file>" before it reads one. ``watch_builds`` listens to that logger (at
INFO, for the duration of the construction only, passing on just the records the logger let
through before).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from engine.errors import InputError
from engine.step_progress import StepProgress

T = TypeVar("T")

ANNY_LOGGER = "anny.models.model_data"
_BUILDING = re.compile(r"No cached model data found at (.+), building model data")
_SAVED = re.compile(r"Saved built model data to cache at (.+)$")
_LOADING = re.compile(r"Loading cached model data from (.+)$")
LOCK_NAME = ".diffproxy.lock"
LOCK_QUIET_S = 2.0  # a warm load holds the lock about a second: say nothing for that long


class _BuildWatch(logging.Filter):
    """Sees each record of Anny's cache logger; ``building``: the files started and not yet saved;
    ``loading``: the file read last."""

    def __init__(self, on_build: Callable[[], None], shown_level: int):
        super().__init__()
        self.on_build, self.shown_level = on_build, shown_level
        self.building: set[Path] = set()
        self.loading: Path | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if m := _BUILDING.match(msg):
            self.building.add(Path(m[1]))
            self.on_build()
        elif m := _SAVED.match(msg):
            self.building.discard(Path(m[1]))
        elif m := _LOADING.match(msg):
            self.loading = Path(m[1])
        return record.levelno >= self.shown_level


@contextmanager
def watch_builds(on_build: Callable[[], None]) -> Iterator[_BuildWatch]:
    """Calls ``on_build()`` when Anny starts building a cache file in the body of the ``with``.
    If the body fails (Ctrl-C included), a file started and not reported saved is removed: it
    may be half written, and every later load of it would fail."""
    logger = logging.getLogger(ANNY_LOGGER)
    watch = _BuildWatch(on_build, logger.getEffectiveLevel())
    level = logger.level
    logger.addFilter(watch)
    logger.setLevel(min(watch.shown_level, logging.INFO))
    try:
        yield watch
    except BaseException:
        for path in watch.building:
            path.unlink(missing_ok=True)
        raise
    finally:
        logger.removeFilter(watch)
        logger.setLevel(level)


def build_progress(cache: Path) -> StepProgress:
    return StepProgress(f"building Anny's model cache (about 800 MB, ~2-3 minutes, once) in {cache}",
                        "  building Anny's model cache: {elapsed} s")


def finish_text(cache: Path) -> str:
    return f"built Anny's model cache in {{elapsed}} s: {folder_size(cache) / 1e6:.0f} MB in {cache}"


def construct(new_anny: Callable[[], T], cache: Path, writable: bool) -> T:
    """``new_anny()`` (which constructs ``anny.Anny`` with ``cache`` as Anny's cache), with the
    cache build said on stderr. A cache file that cannot be read (a process killed while writing
    it) is removed and built again, once; where the cache is read-only, an InputError names it."""
    from safetensors import SafetensorError

    for attempt in range(2):
        watch = None
        try:
            with building_progress(cache) as watch:
                return new_anny()
        except SafetensorError as e:
            damaged = watch.loading if watch is not None else None
            if damaged is None or not writable or attempt:
                raise InputError(f"{damaged or cache}: Anny's cache file cannot be read ({e}); delete it and "
                                 f"run again (diffproxy doctor builds it)") from None
            print(f"{damaged}: Anny's cache file cannot be read ({e}); building it again", file=sys.stderr,
                  flush=True)
            damaged.unlink(missing_ok=True)
    raise AssertionError("unreachable")


@contextmanager
def building_progress(cache: Path) -> Iterator[_BuildWatch]:
    """The body of the ``with`` constructs Anny; a cold build prints its start, ticks and end."""
    progress = build_progress(cache)
    try:
        with watch_builds(progress.start) as watch:
            yield watch
    except BaseException:
        progress.finish("Anny's model cache was not finished (after {elapsed} s); the next run builds it again")
        raise
    if progress.started:
        progress.finish(finish_text(cache))


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


@contextmanager
def cache_lock(cache: Path) -> Iterator[bool]:
    """The first construction writes Anny's cache; a lock keeps concurrent processes (test
    workers, render workers, the add-on beside the CLI) from building it at the same time. A
    cache this process cannot write into (a shared install, a read-only container layer) is
    only read, without a lock: yields whether the cache is writable."""
    try:
        f = open(cache / LOCK_NAME, "w")
    except OSError:
        yield False
        return
    with f:
        _lock(f, cache)
        yield True


def _lock(f, cache: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent first builds are rare there
        return
    deadline = time.monotonic() + LOCK_QUIET_S
    while time.monotonic() < deadline:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.1)
    print(f"waiting for another process that uses Anny's model cache in {cache} (it may be building it: "
          f"~2-3 minutes, once)", file=sys.stderr, flush=True)
    fcntl.flock(f, fcntl.LOCK_EX)
