"""``diffproxy assets``: list and install the optional assets of assets_manifest/."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from engine.cli.output import console, error
from engine.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Optional external assets (HDRIs, meshes).")


@app.command("list")
def list_assets(kind: str = typer.Option("hdri", help="hdri | occluder_mesh | texture")) -> None:
    """The assets the renderer will use for KIND: installed and verified ones, then built-ins."""
    from synth.assets import AssetStore

    try:
        assets = AssetStore().resolve(kind)
    except InputError as e:
        error(e)
        raise typer.Exit(2)
    table = Table("id", "origin", "licence", "sha256", "path")
    for a in assets:
        table.add_row(a.id, a.origin, a.licence, a.sha256[:12], a.path)
    Console(markup=False, emoji=False, highlight=False).print(table)


@app.command("add")
def add(file: Path = typer.Argument(..., help="The downloaded file."),
        kind: str = typer.Option(..., help="hdri | occluder_mesh | texture"),
        asset_id: str = typer.Option(..., "--id", help="Manifest id, e.g. polyhaven/royal_esplanade."),
        licence: Optional[str] = typer.Option(None, help="Licence, for an id the manifest does not declare."),
        url: Optional[str] = typer.Option(None, help="Source URL, for an id the manifest does not declare.")) -> None:
    """Copy FILE into the asset store after checking its format and sha256, and pin it."""
    from synth.assets import AssetStore, install_asset

    try:
        asset = install_asset(AssetStore(), file, kind, asset_id, licence, url)
    except InputError as e:
        error(e)
        raise typer.Exit(2)
    console.print(f"installed {asset.kind}/{asset.id} -> {asset.path} (sha256 {asset.sha256})")
