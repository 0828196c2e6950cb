"""The ``diffproxy`` command line: one subcommand per stage."""

from __future__ import annotations

import typer

from engine.cli.doctor import doctor

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="DiffProxy: multi-view human mesh recovery from dense proxies.")
app.command()(doctor)


@app.callback()
def main() -> None:
    """DiffProxy: multi-view human mesh recovery from dense proxies."""


if __name__ == "__main__":
    app()
