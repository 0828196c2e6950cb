"""argv: out.npz, then FILE[::FPS] ... Read each exported animation back with Blender's own
importer (FBX, BVH, glTF), each into an empty scene: its armatures, bones, keyed frames and
rate, and every bone's head (world) at each keyed frame. glTF keeps seconds, not frames:
FPS is the scene rate it is read at. Heads go to out.npz as ``<n>_heads`` (frames, bones, 3),
``<n>_frames``, ``<n>_names``, the rest pose's heads and tails ``<n>_rest`` (bones, 2, 3) and,
where the file has a skinned mesh, its evaluated vertices ``<n>_vertices`` (frames, V, 3); the
rest is the JSON line."""

import sys
from pathlib import Path

import bpy
import numpy as np
from common import emit, evaluated_vertices


def keyed_frames(arm) -> list[float]:
    action = arm.animation_data.action if arm.animation_data else None
    if action is None:
        return []
    curves = [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags
              for c in bag.fcurves] if hasattr(action, "layers") else list(action.fcurves)
    return sorted({round(p.co[0], 4) for c in curves for p in c.keyframe_points})


def read(path: Path, fps: float | None) -> tuple[dict, dict]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    if fps:
        scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
    suffix = path.suffix.lower()
    if suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)  # FBX time 0 is frame 0
    elif suffix == ".bvh":
        bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=True, update_scene_duration=True)
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    report = {"armatures": len(arms), "meshes": sum(o.type == "MESH" for o in scene.objects),
              "fps": scene.render.fps / scene.render.fps_base}
    if len(arms) != 1:
        return report, {}
    arm = arms[0]
    frames = keyed_frames(arm)
    mesh = next((o for o in scene.objects if o.type == "MESH" and o.find_armature() == arm), None)
    M = np.array(arm.matrix_world)
    world = lambda p: M[:3, :3] @ np.array(p) + M[:3, 3]  # noqa: E731
    heads, vertices = [], []
    for f in frames:
        scene.frame_set(int(f), subframe=f - int(f))
        heads.append([world(pb.head) for pb in arm.pose.bones])
        if mesh is not None:
            vertices.append(evaluated_vertices(mesh))
    report.update(bones=len(arm.data.bones), frames=len(frames), first=frames[0] if frames else None,
                  names=[b.name for b in arm.data.bones])
    found = {"heads": np.array(heads), "frames": np.array(frames), "names": np.array(report["names"]),
             "rest": np.array([[world(b.head_local), world(b.tail_local)] for b in arm.data.bones])}
    if vertices:
        found["vertices"] = np.array(vertices)
    return report, found


out = Path(sys.argv[1])
reports, arrays = {}, {}
for i, arg in enumerate(sys.argv[2:]):
    name, _, fps = arg.partition("::")
    reports[Path(name).name], found = read(Path(name), float(fps) if fps else None)
    arrays.update({f"{i}_{k}": v for k, v in found.items()})
np.savez(out, **arrays)
emit(reports)
