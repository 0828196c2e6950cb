"""argv: fake engine interpreter, footage, calibration, fit output folder. Registration leaves
nothing behind; Reconstruct reports a wrong interpreter and a failing run, and imports the fit
of a successful one (synchronously: Blender runs in the background). Its modal steps (timer
polls, Esc) are driven by hand, as the UI would, with stand-ins for the window manager."""

import sys
import time
from types import SimpleNamespace

import bpy  # first: addon_utils exists once bpy is loaded
import addon_utils  # noqa: E402,I001
from common import MODULE, emit, enable, modal_stand_in, run_op


def snapshot():
    return {"types": sorted(n for n in dir(bpy.types) if n.upper().startswith("DIFFPROXY")),
            "operators": sorted(dir(bpy.ops.diffproxy)),
            "pointers": [t.__name__ for t in (bpy.types.Scene, bpy.types.Camera, bpy.types.WindowManager)
                         if "diffproxy" in t.bl_rna.properties],
            "handlers": {n: len(getattr(bpy.app.handlers, n)) for n in dir(bpy.app.handlers)
                         if isinstance(getattr(bpy.app.handlers, n), list)},
            "addon": MODULE in bpy.context.preferences.addons}


fake, footage, calibration, fit_out = sys.argv[1:5]
before = snapshot()
enable()
enabled = snapshot()
addon_utils.disable(MODULE, default_set=True)
after = snapshot()
enable()
again = snapshot()

s = bpy.context.scene.diffproxy
s.footage, s.calibration, s.fit = footage, calibration, fit_out
run_op(bpy.ops.diffproxy.import_capture, filepath=calibration, footage_dir=footage)  # Reconstruct's cameras
prefs = bpy.context.preferences.addons[MODULE].preferences
runs = {}
for label, python, frames in (("missing", "/nonexistent/bin/python", ""), ("not_executable", calibration, ""),
                              ("fails", fake, "fail"), ("works", fake, "0:3")):
    prefs.engine_python, s.frames = python, frames
    objects = len(bpy.data.objects)
    runs[label] = [*run_op(bpy.ops.diffproxy.reconstruct), len(bpy.data.objects) - objects]

prefs.engine_python, prefs.device, s.fit = sys.executable, "cuda", fit_out + "_cuda"  # the real engine's Python
runs["cuda"] = list(run_op(bpy.ops.diffproxy.reconstruct))
prefs.device, s.fit = "auto", fit_out


class FakeLayout:
    """Stands in for UILayout (none exists without a window): checks that every property and
    operator property the panel names exists."""

    def __init__(self, log):
        self.log = log

    def __getattr__(self, name):  # box, row, label, grid_flow, progress, ...
        return lambda *args, **kwargs: self

    def prop(self, data, name, **kwargs):
        self.log.append(["prop", name, name in data.bl_rna.properties])
        return self

    def operator(self, idname, **kwargs):
        group, name = idname.split(".")
        props = getattr(getattr(bpy.ops, group), name).get_rna_type().properties
        log = self.log

        class Props:
            def __setattr__(self, key, value):
                log.append(["operator", f"{idname}.{key}", key in props])

        log.append(["operator", idname, name in dir(getattr(bpy.ops, group))])
        return Props()


def draw_panel():
    log = []
    panel = sys.modules[MODULE + ".panel"].DIFFPROXY_PT_main
    panel.draw(SimpleNamespace(layout=FakeLayout(log)), bpy.context)
    return log


def drive_modal(frames, events):
    """Start a job as invoke would, then feed the modal events; -> (results, progress seen, reports, job)."""
    cls = sys.modules[MODULE + ".operators"].DIFFPROXY_OT_reconstruct
    s.frames = frames
    op, context, state, reports = modal_stand_in(cls)
    op._job = op._start(context)
    results, seen = [], []
    for event in events:
        deadline = time.time() + 20
        while True:
            result = cls.modal(op, context, SimpleNamespace(type=event))
            seen.append(state.status)
            if event != "TIMER" or result != {"PASS_THROUGH"} or time.time() > deadline:
                break
            if event == "TIMER" and state.progress > 0 and frames == "slow":
                break
            time.sleep(0.05)
        results.append(sorted(result))
    return results, sorted(set(seen) - {""}), reports, state, op._job


prefs.engine_python = fake
panel_before = draw_panel()
settings = bpy.types.Scene.bl_rna.properties["diffproxy"].fixed_type.properties
labels = {"frames": [settings["frames"].name, settings["frames"].description],
          "proxies_model": settings["proxies"].enum_items["model"].description,
          "clean_scene": [settings["clean_scene"].default, settings["clean_scene"].description]}
objects = len(bpy.data.objects)
done = drive_modal("0:3", ["MOUSEMOVE", "TIMER"])
modal_done = {"results": done[0], "statuses": done[1], "reports": done[2], "running": done[3].running,
              "new_objects": len(bpy.data.objects) - objects}
import_again = run_op(bpy.ops.diffproxy.import_fit, filepath=s.fit)  # Reconstruct imported it: Import Fit again
bodies = sorted(o.name for o in bpy.data.objects if "diffproxy_fit" in o)
cancelled = drive_modal("slow", ["TIMER", "ESC"])
modal_cancel = {"results": cancelled[0], "statuses": cancelled[1], "reports": cancelled[2],
                "running": cancelled[3].running, "returncode": cancelled[4].process.returncode}
emit({"before": before, "enabled": enabled, "after": after, "again": again, "runs": runs,
      "running": bpy.context.window_manager.diffproxy.running, "modal_done": modal_done,
      "modal_cancel": modal_cancel, "panel": panel_before + draw_panel(), "labels": labels,
      "import_again": import_again, "bodies": bodies, "meshes": len(bpy.data.meshes)})
