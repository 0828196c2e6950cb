"""argv: folder of damaged fits (one sub-folder each), a fit recording no frame rate (fps 0),
a good fit, an output folder. Import each damaged fit through the operator (its error text,
as a script sees it), the fps-0 fit (into a 24 fps scene: the reports it makes), then export
the good fit's body to places that cannot take it."""

import sys
from pathlib import Path
from types import SimpleNamespace

import bpy
from common import MODULE, emit, enable, run_op

enable()
damaged, no_rate, good, out = map(Path, sys.argv[1:5])
scene = bpy.context.scene
imports = {d.name: run_op(bpy.ops.diffproxy.import_fit, filepath=str(d)) for d in sorted(damaged.iterdir())}

scene.render.fps, scene.render.fps_base = 24, 1.0
reports = []
load_fit = sys.modules[MODULE + ".operators"].load_fit
load_fit(SimpleNamespace(report=lambda kind, text: reports.append([sorted(kind), text])), bpy.context, str(no_rate))
no_rate_op = run_op(bpy.ops.diffproxy.import_fit, filepath=str(no_rate))
rate = scene.render.fps / scene.render.fps_base

run_op(bpy.ops.diffproxy.import_fit, filepath=str(good))
exports = {}
for kind, op in (("glb", bpy.ops.diffproxy.export_gltf), ("fbx", bpy.ops.diffproxy.export_fbx)):
    (out / f"a_folder.{kind}").mkdir()
    for label, path in (("missing_folder", out / "missing/body"), ("folder", out / f"a_folder.{kind}"),
                        ("proc", Path("/proc/diffproxy_export_test"))):
        exports[f"{label}.{kind}"] = run_op(op, filepath=str(path))
exports["works.glb"] = run_op(bpy.ops.diffproxy.export_gltf, filepath=str(out / "body.glb"))
emit({"imports": imports, "no_rate": {"reports": reports, "op": no_rate_op, "fps": rate}, "exports": exports})
