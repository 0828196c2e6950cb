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
from engine.pipeline.options import proxies_help



# the generator's options, shared by reconstruct and demo
PROXIES_OPTION = typer.Option("none", help=proxies_help("reconstruct")[:-1] + " (the shipped generator, or "
                                           "--checkpoint; about 48 s per frame on a 2-core CPU).")
CHECKPOINT_OPTION = typer.Option(None, help="With --proxies model: a model folder `diffproxy train` wrote (default: "
                                            "the shipped model).")
SAMPLES_OPTION = typer.Option(3, help="Proxy samples per view (K), with --proxies model.")
STEPS_OPTION = typer.Option(4, help="Denoising steps, with --proxies model.")
# the detector's option, shared by reconstruct, demo and evaluate
POSE_MODEL_OPTION = typer.Option("full", help="BlazePose's landmark model in MediaPipe: full, or heavy (shipped with "
                                              "DiffProxy; about twice the time per view).")


def run_reconstruction(input_dir: Path, out: Path, calibration: Path | None = None, frames: str | None = None,
                       cameras: str | None = None, proxies: str = "none", checkpoint: Path | None = None,
                       samples: int = 3, steps: int = 4, device: str = "auto", body: str = "anny",
                       smplx_model: Path | None = None, keypoints: Path | None = None,
                       keypoints_order: str | None = None, strict: bool = False, smooth: float = 1.0,
                       quiet: bool = False, reconstructor=None, refine_cameras: bool = False,
                       fps: float | None = None, units: str | None = None, up: str | None = None,
                       overlay_scale: float = 1.0, pose_model: str = "full", progress=None) -> dict:
    """The CLI's job: ``engine.pipeline.job`` with the output folder locked while it runs (its
    detections cached there) and the files written into it; -> the summary (``--json``'s line).
    Every option is checked, and the footage opened, before anything is detected or written.
    ``progress(stage, done, total)``: default, a bar on stderr (none when ``quiet``)."""
    from contextlib import nullcontext

    from engine.io.files import strict_json
    from engine.io.outdir import OutputFolder
    from engine.pipeline.job import ReconstructOptions, prepare

    options = ReconstructOptions(proxies, checkpoint, samples, steps, device, body, smplx_model, keypoints,
                                 keypoints_order, strict, smooth, refine_cameras, fps, units, up, overlay_scale,
                                 pose_model)
    job = prepare(input_dir, calibration, frames=frames, cameras=cameras, options=options, out=out)
    with OutputFolder(out, "reconstruct") as folder:
        bars = nullcontext(progress) if progress else progress_reporter("bars", quiet=quiet)
        with bars as report:
            result = job.run(reconstructor, folder, progress=report)
        result.save(folder)
    return strict_json(result.summary)


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
    progress: ProgressMode = PROGRESS_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line (stdout; progress "
                                                       "stays on stderr)."),
) -> None:
    """Reconstruct the person in a calibrated multi-camera capture."""
    with interruptible(), progress_reporter(progress) as report:
        summary = run_reconstruction(input_dir, out, calibration, frames, cameras, proxies, checkpoint, samples, steps,
                                     device, body, smplx_model, keypoints, keypoints_order, strict, smooth,
                                     refine_cameras=refine_cameras, fps=fps, units=units, up=up,
                                     overlay_scale=overlay_scale, pose_model=pose_model, progress=report)
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
