"""``diffproxy animation``: a fit's motion to an FBX, BVH or glTF file, for tools other than
Blender (Unreal, Unity, Maya, MotionBuilder, FreeMoCap's BVH users).

The engine never imports Blender: this checks the arguments, then runs the add-on's own Import
Fit and Export in a child process with the bpy module (``addon/scripts/animation.py``, one
Blender per process), so the file holds the rig, keys, units and up axis the add-on gives.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from engine.cli.interrupts import interruptible
from engine.cli.output import note, say
from engine.errors import InputError
from engine.io.schema import FIT_JSON, FIT_NPZ, layout_of
from engine.pipeline.options import parse_frames

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "addon/scripts/animation.py"
SUFFIXES = (".fbx", ".bvh", ".glb")
RIGS = ("anny", "mixamo", "ue5")


def animation(
    fit_dir: Path = typer.Argument(..., metavar="FIT_DIR", help="A reconstruction folder (fit.json + fit.npz) or its "
                                   "fit.json."),
    out: Path = typer.Option(..., "--out", help="The file: .fbx (armature, skinned mesh, baked keys), .bvh (the "
                                                "skeleton's motion, Y up) or .glb (glTF: armature, skin, keys)."),
    frames: Optional[str] = typer.Option(None, help="Footage frames START:STOP or one frame N (default: the fit's; "
                                                    "a STOP past its end is cut to it)."),
    fps: Optional[float] = typer.Option(None, help="The file's frame rate; the motion keeps its speed, resampled "
                                                   "(default: the fit's; 30 for a fit with none)."),
    scale: float = typer.Option(1.0, help="BVH only: lengths are metres times this (100: centimetres). FBX "
                                          "records its unit (centimetres) and glTF is in metres."),
    rig: str = typer.Option("anny", help="Bone names: anny (the fit's own), mixamo (mixamorig:Hips, ...) or ue5 "
                                         "(pelvis, spine_01, ...); the rest pose stays Anny's A-pose."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line (stdout)."),
) -> None:
    """Write a fit's animation to FBX, BVH or glTF (headless Blender, the add-on's rig)."""
    with interruptible():
        command = export_command(fit_dir, out, frames, fps, scale, rig)
        summary = run_export(command, out)
    for n in summary["notes"]:
        note(n)
    body = (f"{summary['bones']} bones ({summary['rig']} names)" if summary["bones"]
            else "shape keys (the fit has no rig)")
    say(f"wrote {out}: {summary['frames']} frame(s) at {summary['fps']:g} fps, {body} in "
        f"{summary['seconds_total']:.1f} s")
    if as_json:
        print(json.dumps(summary, allow_nan=False))


def export_command(fit_dir: Path, out: Path, frames: str | None, fps: float | None, scale: float,
                   rig: str) -> list[str]:
    """The Blender side's command line, after every check that needs no Blender (each refusal an
    InputError naming the argument or file)."""
    check_fit(fit_dir)
    if out.suffix.lower() not in SUFFIXES:
        raise InputError(f"--out {out}: unknown suffix {out.suffix or '(none)'!r}: expected .fbx, .bvh or .glb")
    if out.is_dir():
        raise InputError(f"--out {out}: a folder, not a file")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: its folder {out.parent} does not exist")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"--fps: expected a frame rate above 0, got {fps!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"--scale: expected a number above 0, got {scale!r}")
    if scale != 1.0 and out.suffix.lower() != ".bvh":
        raise InputError(f"--scale: only for .bvh (FBX records its unit, glTF is in metres by its specification), "
                         f"got --out {out}")
    if rig not in RIGS:
        raise InputError(f"--rig: expected one of {', '.join(RIGS)}, got {rig!r}")
    if importlib.util.find_spec("bpy") is None:
        raise InputError("the bpy module is not installed in this Python (pip install 'diffproxy[blender]')")
    if not SCRIPT.is_file():
        raise InputError(f"{SCRIPT}: missing (`diffproxy animation` runs the add-on from this project's checkout)")
    command = [sys.executable, str(SCRIPT), str(fit_dir.absolute()), str(out.absolute()), "--rig", rig,
               "--scale", repr(scale)]
    if fps is not None:
        command += ["--fps", repr(fps)]
    if frames:
        start, stop, step = parse_frames(frames)
        if step != 1:
            raise InputError(f"--frames: no STEP here (use --fps for another rate), got {frames!r}")
        command += ["--start", str(start)] + (["--stop", str(stop)] if stop is not None else [])
    return command


def check_fit(fit_dir: Path) -> None:
    """A fit folder (or fit.json) whose fit.json reads and whose fit.npz is there; the add-on's
    Import Fit checks the rest (arrays, shapes, the rig), naming the file and field."""
    json_path = fit_dir / FIT_JSON if fit_dir.is_dir() else fit_dir
    if not json_path.is_file():
        raise InputError(f"{fit_dir}: no {FIT_JSON} (expected the folder `diffproxy reconstruct --out` wrote)")
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{json_path}: not readable as JSON ({e})") from None
    layout_of(record, json_path)
    files = record.get("files") if isinstance(record.get("files"), dict) else {}
    name = files.get("npz", FIT_NPZ)
    if not isinstance(name, str) or not (json_path.parent / name).is_file():
        raise InputError(f"{json_path.parent / str(name)}: missing (the fit's arrays, named by {json_path.name} "
                         f"field 'files.npz')")


def run_export(command: list[str], out: Path) -> dict:
    """Run the Blender side; -> its summary (with ``seconds_total``). A fit or option it refuses
    is an InputError with its one line; a crash a RuntimeError with its output's tail."""
    import time

    t0 = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:  # interrupted: end Blender and remove what it was writing
        proc.kill()
        proc.wait()
        out.absolute().with_name(f".{out.stem}.partial-{proc.pid}{out.suffix.lower()}").unlink(missing_ok=True)
        raise
    run = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    lines = run.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else None
    except ValueError:
        summary = None
    if not isinstance(summary, dict) or (run.returncode == 0) != bool(summary.get("ok")):
        raise RuntimeError(f"exporting {out} in Blender failed (exit {run.returncode}):\n{run.stdout[-2000:]}\n"
                           f"{run.stderr[-3000:]}")
    if not summary["ok"]:
        raise InputError(summary["error"])
    summary.pop("ok")
    summary["seconds_total"] = round(time.perf_counter() - t0, 2)
    return summary
