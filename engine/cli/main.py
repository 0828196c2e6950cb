"""The ``diffproxy`` command line: one subcommand per stage."""

from __future__ import annotations

import typer

from engine.cli.assets_cmd import app as assets_app
from engine.cli.doctor import doctor
from engine.cli.fit_cmds import evaluate, fit
from engine.cli.landmarks_cmd import landmarks
from engine.cli.reconstruct_cmd import reconstruct
from engine.cli.demo_cmd import demo
from engine.cli.synth_cmds import preview, render, validate
from engine.cli.train_cmd import train

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="DiffProxy: multi-view human mesh recovery from dense proxies.")
app.command()(doctor)
app.command()(render)
app.command()(validate)
app.command()(preview)
app.command()(fit)
app.command()(evaluate)
app.command()(train)
app.command()(demo)
app.command()(reconstruct)
app.command()(landmarks)
app.add_typer(assets_app, name="assets")


@app.callback()
def main() -> None:
    """DiffProxy: multi-view human mesh recovery from dense proxies."""


if __name__ == "__main__":
    app()
