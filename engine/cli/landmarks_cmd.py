"""``diffproxy landmarks``: learn where the detector's landmarks sit on a body model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from engine.cli.output import console, error
from engine.cli.progress import progress_reporter
from engine.errors import InputError



def landmarks(
    dataset: Path = typer.Argument(..., help="A dataset rendered with `diffproxy render` (scene_* inside)."),
    out: Path = typer.Option(..., "--out", help="The table to write (.npz), e.g. engine/landmarks/data/anny.npz."),
    body: str = typer.Option("anny", help="Body model the dataset was rendered with: anny or smplx."),
    smplx_model: Optional[Path] = typer.Option(None, help="SMPL-X file (with --body smplx)."),
    cache: Optional[Path] = typer.Option(None, help="Folder for the detections (default: DATASET/detections)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Run MediaPipe on every rendered view and solve each landmark as a sparse, non-negative
    combination of the body's vertices; report the residual in pixels."""
    from engine.body import load_body_model
    from engine.detect.mediapipe_detector import MediaPipeDetector
    from engine.io.scene import scene_folders
    from engine.landmarks.dataset import learn_table

    try:
        model = load_body_model(body, smplx_model=str(smplx_model) if smplx_model else None)
        folders = scene_folders(dataset)
        with progress_reporter("bars", quiet=as_json) as bars, \
                MediaPipeDetector(hands=False, mask=False) as detector:
            table = learn_table(dataset, model, detector, cache or Path(dataset) / "detections", folders,
                                progress=bars)
        table.save(out)
    except InputError as e:
        error(e)
        raise typer.Exit(2)
    learned = np.isfinite(table.residual_px)
    console.print(f"wrote {out}: {len(table)} landmarks ({learned.sum()} from detections in {len(folders)} scenes, "
                  f"median residual {np.nanmedian(table.residual_px):.2f} px)")
    for name, r, n in zip(table.names, table.residual_px, table.observations):
        if np.isfinite(r):
            console.print(f"  {name:22s} {r:6.2f} px  ({n} detections)")
    if as_json:
        print(json.dumps({"landmarks": len(table), "scenes": len(folders),
                          "median_residual_px": float(np.nanmedian(table.residual_px)), "out": str(out)}))
