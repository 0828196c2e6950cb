"""The demo's job: reconstruct frames of a capture with every camera and, for each camera, from
the other cameras alone, and score what a user cannot see from the fit itself: the body from
the other cameras projected into the one left out, against an independent detector's joints
there (OpenPose BODY_25B), beside that detector's own joints triangulated from the other
cameras (``engine.evaluation.heldout``), the baseline the body has to beat.

``run_demo(capture_root, out, frames, options)`` -> the summary (``demo.json``, the CLI's
``--json`` line): the all-camera reconstruction's summary plus ``heldout``,
``triangulation_heldout`` (rows per camera and frame), their medians
``heldout_camera_error_pct|px`` and ``triangulation_heldout_error_pct|px``, and
``all_cameras_openpose_error_px_per_view``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.evaluation.heldout import body_errors, triangulation_errors
from engine.step_progress import Progress, no_progress

OPENPOSE = "pose2d_openpose_body25b"  # the capture's independent detections, one folder per camera


def check_demo_capture(root: Path, heldout: bool) -> Path:
    """The capture's calibration file, once its footage (and with ``heldout`` its OpenPose
    detections) are known to be there."""
    if not (root / "videos").is_dir():
        raise InputError(f"{root}: the demo capture is missing (it ships in the repository's examples/ folder)")
    calibration = root / "calibration" / "Calib.toml"
    if not calibration.is_file():
        raise InputError(f"{calibration}: the demo capture's calibration is missing")
    if heldout and not (root / OPENPOSE).is_dir():
        raise InputError(f"{root / OPENPOSE}: missing: the held-out score compares with these OpenPose "
                         f"detections (or run with --no-heldout)")
    return calibration


def run_demo(root: Path, out: Path, frames: str, options, heldout: bool = True, reconstructor=None,
             say=lambda text: None, progress: Progress = no_progress) -> dict:
    """Reconstruct ``frames`` of the capture in ``root`` (``videos/``, ``calibration/Calib.toml``,
    ``pose2d_openpose_body25b/``) into ``out/all_cameras`` and, with ``heldout``, without each
    camera into ``out/without_<camera>``, and score them; ``demo.json`` is written into ``out``.
    ``options``: ``engine.ReconstructOptions``; ``say``: a line for the user per reconstruction."""
    from engine.io.calibration import read_calibration
    from engine.io.files import atomic_write_bytes
    from engine.pipeline.job import prepare
    from engine.pipeline.reconstructor import Reconstructor

    t0 = time.perf_counter()
    calibration = check_demo_capture(root, heldout)
    job = prepare(root / "videos", calibration, frames=frames, options=options, out=out)
    o = job.options
    rec = reconstructor or Reconstructor.from_pretrained(o.checkpoint, body=o.body, device=o.device,
                                                         smplx_model=o.smplx_model, samples=o.samples, steps=o.steps,
                                                         pose_model=o.pose_model)
    say(f"reconstructing frames {frames} of {root.name} from {len(job.cameras)} cameras")
    summary = job.run_into(out / "all_cameras", rec, progress)
    if heldout:
        summary.update(_heldout(root, out, frames, o, rec, job.calibration, say, progress))
    summary["seconds_demo"] = time.perf_counter() - t0
    atomic_write_bytes(out / "demo.json", json.dumps(summary, indent=1, default=lambda x: None).encode())
    return summary


def _heldout(root: Path, out: Path, frames: str, options, rec, calibration, say, progress) -> dict:
    from engine.pipeline.job import reconstruct_into

    openpose = root / OPENPOSE
    sized = video_sized(calibration, root / "videos")
    names = calibration.names()
    with np.load(out / "all_cameras" / "fit.npz") as z:
        done_frames = z["frames"].tolist()
    rows, baseline = [], []
    for cam in names:
        others = [c for c in names if c != cam]
        say(f"without {cam}: reconstructing from {','.join(others)}")
        reconstruct_into(out / f"without_{cam}", root / "videos", root / "calibration" / "Calib.toml",
                         frames=frames, cameras=others, options=options, reconstructor=rec, progress=progress)
        rows += body_errors(out / f"without_{cam}", cam, sized, rec.table.names, openpose)
        baseline += triangulation_errors(done_frames, cam, sized, openpose)
    scores = {"heldout": rows, "triangulation_heldout": baseline}
    for key, found in (("heldout_camera_error", rows), ("triangulation_heldout_error", baseline)):
        if found:
            scores[f"{key}_pct"] = float(np.median([r["median_pct"] for r in found]))
            scores[f"{key}_px"] = float(np.median([r["median_px"] for r in found]))
    inside = sum((body_errors(out / "all_cameras", c, sized, rec.table.names, openpose) for c in names), [])
    if inside:
        scores["all_cameras_openpose_error_px_per_view"] = {
            c: float(np.median([r["median_px"] for r in inside if r["camera"] == c])) for c in names}
    return scores


def video_sized(calib, videos: Path):
    """The calibration at each video's frame size (the bundled cam01/cam02 are 1080 wide)."""
    import cv2

    from engine.io.calibration import Calibration

    cams = []
    for c in calib.cameras:
        cap = cv2.VideoCapture(str(videos / f"{c.name}.mp4"))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        cams.append(c.scaled(w, h) if (w, h) != (c.width, c.height) else c)
    return Calibration(cams, calib.source, calib.format)
