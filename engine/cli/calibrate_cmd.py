"""``diffproxy calibrate``: footage (and photos of a board) -> a calibration.toml that ``reconstruct``
and Pose2Sim / anipose / FreeMoCap read, with no mocap lab: intrinsics from the board, the cameras'
poses from the person, optionally each camera's first frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from engine.cli.interrupts import interruptible
from engine.cli.output import note, say
from engine.cli.progress import PROGRESS_OPTION, ProgressMode, progress_reporter


def calibrate(
    footage: Path = typer.Argument(..., metavar="FOOTAGE", help="One video per camera (<camera>.mp4|.mov|.avi|.mkv) "
                                   "or one folder of frames per camera, as for reconstruct."),
    out: Path = typer.Option(..., "--out", help="Output folder: calibration.toml, report.json, cameras_top.png."),
    board: Optional[str] = typer.Option(None, help="The board in --board-images: checkerboard:COLSxROWS:SQUARE_MM "
                                        "(inner corners) or charuco:COLSxROWS:SQUARE_MM:MARKER_MM:DICT (squares)."),
    board_images: Optional[Path] = typer.Option(None, help="One folder of photos (or one video) of the board per "
                                                "camera, whose name contains the camera's (Pose2Sim: int_cam01_img/). "
                                                "Without it, focal lengths are found from the person."),
    cameras: Optional[str] = typer.Option(None, help="Comma-separated camera names (default: every camera with "
                                                     "footage)."),
    sync: bool = typer.Option(False, help="Find each camera's first frame of the common time from the person's motion "
                                          "(report.json's start_frame); without it, frame i is one instant everywhere."),
    height: Optional[float] = typer.Option(None, help="The person's height in metres (default: the scale of an "
                                                      "average person)."),
    pose_model: str = typer.Option("full", help="BlazePose's landmark model in MediaPipe: full, or heavy (about twice "
                                                "the time; on the bundled capture its cameras were further from "
                                                "Calib.toml's: docs/calibrate.md)."),
    progress: ProgressMode = PROGRESS_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON line (stdout)."),
) -> None:
    """Calibrate the cameras from the footage: a board for the lenses, the person for the poses."""
    from engine.calibration.job import CalibrateOptions, calibrate_into

    chosen = None if cameras is None else [c.strip() for c in cameras.split(",")]
    options = CalibrateOptions(board, board_images, sync, height, pose_model, chosen)
    with interruptible(), progress_reporter(progress) as report:
        summary = calibrate_into(out, footage, options, progress=report)
    for n in summary["notes"]:
        note(n)
    for name, cam in summary["cameras"].items():
        say(f"{name}: reprojection {cam['reprojection_rms_px']:.1f} px RMS ({cam['reprojection_median_px']:.1f} "
            f"median), focal {cam['focal_px']:.0f} px from the {cam['focal_source']}, centre "
            f"({', '.join(f'{v:.2f}' for v in cam['centre_m'])}) m")
    if summary["not_placed"]:
        say(f"not placed: {', '.join(summary['not_placed'])}")
    if summary.get("sync"):
        say(f"start frames: {', '.join(f'{c} {s}' for c, s in summary['start_frame'].items())}")
    say(f"{len(summary['cameras'])} camera(s) in {summary['seconds']['total']:.1f} s; wrote {out / 'calibration.toml'}")
    if as_json:
        print(json.dumps(summary, allow_nan=False))
