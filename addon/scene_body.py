"""A fit in the scene: a mesh with the body model's topology, one vertex group per body part,
and the fitted vertices of each frame as a shape key keyed on at that frame (one action on the
shape keys; in between two fitted frames the vertices move linearly).

The rig (an armature with the body model's bones, quaternion keys) is not built yet: the fit
files carry no bone rest transforms (see README)."""

from __future__ import annotations

import bpy
import numpy as np

from .core.fitfile import Fit
from .scene_capture import set_fps

BODY_TAG = "diffproxy_fit"  # object custom property: the fit.json a body came from


def import_body(context, fit: Fit, name: str) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(fit.vertices[0].tolist(), [], fit.faces.tolist())
    mesh.validate()
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))  # shared vertices in exports
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    obj[BODY_TAG] = str(fit.path)
    context.scene.collection.objects.link(obj)
    for part in np.unique(fit.vertex_part):
        group = obj.vertex_groups.new(name=fit.part_names[part])
        group.add(np.flatnonzero(fit.vertex_part == part).tolist(), 1.0, "REPLACE")
    if len(fit.frames) > 1:
        _animate(obj, fit)
    if fit.fps:
        set_fps(context.scene, fit.fps)
    if context.scene.active_clip is None:  # footage, when imported, sets the range
        context.scene.frame_start, context.scene.frame_end = int(fit.scene_frames[0]), int(fit.scene_frames[-1])
    return obj


def _animate(obj: bpy.types.Object, fit: Fit) -> None:
    obj.shape_key_add(name="Basis", from_mix=False)
    key = obj.data.shape_keys
    key.use_relative = True
    names = []
    for frame, verts in zip(fit.frames, fit.vertices):
        block = obj.shape_key_add(name=f"frame_{frame:05d}", from_mix=False)
        block.data.foreach_set("co", verts.astype(np.float32).ravel())
        names.append(block.name)
    action = bpy.data.actions.new(f"{obj.name} fit")
    key.animation_data_create().action = action
    frames = fit.scene_frames.astype(np.float64)
    for i, name in enumerate(names):
        at = [(frames[i], 1.0)]
        if i > 0:
            at.insert(0, (frames[i - 1], 0.0))
        if i + 1 < len(frames):
            at.append((frames[i + 1], 0.0))
        curve = _fcurve(action, key, f'key_blocks["{name}"].value')
        curve.keyframe_points.add(len(at))
        curve.keyframe_points.foreach_set("co", np.asarray(at, dtype=np.float32).ravel())
        for point in curve.keyframe_points:
            point.interpolation = "LINEAR"
        curve.update()


def _fcurve(action, owner, data_path: str):
    """An F-curve of ``action`` (assigned to ``owner``): slotted actions (Blender 4.4+) or
    the older ``action.fcurves``."""
    if hasattr(action, "fcurve_ensure_for_datablock"):
        return action.fcurve_ensure_for_datablock(owner, data_path)
    return action.fcurves.new(data_path)


def is_body(obj) -> bool:
    return obj is not None and obj.type == "MESH" and BODY_TAG in obj
