"""argv: fit folder, output folder. Import a rigged fit; write (evaluated.npz) the evaluated
mesh and the bones' heads at every scene frame, before and after an FBX round trip (the
re-imported armature and mesh); export glTF; report the rig's make-up."""

import sys
from pathlib import Path

import bpy
import numpy as np
from common import emit, enable, evaluated_vertices, run_op

enable()
fit_dir, out = sys.argv[1], Path(sys.argv[2])
scene = bpy.context.scene
result, error = run_op(bpy.ops.diffproxy.import_fit, filepath=fit_dir)
mesh = bpy.context.active_object
arm = mesh.parent
frames = list(range(scene.frame_start, scene.frame_end + 1))


def sample(mesh_obj, arm_obj):
    verts, heads = [], []
    for f in frames:
        scene.frame_set(f)
        verts.append(evaluated_vertices(mesh_obj))
        A = np.array(arm_obj.matrix_world)
        heads.append([A[:3, :3] @ np.array(arm_obj.pose.bones[b.name].head) + A[:3, 3] for b in arm.data.bones])
    return np.stack(verts), np.array(heads)


verts, heads = sample(mesh, arm)
rest = np.array([b.matrix_local for b in arm.data.bones])
curves = []
for layer in getattr(arm.animation_data.action, "layers", []):
    for strip in layer.strips:
        for bag in strip.channelbags:
            curves += [c.data_path.split(".")[-1] for c in bag.fcurves]
exports = {}
for name, op in (("body.glb", bpy.ops.diffproxy.export_gltf), ("body.fbx", bpy.ops.diffproxy.export_fbx)):
    exports[name] = run_op(op, filepath=str(out / name))
exports["all.glb"] = run_op(bpy.ops.diffproxy.export_gltf, filepath=str(out / "all.glb"), all_influences=True)
before = set(bpy.data.objects)
bpy.ops.import_scene.fbx(filepath=str(out / "body.fbx"), anim_offset=0.0)  # FBX time 0 is frame 0
new = set(bpy.data.objects) - before
arm2 = next(o for o in new if o.type == "ARMATURE")
mesh2 = next(o for o in new if o.type == "MESH")
verts2, heads2 = sample(mesh2, arm2)
np.savez(out / "evaluated.npz", frames=np.array(frames), vertices=verts, heads=heads, vertices_fbx=verts2,
         heads_fbx=heads2, rest=rest, bone_names=np.array([b.name for b in arm.data.bones]))
emit({"result": result, "error": error, "bones": len(arm.data.bones), "fps": scene.render.fps / scene.render.fps_base,
      "frame_range": [scene.frame_start, scene.frame_end], "exports": exports,
      "groups": [g.name for g in mesh.vertex_groups], "uv_layers": [u.name for u in mesh.data.uv_layers],
      "modifiers": [(m.type, m.object.name) for m in mesh.modifiers], "parent": arm.name,
      "rotation_modes": sorted({pb.rotation_mode for pb in arm.pose.bones}),
      "curves": sorted(set(curves)), "curve_count": len(curves), "actions": [a.name for a in bpy.data.actions],
      "fbx_bones": sorted(b.name for b in arm2.data.bones) == sorted(b.name for b in arm.data.bones)})
