"""The command line's side of progress: a ``progress(stage, done, total)`` callback
(``engine.step_progress.Progress``) that shows it, as tqdm bars on stderr (one per stage, the
default) or, with ``--progress jsonl``, as one JSON object per line on stderr, for another
program to read (the Blender add-on)::

    {"stage": "reconstruct", "done": 3, "total": 10}
    {"error": "--frames: expected START:STOP[:STEP] or N, got 'x'"}

The error line comes once, before a failed command exits non-zero (bad input, problems found,
an interrupt or a crash). ``--json``'s summary stays alone on stdout.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import Enum
from typing import Iterator, TextIO

import typer

from engine.errors import InputError

UNITS = {"reconstruct": "frame", "render": "scene", "pack": "scene", "train": "step", "evaluate": "scene",
         "validate": "scene", "landmarks": "scene"}


class ProgressMode(str, Enum):
    bars = "bars"
    jsonl = "jsonl"


PROGRESS_OPTION = typer.Option(ProgressMode.bars, "--progress", help="bars: progress bars on stderr; jsonl: one JSON "
                               "object per line on stderr instead, {\"stage\", \"done\", \"total\"}, and "
                               "{\"error\": message} before a failed run exits (for another program to read).")


class Bars:
    """tqdm bars on stderr, one per stage, made on the stage's first report; ``labels`` names a
    stage's bar otherwise (default: the stage)."""

    def __init__(self, disable: bool = False, labels: dict[str, str] | None = None):
        from tqdm import tqdm

        self._tqdm, self.disable, self.labels = tqdm, disable, labels or {}
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = self._tqdm(total=total, initial=done, desc=self.labels.get(stage, stage),
                                                unit=UNITS.get(stage, "it"), disable=self.disable)
            return
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def postfix(self, stage: str, values: dict) -> None:
        """Values shown after a stage's bar (train: the loss)."""
        if stage in self.bars:
            self.bars[stage].set_postfix(values)

    def error(self, message: str) -> None:
        """Nothing: the command prints its error line itself."""

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


class JsonLines:
    """One JSON object per line on ``stream`` (stderr), flushed at once."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def __call__(self, stage: str, done: int, total: int) -> None:
        self._write({"stage": stage, "done": int(done), "total": int(total)})

    def postfix(self, stage: str, values: dict) -> None:
        """Nothing: values stay in the command's own records (train: log.jsonl)."""

    def error(self, message: str) -> None:
        self._write({"error": " ".join(str(message).split("\n")).strip()})

    def close(self) -> None:
        pass

    def _write(self, record: dict) -> None:
        out = self.stream or sys.stderr  # looked up late, as the other stderr writers do
        out.write(json.dumps(record) + "\n")
        out.flush()


@contextmanager
def progress_reporter(mode: str = "bars", quiet: bool = False,
                      labels: dict[str, str] | None = None) -> Iterator[Bars | JsonLines]:
    """A progress callback for a command's work: bars (``quiet``: none shown) or JSON lines.
    Bad input (``InputError``), an interrupt or a crash that ends the work inside reports its
    error line (jsonl) and goes on up to the command's handler (``interruptible``, exit codes);
    an exit the command decides itself (``typer.Exit``: problems found) it reports itself, with
    ``reporter.error(message)``."""
    mode = getattr(mode, "value", mode)
    if mode not in (m.value for m in ProgressMode):
        raise ValueError(f"progress mode: expected bars or jsonl, got {mode!r}")
    reporter = JsonLines() if mode == "jsonl" else Bars(disable=quiet, labels=labels)
    try:
        yield reporter
    except typer.Exit:
        raise
    except InputError as e:
        reporter.error(str(e))
        raise
    except KeyboardInterrupt:
        reporter.error("interrupted")
        raise
    except Exception as e:  # a crash: its own handler prints the traceback
        reporter.error(f"{type(e).__name__}: {e}")
        raise
    finally:
        reporter.close()
