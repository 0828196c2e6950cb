"""``diffproxy demo``: reconstruct a few frames of the bundled real capture, and score what a
user cannot see from the fit alone: for each camera, the body reconstructed from the other
three, projected into it, against an independent detector's joints there (OpenPose BODY_25B:
shoulders, elbows, wrists, knees, ankles), as a share of the person's height in that image."""

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
from engine.cli.reconstruct_cmd import (CHECKPOINT_OPTION, PROXIES_OPTION, SAMPLES_OPTION, STEPS_OPTION,
                                        generator_checkpoint, run_reconstruction)
from engine.errors import InputError
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pose2sim_balancing"
# MediaPipe landmark -> OpenPose BODY_25B index, the joints scored
SCORED = {"left_shoulder": 5, "right_shoulder": 6, "left_elbow": 7, "right_elbow": 8, "left_wrist": 9,
          "right_wrist": 10, "left_knee": 13, "right_knee": 14, "left_ankle": 15, "right_ankle": 16}
HEIGHT_POINTS = (18, 0, 15, 16, 21, 24)  # head top, nose, ankles, heels: the person's extent


def heldout_errors(fit_dir: Path, camera: str, calibration, names: tuple[str, ...], openpose_dir: Path) -> list[dict]:
    """Per frame: the fitted joints of ``fit_dir`` projected into ``camera`` (with its lens
    distortion, at its video's size) against the OpenPose person nearest to them."""
    from engine.detect.openpose import list_openpose_files, read_openpose_json

    z = np.load(fit_dir / "fit.npz")
    frames = z["frames"].tolist()
    landmarks = z["keypoints"] if z["keypoints"].ndim == 3 else z["keypoints"][None]
    files = list_openpose_files(openpose_dir)[camera]
    cam = calibration[camera]
    idx = [names.index(n) for n in SCORED]
    out = []
    for t, frame in enumerate(frames):
        if frame not in files:
            continue
        px = cam.project(landmarks[t, idx])
        people = [p for p in read_openpose_json(files[frame]) if (p[list(SCORED.values()), 2] > 0.3).sum() >= 6]
        if not people:
            continue
        best = min(people, key=lambda p: np.nanmedian(np.where(p[list(SCORED.values()), 2:3] > 0.3,
                                                               np.linalg.norm(p[list(SCORED.values()), :2] - px, axis=1,
                                                                              keepdims=True), np.nan)))
        ok = best[list(SCORED.values()), 2] > 0.3
        err = np.linalg.norm(best[list(SCORED.values()), :2] - px, axis=1)[ok]
        ext = best[list(HEIGHT_POINTS)]
        ext = ext[ext[:, 2] > 0.3]
        height = float(ext[:, 1].max() - ext[:, 1].min())
        out.append({"frame": frame, "camera": camera, "median_px": float(np.median(err)),
                    "median_pct": float(100 * np.median(err) / height), "height_px": height, "joints": int(ok.sum())})
    return out


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
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Reconstruct frames of the bundled real 4-camera capture and score them."""
    from engine.io.calibration import read_calibration
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
        checkpoint = generator_checkpoint(proxies, checkpoint)
        rec = Reconstructor.from_pretrained(checkpoint, samples=samples, steps=steps)
        model = dict(proxies=proxies, checkpoint=checkpoint, samples=samples, steps=steps)
        say(f"reconstructing frames {frames} of {root.name} from 4 cameras")
        summary = run_reconstruction(root / "videos", out / "all_cameras", calibration, frames,
                                     reconstructor=rec, **model)
        rows = []
        if heldout:
            calib = read_calibration(calibration)
            for cam in calib.names():
                others = ",".join(c for c in calib.names() if c != cam)
                say(f"without {cam}: reconstructing from {others}")
                run_reconstruction(root / "videos", out / f"without_{cam}", calibration, frames, views=others,
                                   reconstructor=rec, **model)
                sized = _video_sized(calib, root / "videos")
                rows += heldout_errors(out / f"without_{cam}", cam, sized, rec.table.names,
                                       root / "pose2d_openpose_body25b")
            summary["heldout"] = rows
            if rows:
                summary["heldout_camera_error_pct"] = float(np.median([r["median_pct"] for r in rows]))
                summary["heldout_camera_error_px"] = float(np.median([r["median_px"] for r in rows]))
            sized = _video_sized(calib, root / "videos")
            inside = sum((heldout_errors(out / "all_cameras", c, sized, rec.table.names,
                                         root / "pose2d_openpose_body25b") for c in calib.names()), [])
            if inside:
                summary["all_cameras_openpose_error_px_per_view"] = {
                    c: float(np.median([r["median_px"] for r in inside if r["camera"] == c])) for c in calib.names()}
    summary["seconds_demo"] = time.perf_counter() - t0
    from engine.cache import atomic_write_bytes

    atomic_write_bytes(out / "demo.json", json.dumps(summary, indent=1, default=lambda x: None).encode())
    _print(summary, out)
    if as_json:
        print(json.dumps(summary, default=lambda x: None))


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
                 "held out %"):
        table.add_column(name)
    held = s.get("heldout", [])
    inside = s.get("all_cameras_openpose_error_px_per_view", {})
    for i, cam in enumerate(s["cameras"]):
        rows = [r for r in held if r["camera"] == cam]
        table.add_row(cam, f"{s['keypoint_reprojection_px_per_view'][i]:.1f}", f"{s['mask_iou_per_view'][i]:.2f}",
                      f"{inside.get(cam, float('nan')):.1f}",
                      f"{np.median([r['median_px'] for r in rows]):.1f}" if rows else "-",
                      f"{np.median([r['median_pct'] for r in rows]):.2f}" if rows else "-")
    console.print(table)
    if "heldout_camera_error_pct" in s:
        console.print(f"held-out camera error: {s['heldout_camera_error_pct']:.2f}% of the person's height "
                      f"({s['heldout_camera_error_px']:.1f} px, median over cameras and frames)")
    console.print(f"{s['frames']} frames in {s['seconds_total']:.1f} s ({s['seconds_per_frame']:.1f} s per frame); "
                  f"world: {s['unit']}, up {s['up_axis']}; demo {s['seconds_demo']:.0f} s in all")
    console.print(f"pictures: {out / 'all_cameras' / 'contact_sheet.jpg'}, {out / 'all_cameras'}/overlay_<camera>.jpg")
