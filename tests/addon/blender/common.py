"""Shared by the scripts run inside Blender (the bpy module) in a subprocess: enable the
installed extension and print one JSON line as the result."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import bpy  # noqa: F401  (first: addon_utils exists once bpy is loaded)
import addon_utils  # noqa: E402,I001

MODULE = "bl_ext.user_default.diffproxy"


def enable():
    addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
    return sys.modules[MODULE]


def _raise(e):
    raise e


def run_op(op, **kwargs):
    """(result set or None, error text): an operator's ERROR report reaches Python as RuntimeError."""
    try:
        return sorted(op(**kwargs)), None
    except RuntimeError as e:
        return None, str(e)


def evaluated_vertices(obj):
    """``obj``'s mesh as evaluated now (modifiers, armature), in world coordinates: (V, 3)."""
    import numpy as np

    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    data = evaluated.to_mesh()
    co = np.empty(len(data.vertices) * 3, np.float64)
    data.vertices.foreach_get("co", co)
    M = np.array(evaluated.matrix_world)
    evaluated.to_mesh_clear()
    return co.reshape(-1, 3) @ M[:3, :3].T + M[:3, 3]


def emit(result: dict):
    print(json.dumps(result))


def record_jobs() -> list:
    """A list that collects every engine Job the add-on starts from now on (to check their
    processes afterwards)."""
    jobs = []
    job_cls = sys.modules[MODULE + ".core.job"].Job
    job_init = job_cls.__init__

    def recording_init(self, cmd):
        job_init(self, cmd)
        jobs.append(self)

    job_cls.__init__ = recording_init
    return jobs


def modal_stand_in(cls):
    """An engine command operator of class ``cls`` (operators._EngineCommand) as its modal
    steps see it, with a stand-in window manager (background Blender has no window): ->
    (operator, context, job state, reports). Start it as invoke does: ``op._job =
    op._start(context)``; then feed events to ``cls.modal(op, context, event)``."""
    reports = []
    op = SimpleNamespace(report=lambda kind, text: reports.append([sorted(kind), text]), _timer="timer",
                         kind=cls.kind, noun=cls.noun, unit=cls.unit)
    for name in ("_start", "_stop", "_finish", "_command", "_done", "_status", "cancel"):
        setattr(op, name, getattr(cls, name).__get__(op))
    state = SimpleNamespace(running=True, progress=0.0, status="")
    wm = SimpleNamespace(diffproxy=state, event_timer_remove=lambda timer: reports.append(["timer removed", timer]))
    context = SimpleNamespace(window_manager=wm, screen=None, scene=bpy.context.scene,
                              view_layer=bpy.context.view_layer, preferences=bpy.context.preferences)
    return op, context, state, reports


def alive_in_group(pgid: int) -> list[int]:
    """Processes (not zombies) whose process group is ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids
