"""argv: calibration, footage folder, fit output folder, engine interpreter. Import the capture,
start Reconstruct's UI job (the modal path: invoke's start, then timer events, as the window
manager would send them) with the real engine on 30 frames, and press Esc once the engine has
printed its first progress line. Reports the processes of the job's tree before and after,
the objects in the scene and the files in the fit folder."""

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import bpy
from common import MODULE, alive_in_group, emit, enable, modal_stand_in, run_op

enable()
calibration, footage, fit_out, python = sys.argv[1:5]
run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)
s = bpy.context.scene.diffproxy
s.fit, s.frames = fit_out, "0:30"
bpy.context.preferences.addons[MODULE].preferences.engine_python = python
objects = sorted(o.name for o in bpy.data.objects)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc's parent links)."""
    parent = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            parent[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    tree, grew = {pid}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


cls = sys.modules[MODULE + ".operators"].DIFFPROXY_OT_reconstruct
op, context, state, reports = modal_stand_in(cls)
t0 = time.perf_counter()
op._job = op._start(context)
timer = SimpleNamespace(type="TIMER")
results, tree, first_line = [], [], None
deadline = time.time() + 240
while time.time() < deadline:
    results.append(sorted(cls.modal(op, context, timer)))
    tree = sorted(set(tree) | set(descendants(op._job.process.pid)))
    if results[-1] != ["PASS_THROUGH"] or op._job.progress is not None:
        first_line = op._job.last_line
        break
    time.sleep(0.2)
started_s = time.perf_counter() - t0
running_before = alive(tree)
t1 = time.perf_counter()
results.append(sorted(cls.modal(op, context, SimpleNamespace(type="ESC"))))
cancel_s = time.perf_counter() - t1
time.sleep(0.5)
fit = Path(fit_out)
emit({"results": results[-2:], "first_line": first_line, "progress": op._job.progress, "status": state.status,
      "running": state.running, "reports": reports, "started_s": started_s, "cancel_s": cancel_s,
      "returncode": op._job.process.returncode, "tree": tree, "alive_before": running_before,
      "alive_after": alive(tree), "group_after": alive_in_group(op._job.process.pid),
      "objects_added": sorted(o.name for o in bpy.data.objects if o.name not in objects),
      "fit_folder": sorted(str(p.relative_to(fit)) for p in fit.rglob("*")), "command": op._job.cmd})
