"""How a long command ends when it is stopped or given bad input.

``with interruptible():`` around a command's work:
- SIGTERM (the add-on's Esc, ``kill``) unwinds like Ctrl-C, so every ``finally`` runs and
  nothing half-written stays;
- an interrupt exits 130 with one line. A signal that lands inside torch's C++ code can come
  out as another exception (an internal assert, a RuntimeError): once a signal has arrived,
  whatever ends the work is taken for the interrupt;
- further signals while the work unwinds are noted, not raised, so the cleanup finishes;
- bad input (``InputError``) prints one line and exits 2.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

import typer

from engine.cli.output import error
from engine.errors import InputError

INTERRUPTED = 130


@contextmanager
def interruptible():
    state = {"signal": None}

    def handler(signum, frame):
        if state["signal"] is None:
            state["signal"] = signum
            raise KeyboardInterrupt
        # a second signal while unwinding: let the cleanup finish

    watched = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, handler) for s in watched}
    try:
        yield
    except KeyboardInterrupt:
        error("interrupted: nothing was written (detections done so far are kept for the next run)")
        raise typer.Exit(INTERRUPTED) from None
    except InputError as e:
        if state["signal"] is not None:
            error("interrupted")
            raise typer.Exit(INTERRUPTED) from None
        error(str(e))
        raise typer.Exit(2) from None
    except Exception:
        if state["signal"] is not None:
            error("interrupted")
            raise typer.Exit(INTERRUPTED) from None
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
