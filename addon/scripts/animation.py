"""A fit's animation to an FBX, BVH or glTF file without opening Blender: the Blender side of
``diffproxy animation`` (which checks the arguments and runs this in a child process: one
Blender per process).

    .venv/bin/python addon/scripts/animation.py FIT_DIR OUT.fbx|.bvh|.glb [--start F] [--stop F]
                                                [--fps R] [--scale S] [--rig anny|mixamo|ue5]

Runs the bpy module in this process: stages and registers the extension (``staging``), runs its
Import Fit (the rig, the keys, the units and up axis the panel gives) and its Export FBX / BVH /
glTF. Before exporting: the keys retimed to ``--fps`` (the motion keeps its speed: frames in
between are interpolated as Blender plays them), the scene's range cut to footage frames
``[start, stop)``, the bones renamed to ``--rig``'s names. The file is written beside ``OUT``
under a temporary name and moved into place when whole.

The last line of stdout is JSON: ``{"ok": true, "out", "frames", "fps", "bones", ...}``, or
``{"ok": false, "error"}`` (exit 2) for a fit or an option the add-on refuses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from staging import stage_addon  # this folder: the script's own

OPERATORS = {".fbx": "export_fbx", ".bvh": "export_bvh", ".glb": "export_gltf"}
EPS = 1e-6
RIGS = ("anny", "mixamo", "ue5")
T_POSE_RIGS = ("mixamo",)  # rest pose made a T-pose; UE5's Manny rests in an A-pose, as Anny does


class Refused(Exception):
    """A fit or an option the export cannot take: one line, exit 2."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fit", type=Path, help="reconstruction folder (fit.json + fit.npz) or its fit.json")
    parser.add_argument("out", type=Path, help="the file: .fbx, .bvh or .glb")
    parser.add_argument("--start", type=int, default=None, help="first footage frame (default: the fit's first)")
    parser.add_argument("--stop", type=int, default=None, help="footage frame after the last (default: the fit's end)")
    parser.add_argument("--fps", type=float, default=None, help="the file's frame rate (default: the fit's)")
    parser.add_argument("--scale", type=float, default=1.0, help="BVH: lengths are metres times this")
    parser.add_argument("--rig", default="anny", help="bone names: anny, mixamo or ue5")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="diffproxy_animation_"))
    try:
        print(json.dumps({"ok": True, **export(args, tmp)}), flush=True)
    except Refused as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        sys.exit(2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export(args, tmp: Path) -> dict:
    import bpy  # noqa: PLC0415  (the bpy module: this process is Blender)

    suffix = _check_output(args)
    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon = stage_addon(tmp / "stage")
    scene = bpy.context.scene
    seconds = {"start": time.perf_counter() - t0}
    try:
        bpy.ops.diffproxy.import_fit(filepath=str(args.fit))
    except RuntimeError as e:  # the operator's report: one line naming the file and field
        raise Refused(_last_line(e)) from None
    seconds["import"] = time.perf_counter() - t0 - seconds["start"]
    body = bpy.context.active_object
    arm = body.parent if body.parent is not None and body.parent.type == "ARMATURE" else None
    if args.rig != "anny" and arm is None:
        raise Refused(f"--rig {args.rig}: {args.fit} has no rig (shape keys only: an SMPL-X or older fit)")
    notes = []
    fit_frames = range(int(scene.frame_start) - 1, int(scene.frame_end))  # scene frame = footage frame + 1
    start, stop = _frame_range(args.start, args.stop, fit_frames, notes)
    source = _recorded_fps(args.fit) or args.fps or 30.0
    if not _recorded_fps(args.fit):
        notes.append(f"the fit records no frame rate: taken as {source:g} fps")
    target = args.fps or source
    scene_export = sys.modules[addon.__name__ + ".scene_export"]
    t1 = time.perf_counter()
    if args.rig in T_POSE_RIGS:  # before retiming: the keys still sit at the fitted frames
        scene_export.to_t_pose(bpy.context, arm, body)
        seconds["rest_pose"] = time.perf_counter() - t1
    ratio = target / source
    for action in _actions(body, arm):
        _retime(action, ratio, scene_export.fcurves)
    sys.modules[addon.__name__ + ".scene_capture"].set_fps(scene, target)
    scene.frame_start = math.ceil(1 + start * ratio - EPS)
    scene.frame_end = max(scene.frame_start, math.floor(1 + (stop - 1) * ratio + EPS))
    unmapped = scene_export.rename_bones(arm, args.rig) if args.rig != "anny" else []
    t1 = time.perf_counter()
    _write(bpy, args.out, suffix, {"global_scale": args.scale} if suffix == ".bvh" else {})
    seconds["export"] = time.perf_counter() - t1
    return {"out": str(args.out), "frames": scene.frame_end - scene.frame_start + 1, "fps": target,
            "frame_range": [scene.frame_start, scene.frame_end], "bones": len(arm.data.bones) if arm else 0,
            "rig": args.rig, "unmapped_bones": unmapped, "notes": notes,
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}


def _check_output(args) -> str:
    """The export's suffix; what the command line checked, checked again for a direct caller."""
    suffix = args.out.suffix.lower()
    if suffix not in OPERATORS:
        raise Refused(f"{args.out}: unknown suffix {args.out.suffix!r} (expected .fbx, .bvh or .glb)")
    if args.scale != 1.0 and suffix != ".bvh":
        raise Refused(f"--scale: only for .bvh (FBX records its unit, glTF is metres by its specification), got "
                      f"{args.out.name}")
    if args.rig not in RIGS:
        raise Refused(f"--rig: expected one of {', '.join(RIGS)}, got {args.rig!r}")
    return suffix


def _write(bpy, out: Path, suffix: str, options: dict) -> None:
    """The add-on's export operator into a temporary name beside ``out``, moved there when whole."""
    partial = out.with_name(f".{out.stem}.partial-{os.getpid()}{suffix}")
    try:
        getattr(bpy.ops.diffproxy, OPERATORS[suffix])(filepath=str(partial), **options)
        os.replace(partial, out)
    except RuntimeError as e:
        raise Refused(_last_line(e).replace(str(partial), str(out))) from None
    finally:
        partial.unlink(missing_ok=True)


def _recorded_fps(fit: Path) -> float | None:
    """fit.json's ``fps`` (Import Fit has read and checked the file already); None when 0 or
    absent (image folders)."""
    path = fit / "fit.json" if fit.is_dir() else fit
    fps = json.loads(path.read_text(encoding="utf-8")).get("fps") or None
    return float(fps) if fps else None


def _frame_range(start, stop, fit_frames: range, notes: list) -> tuple[int, int]:
    """Footage frames ``[start, stop)`` within the fit's; a stop past its end is cut, with a note."""
    first, end = fit_frames.start, fit_frames.stop
    start = first if start is None else start
    stop = end if stop is None else stop
    if not first <= start < end:
        raise Refused(f"--frames: the fit has footage frames {first}..{end - 1}, got a start of {start}")
    if stop > end:
        notes.append(f"--frames: the fit ends at footage frame {end - 1}: cut there")
        stop = end
    if stop <= start:
        raise Refused(f"--frames: expected a stop after the start ({start}), got {stop}")
    return start, stop


def _actions(*owners) -> list:
    """The actions that move the body: the armature's, or the mesh's shape keys' (no rig)."""
    found = []
    for owner in owners:
        for holder in (owner, getattr(getattr(owner, "data", None), "shape_keys", None)):
            anim = getattr(holder, "animation_data", None)
            if anim is not None and anim.action is not None and anim.action not in found:
                found.append(anim.action)
    return found


def _retime(action, ratio: float, fcurves) -> None:
    """Scene frame ``s`` (footage time ``(s - 1) / fps``) -> ``1 + (s - 1) * ratio``: the same
    times at the new rate."""
    if ratio == 1.0:
        return
    for curve in fcurves(action):
        for point in curve.keyframe_points:
            for attr in ("co", "handle_left", "handle_right"):
                xy = getattr(point, attr)
                xy[0] = 1 + (xy[0] - 1) * ratio
        curve.update()


def _last_line(error: Exception) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    return (lines[-1] if lines else "failed").removeprefix("Error: ")


if __name__ == "__main__":
    main()
