"""``diffproxy demo``: reconstruct a few frames of the bundled real capture and score them
(``engine.evaluation.demo``: the held-out camera error and its triangulation baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from engine.cli.interrupts import interruptible
from engine.cli.output import console, say
from engine.cli.progress import progress_reporter
from engine.cli.reconstruct_cmd import (CHECKPOINT_OPTION, POSE_MODEL_OPTION, PROXIES_OPTION, SAMPLES_OPTION,
                                        STEPS_OPTION)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pose2sim_balancing"


def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Output folder."),
    frames: str = typer.Option("0:100:20", help="Frames START:STOP:STEP of the bundled capture (100 frames; the "
                                               "OpenPose reference has every 10th)."),
    heldout: bool = typer.Option(True, help="Also reconstruct without each camera and score it there."),
    example: Optional[Path] = typer.Option(None, help="The capture folder (default: the bundled one)."),
    proxies: str = PROXIES_OPTION,
    checkpoint: Optional[Path] = CHECKPOINT_OPTION,
    samples: int = SAMPLES_OPTION,
    steps: int = STEPS_OPTION,
    pose_model: str = POSE_MODEL_OPTION,
    refine_cameras: bool = typer.Option(False, help="Reconstruct with --refine-cameras (the held-out camera is "
                                                    "never refined: it is left out of each reconstruction)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Reconstruct frames of the bundled real 4-camera capture and score them."""
    from engine.evaluation.demo import run_demo
    from engine.pipeline.job import ReconstructOptions
    from engine.pipeline.options import check_proxies

    root = Path(example) if example else EXAMPLE
    with interruptible():
        # run_demo checks the capture, then the options (engine.prepare), before any model loads
        options = ReconstructOptions(proxies=check_proxies(proxies, "demo"), checkpoint=checkpoint, samples=samples,
                                     steps=steps, refine_cameras=refine_cameras, pose_model=pose_model)
        with progress_reporter("bars") as report:
            summary = run_demo(root, out, frames, options, heldout=heldout, say=say, progress=report)
    _print(summary, out)
    if as_json:
        print(json.dumps(summary, default=lambda x: None))


def _print(s: dict, out: Path) -> None:
    table = Table(title="bundled capture, 4 cameras")
    for name in ("camera", "landmarks px", "mask IoU", "OpenPose px (all cameras)", "held out: OpenPose px",
                 "held out %", "triangulated: held out %"):
        table.add_column(name)
    held = s.get("heldout", [])
    base = s.get("triangulation_heldout", [])
    inside = s.get("all_cameras_openpose_error_px_per_view", {})
    for i, cam in enumerate(s["cameras"]):
        rows = [r for r in held if r["camera"] == cam]
        table.add_row(cam, f"{s['landmark_reprojection_px_per_view'][i]:.1f}", f"{s['mask_iou_per_view'][i]:.2f}",
                      f"{inside.get(cam, float('nan')):.1f}",
                      f"{np.median([r['median_px'] for r in rows]):.1f}" if rows else "-",
                      f"{np.median([r['median_pct'] for r in rows]):.2f}" if rows else "-",
                      f"{np.median([r['median_pct'] for r in base if r['camera'] == cam]):.2f}"
                      if any(r["camera"] == cam for r in base) else "-")
    console.print(table)
    if "heldout_camera_error_pct" in s:
        console.print(f"held-out camera error: {s['heldout_camera_error_pct']:.2f}% of the person's height "
                      f"({s['heldout_camera_error_px']:.1f} px, median over cameras and frames)")
    if "triangulation_heldout_error_pct" in s:
        console.print(f"baseline, OpenPose triangulated from the other cameras: "
                      f"{s['triangulation_heldout_error_pct']:.2f}% ({s['triangulation_heldout_error_px']:.1f} px)")
    console.print(f"{s['frames']} frames in {s['seconds_total']:.1f} s ({s['seconds_per_frame']:.1f} s per frame); "
                  f"world: {s['unit']}, up {s['up_axis']}; demo {s['seconds_demo']:.0f} s in all")
    console.print(f"pictures: {out / 'all_cameras' / 'contact_sheet.jpg'}, {out / 'all_cameras'}/overlay_<camera>.jpg")
