"""argv: fit folder, output folder. Import the fit, write the evaluated vertices of every scene
frame in the fit's range (evaluated.npz), export glTF and FBX."""

import sys
from pathlib import Path

import bpy
import numpy as np
from common import emit, enable, run_op

enable()
fit_dir, out = sys.argv[1], Path(sys.argv[2])
scene = bpy.context.scene
result, error = run_op(bpy.ops.diffproxy.import_fit, filepath=fit_dir)
obj = bpy.context.active_object
frames = list(range(scene.frame_start, scene.frame_end + 1))
evaluated = []
for f in frames:
    scene.frame_set(f)
    mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data
    co = np.empty(len(mesh.vertices) * 3, np.float64)
    mesh.vertices.foreach_get("co", co)
    evaluated.append(co.reshape(-1, 3))
np.savez(out / "evaluated.npz", vertices=np.stack(evaluated), frames=np.array(frames))
groups = {g.name: sum(1 for v in obj.data.vertices if any(e.group == g.index for e in v.groups))
          for g in obj.vertex_groups}
exports = {}
for name, op in (("body.glb", bpy.ops.diffproxy.export_gltf), ("body.fbx", bpy.ops.diffproxy.export_fbx)):
    exports[name] = run_op(op, filepath=str(out / name))
bad, bad_error = run_op(bpy.ops.diffproxy.import_fit, filepath=str(out / "nowhere"))
emit({"result": result, "error": error, "faces": len(obj.data.polygons), "groups": groups,
      "fps": scene.render.fps / scene.render.fps_base, "exports": exports,
      "actions": [a.name for a in bpy.data.actions], "missing_fit": [bad, bad_error]})
