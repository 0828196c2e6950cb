"""How long work reports progress.

``Progress``: the one callback signature, ``progress(stage, done, total)``: ``done`` of ``total``
units of ``stage`` are finished (the first call of a stage may say 0 done, to give its total).
Every long call takes one: ``engine.reconstruct`` / ``Job.run`` (stage "reconstruct", frames),
``synth.dataset.render_dataset`` ("render", scenes), ``engine.diffusion.train.train`` ("pack",
scenes; "train", steps), the evaluations ("evaluate", scenes), ``synth.validate`` ("validate",
scenes) and ``engine.landmarks.dataset.learn_table`` ("landmarks", scenes). The command line
turns it into tqdm bars or, with ``--progress jsonl``, JSON lines (``engine.cli.progress``).

``StepProgress``: a line on stderr for a long step that runs once (a cache build), so that a
first run does not look hung: a line when the step starts, the elapsed time while it runs, a
line when it ends. It has no count to report (the build says nothing of its own progress) and
runs where a body model is built, below any job, so it writes its line itself. stderr only: a
command's ``--json`` stays alone on stdout.

On a terminal the elapsed time ticks in place every second; elsewhere (a log, a pipe, a rich
live display that owns the terminal) a line every ``LINE_INTERVAL_S`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

Progress = Callable[[str, int, int], None]
LINE_INTERVAL_S = 30.0
TTY_INTERVAL_S = 1.0


def no_progress(stage: str, done: int, total: int) -> None:
    """The default ``Progress``: reports nothing."""


class StepProgress:
    """``p.start()`` (idempotent: only the first call prints), then ``p.finish(text)``, where
    ``text`` (and ``tick_text``) may hold ``{elapsed}`` (whole seconds). ``finish`` prints
    nothing unless the step started, and only once."""

    def __init__(self, start_text: str, tick_text: str, stream: TextIO | None = None,
                 interval_s: float | None = None):
        self.start_text, self.tick_text = start_text, tick_text
        self._stream = stream
        self._interval_s = interval_s
        self._t0: float | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_place = False

    @property
    def started(self) -> bool:
        return self._t0 is not None

    def elapsed_s(self) -> float:
        return 0.0 if self._t0 is None else time.perf_counter() - self._t0

    def start(self) -> None:
        if self._t0 is not None:
            return
        self._t0 = time.perf_counter()
        self._in_place = _plain_terminal(self._out())
        self._write(self.start_text + "\n")
        self._thread = threading.Thread(target=self._tick, name="step-progress", daemon=True)
        self._thread.start()

    def finish(self, text: str) -> None:
        if self._t0 is None or self._done.is_set():
            return
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        line = text.format(elapsed=f"{self.elapsed_s():.0f}")
        self._write(("\r\033[K" if self._in_place else "") + line + "\n")

    def _tick(self) -> None:
        interval = self._interval_s or (TTY_INTERVAL_S if self._in_place else LINE_INTERVAL_S)
        while not self._done.wait(interval):
            line = self.tick_text.format(elapsed=f"{self.elapsed_s():.0f}")
            self._write("\r\033[K" + line if self._in_place else line + "\n")

    def _out(self) -> TextIO:
        return self._stream or sys.stderr  # looked up late: rich's live display swaps sys.stderr

    def _write(self, text: str) -> None:
        out = self._out()
        try:
            out.write(text)
            out.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not break the step
            pass


def _plain_terminal(stream: TextIO) -> bool:
    """A terminal this line may rewrite in place: not rich's proxy of one (a live display
    redraws it and takes whole lines only)."""
    if type(stream).__name__ == "FileProxy":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
