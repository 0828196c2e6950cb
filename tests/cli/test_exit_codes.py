"""The CLI's exit codes: 1 means "problems found" (validate, evaluate, doctor), 2 bad input,
3 a crash, so that a script can tell a bad dataset from a bug."""

import sys

import pytest

import synth.preview
from engine.cli.main import app


def test_a_crash_exits_3_with_its_traceback(monkeypatch, tmp_path, capsys):
    def crash(*args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(synth.preview, "write_previews", crash)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # typer installs its own: put it back afterwards
    with pytest.raises(SystemExit) as exit_:
        app(["preview", str(tmp_path)])
    assert exit_.value.code == 3
    assert "a bug" in capsys.readouterr().err


def test_bad_input_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        app(["preview", str(tmp_path / "missing")])
    assert exit_.value.code == 2


@pytest.mark.parametrize("command", [["preview"], ["validate"], ["evaluate", "--proxies", "none"], ["landmarks"],
                                     ["train"], ["fit"]])
def test_paths_are_printed_as_they_are(tmp_path, command):
    """No rich markup in user text: a folder named take[red]1 or odd[/y] is printed whole, exit 2."""
    from typer.testing import CliRunner

    for name in ("take[red]1", "odd[/y]"):
        missing = tmp_path / name
        args = [*command[:1], str(missing), *command[1:]]
        if command[0] in ("landmarks", "train", "fit"):
            args += ["--out", str(tmp_path / "out")]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert str(missing) in result.stderr, (args, result.stderr)
