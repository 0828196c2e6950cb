"""``diffproxy render | validate | preview``: the dataset commands (synth/)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from engine.cli.output import console, error
from engine.cli.progress import PROGRESS_OPTION, ProgressMode, progress_reporter
from engine.errors import InputError
from engine.io.files import strict_json



def _fail(e: Exception) -> None:
    error(e)  # paths stay whole
    raise typer.Exit(2)


def render(
    out: Path = typer.Option(..., "--out", help="Dataset folder (created; reruns resume it)."),
    scenes: int = typer.Option(..., "--scenes", help="Number of scenes in the dataset."),
    num_views: Optional[int] = typer.Option(None, help="Cameras per scene (config cameras.views; default 8)."),
    resolution: Optional[int] = typer.Option(None, help="Square image size in px (config cameras.width/height; "
                                                        "default 256)."),
    width: Optional[int] = typer.Option(None, help="Image width (overrides --resolution)."),
    height: Optional[int] = typer.Option(None, help="Image height (overrides --resolution)."),
    samples: Optional[int] = typer.Option(None, help="Cycles samples of the RGB pass (config render.samples; "
                                                     "default 16)."),
    seed: Optional[int] = typer.Option(None, help="Dataset seed (config seed; default 0)."),
    body: Optional[str] = typer.Option(None, help="Body model: anny | smplx (config body.model; default anny)."),
    smplx_model: Optional[Path] = typer.Option(None, help="Your SMPL-X model file (for --body smplx)."),
    config: Optional[Path] = typer.Option(None, help="Config file (TOML or JSON); saved into the dataset."),
    shard: str = typer.Option("0/1", help="Render only scenes i with i % N == I."),
    backend: str = typer.Option("local", help="local (worker processes) | ray."),
    workers: int = typer.Option(1, help="Parallel render workers (each runs its own Blender)."),
    ray_address: Optional[str] = typer.Option(None, help="Ray cluster address (default: start a local Ray)."),
    blender: Optional[str] = typer.Option(None, help="Blender binary to render with (default: the bpy module)."),
    progress: ProgressMode = PROGRESS_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Render a multi-camera synthetic dataset (RGB, exact proxies, ground truth)."""
    from synth.config import load_config
    from synth.dataset import Shard, render_dataset

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict = {}
    cams = {"views": num_views, "width": resolution if width is None else width,
            "height": resolution if height is None else height}
    overrides["cameras"] = {k: v for k, v in cams.items() if v is not None}
    if samples is not None:
        overrides["render"] = {"samples": samples}
    if seed is not None:
        overrides["seed"] = seed
    model = {"model": body, "smplx_model": str(smplx_model) if smplx_model else None}
    overrides["body"] = {k: v for k, v in model.items() if v is not None}
    try:
        with progress_reporter(progress, quiet=as_json) as report:
            cfg = load_config(config, overrides)
            summary = render_dataset(out, scenes, cfg, Shard.parse(shard), backend, workers, blender, ray_address,
                                     progress=report)
    except InputError as e:
        _fail(e)
    busy = f", being rendered by another process {summary['busy']}" if summary["busy"] else ""
    console.print(f"rendered {summary['rendered']}, already done {summary['skipped'] - summary['busy']}{busy} of "
                  f"{summary['scenes']} scenes in {out}")
    if summary["rendered"]:
        console.print(f"per scene: {summary['seconds_per_scene']:.1f} s (RGB {summary['rgb_render_s']:.1f} s, "
                      f"proxy pass {summary['proxy_pass_s']:.2f} s)")
    if as_json:
        print(json.dumps(summary))


def validate(
    dataset: Path = typer.Argument(..., help="A dataset folder or one scene folder."),
    smplx_model: Optional[Path] = typer.Option(None, help="SMPL-X file, for scenes rendered with SMPL-X."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Check that every scene is complete and its proxies sit exactly on the body."""
    from synth.validate import validate as run

    try:
        with progress_reporter("bars", quiet=as_json) as bars:
            result = run(dataset, str(smplx_model) if smplx_model else None, progress=bars)
    except InputError as e:
        _fail(e)
    s = result["summary"]
    table = Table("scene", "foreground px", "≤0.5 px", "≤1 px", "max px", "problems")
    for r in result["scenes"]:
        fg = max(r["foreground_px"], 1)
        table.add_row(r["name"], str(r["foreground_px"]), f"{r['within_0p5px'] / fg:.4f}",
                      f"{r['within_1px'] / fg:.4f}", f"{r['max_error_px']:.3f}",
                      "; ".join([r["error"]] * bool(r["error"]) + r["problems"]) or "ok")
    console.print(table)
    console.print(f"{s['complete']}/{s['scenes']} scenes complete; proxy pixels within 0.5 px: "
                  f"{s['proxy_px_within_0p5px']:.5f}, within 1 px: {s['proxy_px_within_1px']:.5f}")
    if as_json:
        print(json.dumps(strict_json(s), allow_nan=False))
    if not s["ok"]:
        raise typer.Exit(1)


def preview(
    source: Path = typer.Argument(..., help="A scene folder or a dataset folder."),
    out: Optional[Path] = typer.Option(None, help="PNG file (one scene) or folder."),
    max_scenes: int = typer.Option(4, help="Scenes to preview from a dataset."),
) -> None:
    """Write contact sheets: RGB, seg, UV and the projected skeleton per view."""
    from synth.preview import write_previews

    try:
        for path in write_previews(source, out, max_scenes):
            console.print(str(path))
    except InputError as e:
        _fail(e)
