"""``diffproxy demo``: reconstruct a few frames of the bundled real capture, and score what a
user cannot see from the fit alone: for each camera, the body reconstructed from the other
three, projected into it, against an independent detector's joints there (OpenPose BODY_25B:
shoulders, elbows, wrists, knees, ankles), as a share of the person's height in that image;
beside it the same score for that detector's own joints triangulated from the other three
(``engine.evaluation.heldout``): the baseline the body has to beat."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from engine.cli.interrupts import interruptible
from engine.cli.output import console, say
from engine.cli.reconstruct_cmd import (CHECKPOINT_OPTION, POSE_MODEL_OPTION, PROXIES_OPTION, SAMPLES_OPTION,
                                        STEPS_OPTION, run_reconstruction)
from engine.errors import InputError
from engine.evaluation.heldout import body_errors, triangulation_errors
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
    from engine.io.calibration import read_calibration
    from engine.pipeline.job import generator_checkpoint
    from engine.pipeline.options import check_proxies
    from engine.pipeline.reconstructor import Reconstructor

    t0 = time.perf_counter()
    root = Path(example) if example else EXAMPLE
    with interruptible():
        if not (root / "videos").is_dir():
            raise InputError(f"{root}: the demo capture is missing (it ships in the repository's examples/ folder)")
        calibration = root / "calibration" / "Calib.toml"
        if not calibration.is_file():
            raise InputError(f"{calibration}: the demo capture's calibration is missing")
        if heldout and not (root / "pose2d_openpose_body25b").is_dir():
            raise InputError(f"{root / 'pose2d_openpose_body25b'}: missing: the held-out score compares with these "
                             f"OpenPose detections (or run with --no-heldout)")
        checkpoint = generator_checkpoint(check_proxies(proxies, "demo"), checkpoint)
        from engine.detect.pose_models import check_pose_model

        rec = Reconstructor.from_pretrained(checkpoint, samples=samples, steps=steps,
                                            pose_model=check_pose_model(pose_model))
        model = dict(proxies=proxies, checkpoint=checkpoint, samples=samples, steps=steps,
                     refine_cameras=refine_cameras, pose_model=pose_model)
        say(f"reconstructing frames {frames} of {root.name} from 4 cameras")
        summary = run_reconstruction(root / "videos", out / "all_cameras", calibration, frames,
                                     reconstructor=rec, **model)
        rows, baseline = [], []
        openpose = root / "pose2d_openpose_body25b"
        summary_frames = _frames_of(out / "all_cameras")
        if heldout:
            calib = read_calibration(calibration)
            sized = _video_sized(calib, root / "videos")
            for cam in calib.names():
                others = ",".join(c for c in calib.names() if c != cam)
                say(f"without {cam}: reconstructing from {others}")
                run_reconstruction(root / "videos", out / f"without_{cam}", calibration, frames, cameras=others,
                                   reconstructor=rec, **model)
                rows += body_errors(out / f"without_{cam}", cam, sized, rec.table.names, openpose)
                baseline += triangulation_errors(summary_frames, cam, sized, openpose)
            summary["heldout"] = rows
            summary["triangulation_heldout"] = baseline
            if rows:
                summary["heldout_camera_error_pct"] = float(np.median([r["median_pct"] for r in rows]))
                summary["heldout_camera_error_px"] = float(np.median([r["median_px"] for r in rows]))
            if baseline:
                summary["triangulation_heldout_error_pct"] = float(np.median([r["median_pct"] for r in baseline]))
                summary["triangulation_heldout_error_px"] = float(np.median([r["median_px"] for r in baseline]))
            inside = sum((body_errors(out / "all_cameras", c, sized, rec.table.names, openpose)
                          for c in calib.names()), [])
            if inside:
                summary["all_cameras_openpose_error_px_per_view"] = {
                    c: float(np.median([r["median_px"] for r in inside if r["camera"] == c])) for c in calib.names()}
    summary["seconds_demo"] = time.perf_counter() - t0
    from engine.io.files import atomic_write_bytes

    atomic_write_bytes(out / "demo.json", json.dumps(summary, indent=1, default=lambda x: None).encode())
    _print(summary, out)
    if as_json:
        print(json.dumps(summary, default=lambda x: None))


def _frames_of(fit_dir: Path) -> list[int]:
    with np.load(fit_dir / "fit.npz") as z:
        return z["frames"].tolist()


def _video_sized(calib, videos: Path):
    """The calibration at each video's frame size (cam01/cam02 are 1080 wide)."""
    import cv2

    from engine.io.calibration import Calibration

    cams = []
    for c in calib.cameras:
        cap = cv2.VideoCapture(str(videos / f"{c.name}.mp4"))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        cams.append(c.scaled(w, h) if (w, h) != (c.width, c.height) else c)
    return Calibration(cams, calib.source, calib.format)


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
