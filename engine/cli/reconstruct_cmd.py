"""``diffproxy reconstruct``: footage + calibration -> a fitted body per frame, in the
calibration's world frame and units."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from engine.cli.interrupts import interruptible
from engine.cli.options import (check_count, check_device, check_nonnegative, check_positive, parse_frames,
                                parse_units, parse_up)
from engine.cli.output import error, note, say
from engine.errors import InputError

PREVIEW_FRAMES = 3


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
                                           "proxy generator (the shipped one, or --checkpoint); about 48 s per frame on a "
                                           "2-core CPU.")
CHECKPOINT_OPTION = typer.Option(None, help="With --proxies model: a model folder `diffproxy train` wrote (default: "
                                            "the shipped model).")
SAMPLES_OPTION = typer.Option(3, help="Proxy samples per view (K), with --proxies model.")
STEPS_OPTION = typer.Option(4, help="Denoising steps, with --proxies model.")


def run_reconstruction(input_dir: Path, out: Path, calibration: Path | None = None, frames: str | None = None,
                       views: str | None = None, proxies: str = "none", checkpoint: Path | None = None,
                       samples: int = 3, steps: int = 4, device: str = "auto", body: str = "anny",
                       smplx_model: Path | None = None, keypoints: Path | None = None,
                       keypoints_order: str | None = None, strict: bool = False, smooth: float = 1.0,
                       quiet: bool = False, reconstructor=None, refine_cameras: bool = False,
                       fps: float | None = None, units: str | None = None, up: str | None = None,
                       overlay_scale: float = 1.0) -> dict:
    """The whole job; returns the summary (``--json``'s line). Every option is checked, and
    the footage opened, before anything is detected or written."""
    from tqdm import tqdm

    from engine.io.calibration import read_calibration
    from engine.io.files import strict_json
    from engine.io.outdir import OutputFolder
    from engine.io.reconstruction import write_reconstruction
    from engine.pipeline.sequence import reconstruct_frames
    from engine.pipeline.capture import open_capture
    from engine.pipeline.reconstructor import Reconstructor

    t_start = time.perf_counter()
    input_dir = Path(input_dir)
    check_count("--samples", samples)
    check_count("--steps", steps)
    check_nonnegative("--smooth", smooth)
    check_positive("--fps", fps)
    check_positive("--overlay-scale", overlay_scale)
    if overlay_scale > 1:
        raise InputError(f"--overlay-scale: at most 1 (the footage's size), got {overlay_scale!r}")
    device = check_device(device)
    given_units, given_up = parse_units(units), parse_up(up)
    span = parse_frames(frames)
    checkpoint = generator_checkpoint(proxies, checkpoint)
    calib_path = calibration or (input_dir / "scene.json" if (input_dir / "scene.json").exists() else None)
    if calib_path is None:
        raise InputError(f"{input_dir}: no --calibration given and no scene.json in the folder")
    calib = read_calibration(calib_path)
    wanted = _camera_names(views)
    capture = open_capture(input_dir, calib, strict=strict, skip=out, views=wanted)
    cameras = capture.cameras
    frame_list, range_notes = _frame_list(capture, span, strict)
    rate, rate_notes = _frame_rate(capture, fps)
    keypoint_fn = _keypoint_source(keypoints, keypoints_order, cameras) if keypoints else None
    with OutputFolder(out, "reconstruct") as folder:
        rec = reconstructor or Reconstructor.from_pretrained(checkpoint, body=body, device=device,
                                                             smplx_model=smplx_model, samples=samples, steps=steps)
        from dataclasses import replace

        rec.options = replace(rec.options, refine_cameras=refine_cameras)
        keep = set(frame_list[:: max(1, -(-len(frame_list) // PREVIEW_FRAMES))][:PREVIEW_FRAMES])
        previews = {}

        def frames_iter():
            for f, images in capture.read(frame_list, cameras):
                if f in keep:
                    previews[f] = {c: im for c, im in images.items()}
                yield f, images

        cache = _detection_cache(folder, capture, rec, keypoints, keypoints_order, keypoint_fn)
        world = _given_world(given_units, given_up)
        t_load = time.perf_counter() - t_start
        with tqdm(total=len(frame_list), desc="reconstruct", unit="frame", disable=quiet) as bar:
            result = reconstruct_frames(rec, frames_iter(), calib, fps=rate, cache=cache, keypoints=keypoint_fn,
                                        smooth_sigma=smooth, progress=lambda stage, done, total: bar.update(1),
                                        total=len(frame_list), strict=strict, world=world)
        result.notes[:0] = [n for n in capture.notes + range_notes + rate_notes + folder.notes
                            if n not in result.notes]
        result.notes += _world_notes(result.world, given_units, given_up)
        problems = far_off(result)
        summary = _summary(result, capture, t_start)
        summary["fps"] = rate
        summary["problems"] = problems
        summary.update(_ground_truth(input_dir, result, rec))
        from engine.proxy.part_table import build_part_table

        summary["seconds_load"] = t_load
        summary["seconds_total"] = time.perf_counter() - t_start
        write_reconstruction(folder, result, rec.body, build_part_table(rec.body), summary, previews,
                             overlay_scale=overlay_scale)
    return strict_json(summary)


def _camera_names(views: str | None) -> list[str] | None:
    if views is None:
        return None
    wanted = [v.strip() for v in views.split(",") if v.strip()]
    if not wanted or len(set(wanted)) != len(wanted):
        raise InputError(f"--views: expected distinct camera names separated by commas, got {views!r}")
    return wanted


def _frame_list(capture, span: tuple[int, int | None, int], strict: bool) -> tuple[list[int], list[str]]:
    """The frames asked for; a STOP past the footage's end is cut to it with a note (refused
    with --strict)."""
    start, stop, step = span
    if stop is not None and stop > capture.frames and start < capture.frames and step >= 1 and not strict:
        note = (f"--frames {start}:{stop}:{step}: the footage has {capture.frames} frame(s): using "
                f"{start}:{capture.frames}:{step}")
        return capture.frame_range(start, capture.frames, step), [note]
    return capture.frame_range(start, stop, step), []


def _frame_rate(capture, fps: float | None) -> tuple[float, list[str]]:
    """--fps, else the videos' rate, else 30 with a note (frame folders carry no rate)."""
    if fps is not None:
        if capture.fps and abs(capture.fps - fps) > 1e-3:
            return fps, [f"--fps {fps:g} used instead of the videos' {capture.fps:g} frames per second"]
        return fps, []
    if capture.fps and capture.fps > 0:
        return capture.fps, []
    return 30.0, ["the footage says no frame rate (frame folders): 30 frames per second assumed (set it with --fps)"]


def _given_world(units: tuple[float, str] | None, up: str | None):
    """The world the user gave (--units, --up), or None to find both from the person. One of
    the two alone: the other is found; see ``reconstruct_frames``."""
    from engine.pipeline.world import WorldFrame

    if units is None and up is None:
        return None
    u, name = units if units is not None else (float("nan"), "")
    return WorldFrame(u, name, up or "", 0.0, "given")


def _world_notes(world, units, up) -> list[str]:
    if world.source == "assumed":
        return [f"units and up axis assumed, not found: {world.unit} and {world.up_axis} up (one view shows the "
                f"person, so nothing can be measured); set them with --units and --up"]
    if units is not None or up is not None:
        return [f"world: {world.unit or world.units_per_metre} ({world.units_per_metre:g} units per metre), "
                f"{world.up_axis} up, as given" + ("" if (units and up) else " or found")]
    return []


def far_off(result) -> list[str]:
    """Problems a finished fit shows: the body far from the evidence in most views (landmarks
    over a fifth of the person's height off), or the person behind a camera that sees them.
    Each names the likely cause."""
    problems = []
    ratios = []
    for t, dets in enumerate(result.detections):
        for v, d in enumerate(dets):
            px = result.keypoint_reprojection_px[t, v]
            if d is not None and np.isfinite(px) and d.height > 0:
                ratios.append(px / d.height)
    centre = result.world.points_to_user(result.vertices.mean(1)).mean(0)
    behind = [c.name for c, n in zip(result.calibration.cameras, result.cameras)
              if (c.R_cam_world @ centre + c.t_cam_world)[2] <= 0
              and any(dets[result.cameras.index(n)] is not None for dets in result.detections)]
    if behind:
        problems.append(f"the person is behind camera(s) {', '.join(behind)}, which see them: the calibration is "
                        f"probably camera-to-world where world-to-camera is expected (invert R and t), or its "
                        f"cameras are mirrored")
    if ratios and np.median(ratios) > 0.2:
        problems.append(f"the body is far from the detections (landmarks {100 * np.median(ratios):.0f}% of the "
                        f"person's height off, median): the calibration does not match the footage (cameras "
                        f"swapped, camera-to-world given instead of world-to-camera, another capture's)")
    return problems


def _detection_cache(folder, capture, rec, keypoints, order, keypoint_fn):
    """Detections cached in the output folder, keyed on the footage (or the OpenPose files) and
    the detector's settings."""
    from engine.pipeline.detection_cache import DetectionCache, footage_identity

    if keypoints:
        signature = {"detector": "openpose", "folder": str(Path(keypoints).resolve()), "order": order}
        return DetectionCache(folder.path / "keypoints", keypoint_fn.identity, signature, folder.track)
    signature = getattr(rec.detector, "signature", None) or {"detector": type(rec.detector).__qualname__}
    return DetectionCache(folder.path / "detections", footage_identity(capture), signature, folder.track)


class _KeypointSource:
    """callable(frame, calibration) -> detections from OpenPose JSON: in each view the person
    most consistent with the others (triangulation). ``identity(frame, cameras)``: the files
    a frame's detections come from (the detection cache keys on them)."""

    def __init__(self, folder: Path, order: str | None, cameras: list[str]):
        from engine.detect.openpose import list_openpose_files

        self.folder, self.order, self.cameras = Path(folder), order, cameras
        self.files = list_openpose_files(folder)
        missing = [c for c in cameras if c not in self.files]
        if missing:
            raise InputError(f"--keypoints {folder}: no OpenPose files for camera(s) {', '.join(missing)} "
                             f"(found: {', '.join(self.files) or 'none'})")

    def path(self, camera: str, frame: int) -> Path:
        path = self.files[camera].get(frame)
        if path is None:
            raise InputError(f"--keypoints {self.folder}: camera {camera} has no file for frame {frame}")
        return path

    def identity(self, frame: int, cameras: list[str]) -> dict:
        from engine.pipeline.detection_cache import files_identity

        return files_identity({c: self.path(c, frame) for c in cameras})

    def __call__(self, frame: int, calib):
        from engine.detect.openpose import openpose_order, openpose_to_detection, read_openpose_json
        from engine.pipeline.keypoints import pick_consistent

        people = []
        for c in self.cameras:
            path = self.path(c, frame)
            people.append([openpose_to_detection(k, openpose_order(len(k), path.parent, self.order))
                           for k in read_openpose_json(path)])
        return pick_consistent(people, [calib[c].projection() for c in self.cameras])


_keypoint_source = _KeypointSource


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
    frames: Optional[str] = typer.Option(None, help="Frames START:STOP[:STEP] or one frame N (default: all; a STOP "
                                                    "past the end is cut to it)."),
    views: Optional[str] = typer.Option(None, help="Comma-separated camera names (default: every camera with footage)."),
    proxies: str = PROXIES_OPTION,
    checkpoint: Optional[Path] = CHECKPOINT_OPTION,
    samples: int = SAMPLES_OPTION,
    steps: int = STEPS_OPTION,
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    body: str = typer.Option("anny", help="Body model: anny or smplx (with --smplx-model)."),
    smplx_model: Optional[Path] = typer.Option(None, help="Your SMPL-X model file (.npz or .pkl)."),
    keypoints: Optional[Path] = typer.Option(None, help="Precomputed 2D keypoints: OpenPose JSON, one folder per camera "
                                             "(<camera>_json/ or <camera>/), instead of running MediaPipe."),
    keypoints_order: Optional[str] = typer.Option(None, help="BODY_25, BODY_25B or COCO (default: from the count and "
                                                  "folder name)."),
    strict: bool = typer.Option(False, help="Refuse cameras whose frame counts differ, a --frames range past the end "
                                            "and frames where nobody is found (default: go on with a note)."),
    smooth: float = typer.Option(1.0, help="Temporal filter width in frames (0: none)."),
    refine_cameras: bool = typer.Option(False, help="Correct each camera's rotation, position and focal length "
                                                    "with the body (on the first frame; kept for the others)."),
    fps: Optional[float] = typer.Option(None, help="Frame rate written to the fit (default: the videos' rate; 30 for "
                                                   "frame folders, with a note)."),
    units: Optional[str] = typer.Option(None, help="The calibration's units: m, dm, cm, mm, in, ft or world units per "
                                                   "metre (default: found from the person)."),
    up: Optional[str] = typer.Option(None, help="The world's up axis: +X, -X, +Y, -Y, +Z or -Z (default: found from "
                                                "the person)."),
    overlay_scale: float = typer.Option(1.0, help="Size of overlay_<camera>.jpg against the footage (1: full size)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line (stdout; progress "
                                                       "stays on stderr)."),
) -> None:
    """Reconstruct the person in a calibrated multi-camera capture."""
    with interruptible():
        summary = run_reconstruction(input_dir, out, calibration, frames, views, proxies, checkpoint, samples, steps,
                                     device, body, smplx_model, keypoints, keypoints_order, strict, smooth,
                                     refine_cameras=refine_cameras, fps=fps, units=units, up=up,
                                     overlay_scale=overlay_scale)
    for n in summary["notes"]:
        note(n)
    fmt = lambda x, f: "n/a" if x is None else format(x, f)  # noqa: E731  (None: no mask, e.g. --keypoints)
    say(f"{summary['frames']} frame(s), {summary['views']} views in {summary['seconds_total']:.1f} s: "
        f"landmarks {fmt(summary['keypoint_reprojection_px'], '.1f')} px off (median), mask IoU "
        f"{fmt(summary['mask_iou'], '.2f')}; world: {summary['unit']}, up {summary['up_axis']}; wrote {out}")
    for problem in summary["problems"]:
        error(problem)
    if as_json:
        print(json.dumps(summary, allow_nan=False))
    if summary["problems"]:
        raise typer.Exit(1)
