"""A frame of the Mixamo-named rig that ``diffproxy animation --rig mixamo`` writes, read back by
Blender's FBX importer and drawn over the footage (issue 27's picture).

    .venv/bin/python scripts/animation_picture.py FIT_DIR [--frame 35] [--camera cam02]
                                                  [--capture examples/pose2sim_balancing] [--out FILE]

Runs the real command into a temporary folder, imports the FBX into an empty scene (the bpy
module, here), takes every Mixamo-named bone's head at footage frame ``--frame`` (scene frame
``frame + 1``), turns it back into the calibration's world (fit.json's ``world``) and projects it
into the camera with the fit's calibration, lens distortion included (``cv2.projectPoints``), over
that camera's raw frame. Bones under Anny's own names (no Mixamo counterpart) are left out; each
drawn bone joins its nearest drawn ancestor. Writes ``--out`` (default
``FIT_DIR/animation_mixamo.jpg``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("Hips", "Spine2", "Head", "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightHand", "LeftUpLeg",
          "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot")
PREFIX = "mixamorig:"


def rig_at(fbx: Path, frame: int) -> tuple[list[str], list[int], np.ndarray]:
    """Bone names, parent indices and heads (Blender's world) of the FBX's armature at footage
    frame ``frame``."""
    import bpy  # noqa: PLC0415  (this process is Blender from here on)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(fbx), anim_offset=0.0)  # FBX time 0 is frame 0
    arm = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    bpy.context.scene.frame_set(frame + 1)
    names = [b.name for b in arm.data.bones]
    parents = [names.index(b.parent.name) if b.parent else -1 for b in arm.data.bones]
    M = np.array(arm.matrix_world)
    heads = np.array([M[:3, :3] @ np.array(arm.pose.bones[n].head) + M[:3, 3] for n in names])
    return names, parents, heads


def user_points(fit_json: dict, points: np.ndarray) -> np.ndarray:
    sys.path.insert(0, str(ROOT))
    from engine.pipeline.world import WorldFrame  # noqa: PLC0415

    w = fit_json["world"]
    world = WorldFrame(w["world_units_per_metre"], w["unit"], w["up_axis"], w.get("up_angle_deg", 0.0))
    return world.points_to_user(points)


def draw(image: np.ndarray, xy: np.ndarray, names: list[str], parents: list[int]) -> np.ndarray:
    shown = [n.startswith(PREFIX) for n in names]
    out = image.copy()
    for j, name in enumerate(names):
        if not shown[j]:
            continue
        p = parents[j]
        while p >= 0 and not shown[p]:
            p = parents[p]
        if p >= 0:
            cv2.line(out, tuple(map(int, xy[p])), tuple(map(int, xy[j])), (40, 220, 255), 4, cv2.LINE_AA)
    for j, name in enumerate(names):
        if shown[j]:
            cv2.circle(out, tuple(map(int, xy[j])), 7, (20, 60, 230), -1, cv2.LINE_AA)
            short = name[len(PREFIX):]
            if short in LABELS:
                at = (int(xy[j][0]) + (12 if "Left" in short or short in ("Hips", "Spine2", "Head") else -12), int(xy[j][1]))
                size = cv2.getTextSize(short, cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)[0][0]
                at = at if at[0] > xy[j][0] else (at[0] - size, at[1])
                cv2.putText(out, short, at, cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 5, cv2.LINE_AA)
                cv2.putText(out, short, at, cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fit", type=Path)
    parser.add_argument("--frame", type=int, default=35, help="footage frame")
    parser.add_argument("--camera", default="cam02")
    parser.add_argument("--capture", type=Path, default=ROOT / "examples/pose2sim_balancing")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or args.fit / "animation_mixamo.jpg"
    with tempfile.TemporaryDirectory(prefix="diffproxy_picture_") as tmp:
        fbx = Path(tmp) / "mixamo.fbx"
        subprocess.run([str(Path(sys.executable).with_name("diffproxy")), "animation", str(args.fit), "--out", str(fbx),
                        "--rig", "mixamo"], check=True)
        names, parents, heads = rig_at(fbx, args.frame)
    record = json.loads((args.fit / "fit.json").read_text())
    cam = next(c for c in record["cameras"] if c["name"] == args.camera)
    rvec = cv2.Rodrigues(np.array(cam["R_cam_world"], np.float64))[0]
    xy = cv2.projectPoints(user_points(record, heads), rvec, np.array(cam["t_cam_world"], np.float64),
                           np.array(cam["K"], np.float64), np.array(cam["dist"], np.float64))[0][:, 0]
    video = cv2.VideoCapture(str(args.capture / "videos" / f"{args.camera}.mp4"))
    video.set(cv2.CAP_PROP_POS_FRAMES, args.frame)
    ok, image = video.read()
    if not ok:
        raise SystemExit(f"{args.camera}.mp4: no frame {args.frame}")
    picture = draw(image, xy, names, parents)
    lo, hi = xy.min(0) - [220, 100], xy.max(0) + [220, 100]  # the person, with room for the labels
    x0, y0 = np.maximum(lo, 0).astype(int)
    x1, y1 = np.minimum(hi, [image.shape[1], image.shape[0]]).astype(int)
    cv2.imwrite(str(out), picture[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
