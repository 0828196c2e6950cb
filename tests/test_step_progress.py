"""The progress line of a long one-time step (engine.step_progress): a start line, the elapsed
time while it runs, an end line; nothing at all for a step that never started."""

import io
import time

from engine.step_progress import StepProgress


def test_a_started_step_ticks_and_ends_with_its_time():
    out = io.StringIO()
    p = StepProgress("building X in /c", "  building X: {elapsed} s", stream=out, interval_s=0.05)
    p.start()
    p.start()  # a second start is a no-op
    time.sleep(0.3)
    p.finish("built X in {elapsed} s")
    p.finish("built X twice")  # once only
    lines = out.getvalue().splitlines()
    assert lines[0] == "building X in /c" and lines[-1] == "built X in 0 s"
    assert len(lines) >= 4 and all(line == "  building X: 0 s" for line in lines[1:-1])  # not a terminal: lines


def test_a_step_never_started_prints_nothing():
    out = io.StringIO()
    StepProgress("building X", "tick", stream=out, interval_s=0.01).finish("built X")
    assert out.getvalue() == ""
