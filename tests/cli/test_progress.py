"""One progress protocol (engine.cli.progress): the callback ``(stage, done, total)`` shown as
tqdm bars or, with ``--progress jsonl``, as JSON lines on stderr that another program (the
add-on) reads, with one ``{"error": ...}`` line before a failed run exits. A real run's lines
read to done == total: tests/addon/test_addon_core.py."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from engine.cli.progress import Bars, JsonLines, progress_reporter
from engine.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pose2sim_balancing"


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_say_stage_done_total_and_one_line_errors():
    out = io.StringIO()
    report = JsonLines(out)
    report("render", 0, 3)
    report("render", 3, 3)
    report.error("scene_000001: bad\nsecond line")
    assert lines(out.getvalue()) == [{"stage": "render", "done": 0, "total": 3},
                                     {"stage": "render", "done": 3, "total": 3},
                                     {"error": "scene_000001: bad second line"}]


@pytest.mark.parametrize("raised, message", [(InputError("--frames: bad"), "--frames: bad"),
                                             (RuntimeError("boom"), "RuntimeError: boom"),
                                             (KeyboardInterrupt(), "interrupted")])
def test_a_run_that_fails_inside_says_why_once_on_stderr(capsys, raised, message):
    with pytest.raises(type(raised)), progress_reporter("jsonl") as report:
        report("reconstruct", 0, 2)
        raise raised
    assert lines(capsys.readouterr().err) == [{"stage": "reconstruct", "done": 0, "total": 2}, {"error": message}]


def test_an_exit_the_command_decides_is_its_own_to_report(capsys):
    with pytest.raises(typer.Exit), progress_reporter("jsonl") as report:
        raise typer.Exit(1)
    report.error("2 problems")
    assert lines(capsys.readouterr().err) == [{"error": "2 problems"}]
    with pytest.raises(ValueError, match="bars or jsonl"):
        with progress_reporter("xml"):
            pass


def test_bars_follow_each_stage_to_its_total(capsys):
    with progress_reporter("bars", labels={"train": "training"}) as bars:
        bars("pack", 0, 2)
        bars("pack", 2, 2)
        bars("train", 200, 1000)  # a resumed run starts at its step
        bars("train", 1000, 1000)
        bars.postfix("train", {"loss": "0.0123"})
        assert isinstance(bars, Bars) and set(bars.bars) == {"pack", "train"}
        assert [(b.n, b.total) for b in bars.bars.values()] == [(2, 2), (1000, 1000)]
    err = capsys.readouterr().err
    assert "pack: 100%" in err and "training: 100%" in err and "1000/1000" in err and "loss=0.0123" in err


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_reconstruct_refuses_bad_input_with_a_json_error_line(tmp_path):
    p = run_cli("reconstruct", EXAMPLE / "videos", "--calibration", EXAMPLE / "calibration", "--out", tmp_path,
                "--frames", "x", "--progress", "jsonl")
    assert p.returncode == 2, p.stderr[-3000:]
    records = [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]
    assert records == [{"error": "--frames: expected START:STOP[:STEP] or N, got 'x'"}]
