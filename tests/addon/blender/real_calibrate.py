"""argv: footage folder, its calibration/ folder (the default output), engine interpreter. Calibrate from Footage with the real
engine: its errors (no footage folder; a board without its photos, refused by the engine), its
UI job cancelled once the engine reports progress (timer and Esc events fed by hand), then a
whole run (synchronous: Blender runs in the background) and the cameras it imported projected
through Blender against the calibration.toml it wrote."""

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from common import MODULE, alive_in_group, emit, enable, modal_stand_in, record_jobs, run_op
from mathutils import Vector

pkg = enable()
footage, out, python = sys.argv[1:4]
jobs = record_jobs()
elsewhere = str(Path(footage).parent / "calibration")  # not in the footage folder, which the engine reads
scene, s = bpy.context.scene, bpy.context.scene.diffproxy
bpy.context.preferences.addons[MODULE].preferences.engine_python = python
runs = {"no_footage": run_op(bpy.ops.diffproxy.calibrate)}
s.footage, s.calibrate_out, s.board = footage, elsewhere + "_board", "checkerboard:4x7:60"
runs["board_without_photos"] = run_op(bpy.ops.diffproxy.calibrate)
s.board = ""

# the UI job, cancelled at the engine's first progress record
cls = sys.modules[MODULE + ".operators"].DIFFPROXY_OT_calibrate
s.calibrate_out = elsewhere + "_cancelled"
op, context, state, reports = modal_stand_in(cls)
op._job = op._start(context)
results, deadline = [], time.time() + 120
while time.time() < deadline:
    results.append(sorted(cls.modal(op, context, SimpleNamespace(type="TIMER"))))
    if results[-1] != ["PASS_THROUGH"] or op._job.progress is not None:
        break
    time.sleep(0.1)
status, alive_before = state.status, alive_in_group(op._job.process.pid)
objects = len(bpy.data.objects)
results.append(sorted(cls.modal(op, context, SimpleNamespace(type="ESC"))))
time.sleep(0.3)
cancel = {"results": results[-2:], "status": status, "alive_before": alive_before,
          "alive_after": alive_in_group(op._job.process.pid), "reports": reports, "running": state.running,
          "objects_added": len(bpy.data.objects) - objects,
          "files": sorted(p.name for p in Path(elsewhere + "_cancelled").iterdir())}

# the whole run into the default folder (<footage>/calibration), then the cameras against the calibration
assert Path(out) == Path(footage) / "calibration", out
s.calibrate_out = ""
t0 = time.perf_counter()
runs["works"] = run_op(bpy.ops.diffproxy.calibrate)
seconds = time.perf_counter() - t0
calib = sys.modules[MODULE + ".vendor.calibration"].read_calibration(Path(out) / "calibration.toml")
points = np.random.default_rng(0).uniform([-1, -1, 0], [1, 1, 1.8], (40, 3))  # around the person, Z up, metres
cameras = {}
for cam in calib.cameras:
    obj = bpy.data.objects[cam.name]
    bpy.ops.diffproxy.set_camera(name=obj.name)
    w, h = scene.render.resolution_x, scene.render.resolution_y
    px = [world_to_camera_view(scene, obj, Vector(p)) for p in points]
    got = np.array([(v.x * w - 0.5, (1 - v.y) * h - 0.5) for v in px])
    bg = obj.data.background_images
    cameras[cam.name] = {"size": [w, h], "calibrated": [cam.width, cam.height],
                         "max_px": float(np.abs(got - cam.project(points, distort=False)).max()),
                         "clip": bg[0].clip.filepath if len(bg) else None}
emit({"runs": runs, "cancel": cancel, "seconds": seconds, "cameras": cameras,
      "imported": sorted(o.name for o in scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported),
      "calibration": s.calibration, "world": [s.up_axis, s.units_per_metre],
      "commands": [j.cmd for j in jobs], "returncodes": [j.process.returncode for j in jobs],
      "left_running": [pid for j in jobs for pid in alive_in_group(j.process.pid)],
      "out": sorted(p.name for p in Path(out).iterdir()), "frame_end": scene.frame_end})
