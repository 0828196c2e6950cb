"""The ``diffproxy`` command line: one subcommand per stage.

Exit codes: 0 done; 1 problems found (``validate``: a bad scene, ``evaluate``: a failed
scene, ``doctor``: a body model that fails); 2 bad input (an argument, a file: the message
names it); 3 a crash (a bug: the traceback is printed); 130 ``train`` interrupted.
"""

from __future__ import annotations

import sys

import typer

from engine.cli.animation_cmd import animation
from engine.cli.assets_cmd import app as assets_app
from engine.cli.calibrate_cmd import calibrate
from engine.cli.doctor import doctor
from engine.cli.fit_cmds import evaluate, fit
from engine.cli.landmarks_cmd import landmarks
from engine.cli.reconstruct_cmd import reconstruct
from engine.cli.demo_cmd import demo
from engine.cli.synth_cmds import preview, render, validate
from engine.cli.train_cmd import export, train

CRASH = 3


class _App(typer.Typer):
    """A crash exits with its own code, not 1, which means "problems found"."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as e:
            sys.excepthook(type(e), e, e.__traceback__)  # typer's traceback
            sys.exit(CRASH)


app = _App(add_completion=False, no_args_is_help=True,
           help="DiffProxy: multi-view human mesh recovery from dense proxies.")
app.command()(doctor)
app.command()(render)
app.command()(validate)
app.command()(preview)
app.command()(fit)
app.command()(evaluate)
app.command()(train)
app.command()(export)
app.command()(demo)
app.command()(reconstruct)
app.command()(calibrate)
app.command()(landmarks)
app.command()(animation)
app.add_typer(assets_app, name="assets")


@app.callback()
def main(verbose: bool = typer.Option(
        False, "--verbose", help="Also show MediaPipe's and TFLite's own log lines (hidden by default); "
                                 "goes before the command: diffproxy --verbose reconstruct ...")) -> None:
    """DiffProxy: multi-view human mesh recovery from dense proxies."""
    from engine.detect.quiet import native_logs_shown, quiet_native_logs  # here: engine.detect loads torch

    quiet_native_logs(verbose or native_logs_shown())  # DIFFPROXY_VERBOSE=1 in the environment counts too


if __name__ == "__main__":
    app()
