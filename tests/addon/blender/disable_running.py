"""argv: fake engine interpreter, footage, calibration, fit output folder. Start Reconstruct's UI
job (its modal start, with a stand-in window manager) on the stand-in engine's slow run, wait
for its first progress line, then disable the extension: its process group must be gone."""

import sys
import time

import bpy  # first: addon_utils exists once bpy is loaded
import addon_utils  # noqa: E402,I001
from common import MODULE, alive_in_group, emit, enable, modal_stand_in, run_op

enable()
fake, footage, calibration, fit_out = sys.argv[1:5]
s = bpy.context.scene.diffproxy
s.fit, s.frames = fit_out, "slow"
run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)
bpy.context.preferences.addons[MODULE].preferences.engine_python = fake
cls = sys.modules[MODULE + ".operators"].DIFFPROXY_OT_reconstruct
op, context, state, reports = modal_stand_in(cls)
job = op._start(context)
deadline = time.time() + 30
while job.poll() is None and job.progress is None and time.time() < deadline:
    time.sleep(0.05)
before = alive_in_group(job.process.pid)
t0 = time.perf_counter()
addon_utils.disable(MODULE, default_set=True)
seconds = time.perf_counter() - t0
time.sleep(0.3)
emit({"progress": job.progress, "alive_before": before, "alive_after": alive_in_group(job.process.pid),
      "returncode": job.process.poll(), "disable_s": seconds})
