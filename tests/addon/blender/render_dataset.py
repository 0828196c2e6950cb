"""argv: dataset folder, engine interpreter. Render Synthetic Dataset reports a wrong interpreter
and an unset folder, then runs a real ``diffproxy render`` of one tiny scene (synchronously:
Blender runs in the background)."""

import sys
import time

import bpy
from common import MODULE, emit, enable, record_jobs, run_op

enable()
dataset, python = sys.argv[1:3]
jobs = record_jobs()
s = bpy.context.scene.diffproxy
prefs = bpy.context.preferences.addons[MODULE].preferences
runs = {}
for label, interpreter, folder in (("wrong_python", "/nonexistent/bin/python", dataset), ("no_folder", python, ""),
                                   ("works", python, dataset)):
    prefs.engine_python, s.dataset = interpreter, folder
    s.dataset_scenes, s.dataset_views, s.dataset_resolution, s.dataset_samples, s.dataset_seed = 1, 2, 32, 1, 3
    t0 = time.perf_counter()
    runs[label] = [*run_op(bpy.ops.diffproxy.render_dataset), round(time.perf_counter() - t0, 1)]
emit({"runs": runs, "commands": [j.cmd for j in jobs], "returncodes": [j.process.returncode for j in jobs],
      "progress": [j.progress for j in jobs], "results": [j.result for j in jobs],
      "running": bpy.context.window_manager.diffproxy.running})
