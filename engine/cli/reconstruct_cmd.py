"""``diffproxy reconstruct``: footage + calibration -> a fitted body per frame, in the
calibration's world frame and units."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from engine.cli.interrupts import interruptible
from engine.cli.output import error, note, say
from engine.cli.progress import PROGRESS_OPTION, ProgressMode, progress_reporter
from engine.detect.pose_models import DEFAULT_POSE_MODEL
from engine.pipeline.options import proxies_help

# the generator's options, shared by reconstruct and demo
PROXIES_OPTION = typer.Option("none", help=proxies_help("reconstruct")[:-1] + " (the shipped generator, or "
                                           "--checkpoint; about 48 s per frame on a 2-core CPU).")
CHECKPOINT_OPTION = typer.Option(None, help="With --proxies model: a model folder `diffproxy train` wrote (default: "
                                            "the shipped model).")
SAMPLES_OPTION = typer.Option(3, help="Proxy samples per view (K), with --proxies model.")
STEPS_OPTION = typer.Option(4, help="Denoising steps, with --proxies model.")
# the detector's option, shared by reconstruct, demo and evaluate
POSE_MODEL_OPTION = typer.Option(DEFAULT_POSE_MODEL, help="BlazePose's landmark model in MediaPipe: heavy (shipped "
                                                             "with DiffProxy), or full (about half the time per view).")


def reconstruct(
    input_dir: Path = typer.Argument(..., metavar="INPUT", help="One video per camera (<camera>.mp4|.mov|.avi|.mkv), "
                                     "one folder of frames per camera, or a scene folder."),
    calibration: Optional[Path] = typer.Option(None, help="Calibration file or folder: Pose2Sim/anipose/FreeMoCap "
                                               "calibration.toml, EasyMocap intri.yml + extri.yml, COLMAP cameras.txt "
                                               "+ images.txt, or the project's cameras JSON (default: INPUT/scene.json)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    frames: Optional[str] = typer.Option(None, help="Frames START:STOP[:STEP] or one frame N (default: all; a STOP "
                                                    "past the end is cut to it)."),
    cameras: Optional[str] = typer.Option(None, help="Comma-separated camera names (default: every camera with "
                                                     "footage)."),
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
    pose_model: str = POSE_MODEL_OPTION,
    sync: Optional[Path] = typer.Option(None, help="Cameras started by hand: calibrate --sync's report.json (or its "
                                                   "folder); frame 0 is each camera's start_frame there."),
    progress: ProgressMode = PROGRESS_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line (stdout; progress "
                                                       "stays on stderr)."),
) -> None:
    """Reconstruct the person in a calibrated multi-camera capture."""
    from engine.pipeline.job import ReconstructOptions, reconstruct_into

    options = ReconstructOptions(proxies, checkpoint, samples, steps, device, body, smplx_model, keypoints,
                                 keypoints_order, strict, smooth, refine_cameras, fps, units, up, overlay_scale,
                                 pose_model, sync=sync)
    with interruptible(), progress_reporter(progress) as report:
        summary = reconstruct_into(out, input_dir, calibration, frames=frames, cameras=cameras, options=options,
                                   progress=report)
    for n in summary["notes"]:
        note(n)
    fmt = lambda x, f: "n/a" if x is None else format(x, f)  # noqa: E731  (None: no mask, e.g. --keypoints)
    say(f"{summary['frames']} frame(s), {summary['views']} views in {summary['seconds_total']:.1f} s: "
        f"landmarks {fmt(summary['landmark_reprojection_px'], '.1f')} px off (median), mask IoU "
        f"{fmt(summary['mask_iou'], '.2f')}; world: {summary['unit']}, up {summary['up_axis']}; wrote {out}")
    for problem in summary["problems"]:
        error(problem)
    if as_json:
        print(json.dumps(summary, allow_nan=False))
    if summary["problems"]:
        report.error("; ".join(summary["problems"]))
        raise typer.Exit(1)
