"""argv: calibration, footage folder, fit output folder, engine interpreter, frames. Import the
capture, then run a real ``diffproxy reconstruct`` through the Reconstruct operator
(synchronous: Blender runs in the background) and report what arrived in the scene: the
armature, the skinned mesh, the frames keyed, and whether the engine's process (and its
process group) is gone."""

import os
import sys
import time
from pathlib import Path

import bpy
from common import MODULE, alive_in_group, emit, enable, record_jobs, run_op

enable()
calibration, footage, fit_out, python, frames = sys.argv[1:6]
jobs = record_jobs()  # every Job the operator starts, to check its process afterwards

capture = run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)
s = bpy.context.scene.diffproxy
s.calibration, s.footage, s.fit, s.frames = calibration, footage, fit_out, frames
bpy.context.preferences.addons[MODULE].preferences.engine_python = python
before = set(bpy.data.objects)
t0 = time.perf_counter()
result, error = run_op(bpy.ops.diffproxy.reconstruct)
seconds = time.perf_counter() - t0
new = set(bpy.data.objects) - before
arms = [o for o in new if o.type == "ARMATURE"]
meshes = [o for o in new if o.type == "MESH"]


def keyed_frames(obj):
    action = obj.animation_data.action if obj and obj.animation_data else None
    found = set()
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in strip.channelbags:
                for curve in bag.fcurves:
                    found |= {round(k.co[0]) for k in curve.keyframe_points}
    return sorted(found)


mesh = meshes[0] if meshes else None
arm = arms[0] if arms else None
emit({"capture": capture, "result": result, "error": error, "seconds": seconds,
      "armatures": len(arms), "meshes": len(meshes),
      "parent_is_armature": bool(mesh and mesh.parent is arm and arm is not None),
      "modifiers": [m.type for m in mesh.modifiers] if mesh else [],
      "vertices": len(mesh.data.vertices) if mesh else 0,
      "bone_groups": len([g for g in mesh.vertex_groups if not g.name.startswith("part_")]) if mesh else 0,
      "bones": len(arm.data.bones) if arm else 0, "keyed_frames": keyed_frames(arm),
      "command": jobs[0].cmd if jobs else None,
      "returncodes": [j.process.returncode for j in jobs],
      "left_running": [pid for j in jobs for pid in alive_in_group(j.process.pid)],
      "fit_files": sorted(p.name for p in Path(fit_out).glob("fit.*")), "pid": os.getpid()})
