"""``diffproxy reconstruct``: footage + calibration -> a fitted body per frame, in the
calibration's world frame and units."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console

from engine.errors import InputError

console = Console(stderr=True)
PREVIEW_FRAMES = 3


def parse_frames(text: str | None) -> tuple[int, int | None, int]:
    """"START:STOP[:STEP]", "START:" or "N" (one frame) -> (start, stop, step)."""
    if not text:
        return 0, None, 1
    parts = text.split(":")
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0]) + 1, 1
        start = int(parts[0] or 0)
        stop = int(parts[1]) if len(parts) > 1 and parts[1] else None
        step = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    except ValueError:
        raise InputError(f"--frames: expected START:STOP[:STEP] or N, got {text!r}") from None
    return start, stop, step


def generator_checkpoint(proxies: str, checkpoint: Path | None) -> Path | None:
    """The proxy generator ``--proxies`` asks for: None for "none", ``checkpoint`` or the shipped
    model for "model"."""
    if proxies not in ("none", "model"):
        raise InputError(f"--proxies: expected none or model, got {proxies!r}")
    if proxies == "none":
        return None
    from engine.diffusion.checkpoint import default_checkpoint

    return default_checkpoint(checkpoint)


# the generator's options, shared by reconstruct and demo
PROXIES_OPTION = typer.Option("none", help="none: landmarks and masks only; model: add dense proxies sampled by the "
                                           "proxy generator (the shipped one, or --checkpoint).")
CHECKPOINT_OPTION = typer.Option(None, help="With --proxies model: a model folder `diffproxy train` wrote (default: "
                                            "the shipped model).")
SAMPLES_OPTION = typer.Option(3, help="Proxy samples per view (K), with --proxies model.")
STEPS_OPTION = typer.Option(4, help="Denoising steps, with --proxies model.")


def run_reconstruction(input_dir: Path, out: Path, calibration: Path | None = None, frames: str | None = None,
                       views: str | None = None, proxies: str = "none", checkpoint: Path | None = None,
                       samples: int = 3, steps: int = 4, device: str = "auto", body: str = "anny",
                       smplx_model: Path | None = None, keypoints: Path | None = None,
                       keypoints_order: str | None = None, strict: bool = False, smooth: float = 1.0,
                       quiet: bool = False, reconstructor=None, refine_cameras: bool = False) -> dict:
    """The whole job; returns the summary (``--json``'s line)."""
    from tqdm import tqdm

    from engine.io.calibration import read_calibration
    from engine.io.files import strict_json
    from engine.io.reconstruction import write_reconstruction
    from engine.pipeline.capture import open_capture
    from engine.pipeline.reconstructor import Reconstructor
    from engine.pipeline.sequence import reconstruct_frames

    t_start = time.perf_counter()
    input_dir = Path(input_dir)
    checkpoint = generator_checkpoint(proxies, checkpoint)
    _check_out(out)
    calib_path = calibration or (input_dir / "scene.json" if (input_dir / "scene.json").exists() else None)
    if calib_path is None:
        raise InputError(f"{input_dir}: no --calibration given and no scene.json in the folder")
    calib = read_calibration(calib_path)
    capture = open_capture(input_dir, calib.names(), strict=strict, skip=out)
    cameras = capture.cameras
    if views is not None:
        wanted = [v.strip() for v in views.split(",") if v.strip()]
        if not wanted or len(set(wanted)) != len(wanted):
            raise InputError(f"--views: expected distinct camera names separated by commas, got {views!r}")
        unknown = [v for v in wanted if v not in cameras]
        if unknown:
            raise InputError(f"--views: {', '.join(unknown)} not among the cameras with footage ({', '.join(cameras)})")
        cameras = wanted
    frame_list = capture.frame_range(*parse_frames(frames))
    rec = reconstructor or Reconstructor.from_pretrained(checkpoint, body=body,
                                                         device=device, smplx_model=smplx_model, samples=samples,
                                                         steps=steps)
    from dataclasses import replace

    rec.options = replace(rec.options, refine_cameras=refine_cameras)
    keypoint_fn = _keypoint_source(keypoints, keypoints_order, cameras) if keypoints else None
    keep = set(frame_list[:: max(1, -(-len(frame_list) // PREVIEW_FRAMES))][:PREVIEW_FRAMES])
    previews = {}

    def frames_iter():
        for f, images in capture.read(frame_list, cameras):
            if f in keep:
                previews[f] = {c: im for c, im in images.items()}
            yield f, images

    bar = tqdm(total=len(frame_list), desc="reconstruct", unit="frame", disable=quiet)
    t_load = time.perf_counter() - t_start
    fresh = not Path(out).exists()
    try:
        cache = Path(out) / ("keypoints" if keypoints else "detections")
        result = reconstruct_frames(rec, frames_iter(), calib, fps=capture.fps, cache=cache,
                                    keypoints=keypoint_fn, smooth_sigma=smooth,
                                    progress=lambda stage, done, total: bar.update(1), total=len(frame_list))
    except BaseException:
        if fresh:  # a folder this run made holds no result: leave nothing behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        bar.close()
    result.notes[:0] = [n for n in capture.notes if n not in result.notes]
    summary = _summary(result, capture, t_start)
    summary.update(_ground_truth(input_dir, result, rec))
    from engine.proxy.part_table import build_part_table

    summary["seconds_total"] = time.perf_counter() - t_start
    summary["seconds_load"] = t_load
    write_reconstruction(out, result, rec.body, build_part_table(rec.body), summary, previews)
    summary["seconds_total"] = time.perf_counter() - t_start
    summary = strict_json(summary)
    (Path(out) / "report.json").write_text(json.dumps(summary, indent=1, allow_nan=False))
    return summary


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _check_out(out: Path) -> None:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not probe.is_dir():
        raise InputError(f"--out {out}: {probe} is a file, not a folder")
    import os

    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: {probe} is not writable")


def _keypoint_source(folder: Path, order: str | None, cameras: list[str]):
    """callable(frame, calibration) -> detections from OpenPose JSON: in each view the person
    most consistent with the others (triangulation)."""
    from engine.detect.openpose import list_openpose_files, openpose_order, openpose_to_detection, read_openpose_json
    from engine.pipeline.keypoints import pick_consistent

    files = list_openpose_files(folder)
    missing = [c for c in cameras if c not in files]
    if missing:
        raise InputError(f"--keypoints {folder}: no OpenPose files for camera(s) {', '.join(missing)} "
                         f"(found: {', '.join(files) or 'none'})")

    def detections(frame: int, calib):
        people = []
        for c in cameras:
            path = files[c].get(frame)
            if path is None:
                raise InputError(f"--keypoints {folder}: camera {c} has no file for frame {frame}")
            found = read_openpose_json(path)
            people.append([openpose_to_detection(k, openpose_order(len(k), path.parent, order)) for k in found])
        return pick_consistent(people, [calib[c].projection() for c in cameras])

    return detections


def _summary(result, capture, t_start: float) -> dict:
    px = result.keypoint_reprojection_px
    return {"frames": len(result.frames), "views": len(result.cameras), "cameras": result.cameras,
            "fps": capture.fps, "seconds_detect": result.timings["seconds_detect"],
            "seconds_proxies": result.timings["seconds_proxies"], "seconds_fit": result.timings["seconds_fit"],
            "seconds_per_frame": (time.perf_counter() - t_start) / len(result.frames),
            "keypoint_reprojection_px": _nan(np.nanmedian, _nan(np.nanmedian, px, axis=0)),
            "keypoint_reprojection_px_per_view": list(_nan(np.nanmedian, px, axis=0)),
            "mask_iou": _nan(np.nanmean, result.mask_iou),
            "mask_iou_per_view": list(_nan(np.nanmean, result.mask_iou, axis=0)),
            **result.world.record(), "notes": result.notes}


def _nan(fn, x, axis=None):
    """``fn`` (nanmedian, nanmean) without numpy's warning on all-NaN slices (a view with no person)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(np.asarray(x, dtype=np.float64), axis=axis)


def _ground_truth(input_dir: Path, result, rec) -> dict:
    """Errors against a rendered scene's ground truth (same body model), else nothing."""
    import torch

    from engine.io.scene import read_scene
    from engine.metrics import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe

    if not (input_dir / "scene.json").exists():
        return {}
    scene = read_scene(input_dir)
    if scene.gt is None or scene.record.get("body", {}).get("model") != rec.body.name:
        return {}
    pred_v = torch.as_tensor(result.world.points_to_user(result.vertices[:1]))
    pred_j = torch.as_tensor(result.world.points_to_user(result.joints[:1]))
    gt_v = torch.as_tensor(scene.gt["vertices"])[None]
    gt_j = torch.as_tensor(scene.gt["joints"])[None]
    return {"mpvpe_mm": float(mpvpe(pred_v, gt_v)), "pa_mpvpe_mm": float(pa_mpvpe(pred_v, gt_v)),
            "mpjpe_mm": float(mpjpe(pred_j, gt_j)), "pa_mpjpe_mm": float(pa_mpjpe(pred_j, gt_j))}


def reconstruct(
    input_dir: Path = typer.Argument(..., metavar="INPUT", help="One video per camera (<camera>.mp4|.mov|.avi|.mkv), "
                                     "one folder of frames per camera, or a scene folder."),
    calibration: Optional[Path] = typer.Option(None, help="Calibration file or folder: Pose2Sim/anipose/FreeMoCap "
                                               "calibration.toml, EasyMocap intri.yml + extri.yml, COLMAP cameras.txt "
                                               "+ images.txt, or the project's cameras JSON (default: INPUT/scene.json)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    frames: Optional[str] = typer.Option(None, help="Frames START:STOP[:STEP] or one frame N (default: all)."),
    views: Optional[str] = typer.Option(None, help="Comma-separated camera names (default: every camera with footage)."),
    proxies: str = PROXIES_OPTION,
    checkpoint: Optional[Path] = CHECKPOINT_OPTION,
    samples: int = SAMPLES_OPTION,
    steps: int = STEPS_OPTION,
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    body: str = typer.Option("anny", help="Body model: anny or smplx (with --smplx-model)."),
    smplx_model: Optional[Path] = typer.Option(None, help="Your SMPL-X model file (.npz or .pkl)."),
    keypoints: Optional[Path] = typer.Option(None, help="Precomputed 2D keypoints: OpenPose JSON, one folder per camera "
                                             "(<camera>_json/ or <camera>/), instead of running MediaPipe."),
    keypoints_order: Optional[str] = typer.Option(None, help="BODY_25, BODY_25B or COCO (default: from the count and "
                                                  "folder name)."),
    strict: bool = typer.Option(False, help="Refuse cameras whose frame counts differ (default: use the common range)."),
    smooth: float = typer.Option(1.0, help="Temporal filter width in frames (0: none)."),
    refine_cameras: bool = typer.Option(False, help="Correct each camera's rotation, position and focal length "
                                                    "with the body (on the first frame; kept for the others)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Reconstruct the person in a calibrated multi-camera capture."""
    import signal

    # a cancelled job (the add-on's Esc sends SIGTERM) unwinds like Ctrl-C: nothing half-written stays
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run_reconstruction(input_dir, out, calibration, frames, views, proxies, checkpoint, samples, steps,
                                     device, body, smplx_model, keypoints, keypoints_order, strict, smooth,
                                     quiet=as_json, refine_cameras=refine_cameras)
    except InputError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2)
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    fmt = lambda x, f: "n/a" if x is None else format(x, f)  # noqa: E731  (None: no mask, e.g. --keypoints)
    console.print(f"{summary['frames']} frame(s), {summary['views']} views in {summary['seconds_total']:.1f} s: "
                  f"landmarks {fmt(summary['keypoint_reprojection_px'], '.1f')} px off (median), mask IoU "
                  f"{fmt(summary['mask_iou'], '.2f')}; world: {summary['unit']}, up {summary['up_axis']}; wrote {out}")
    if as_json:
        print(json.dumps(summary, allow_nan=False))
