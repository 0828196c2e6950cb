"""A fit in the scene: a mesh with the body model's topology, UVs and one vertex group per body
part (``part_<name>``), and its motion:

- with the fit's rig (``core.rig``): the mesh in the body model's rest pose, skinned (one
  vertex group per bone) to an armature of the body model's bones, each bone's rest matrix
  the model's; one action on the armature, a key per fitted frame: each bone's
  rotation_quaternion and the root's location;
- without (older fits): the fitted vertices of each frame as a shape key keyed on at that
  frame (one action on the shape keys; in between two fitted frames the vertices move
  linearly).
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from .core.fitfile import Fit
from .core.rig import pose_basis, quaternions
from .scene_capture import set_fps

BODY_TAG = "diffproxy_fit"  # object custom property: the fit.json a body came from
PART_PREFIX = "part_"  # part groups apart from the bones' groups (Anny has a bone "head" and a part "head")


def import_body(context, fit: Fit, name: str) -> bpy.types.Object:
    """The body's mesh (with its armature as parent when the fit has a rig)."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata((fit.rig.rest_vertices if fit.rig else fit.vertices[0]).tolist(), [], fit.faces.tolist())
    mesh.validate()
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))  # shared vertices in exports
    if fit.uv is not None:
        coords, uv_faces = fit.uv
        mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", coords[uv_faces].astype(np.float32).ravel())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    obj[BODY_TAG] = str(fit.path)
    context.scene.collection.objects.link(obj)
    for part in np.unique(fit.vertex_part):
        group = obj.vertex_groups.new(name=PART_PREFIX + fit.part_names[part])
        group.add(np.flatnonzero(fit.vertex_part == part).tolist(), 1.0, "REPLACE")
    if fit.rig is not None:
        _skin(obj, fit, _armature(context, fit, f"{name} rig"))
    elif len(fit.frames) > 1:
        _animate(obj, fit)
    if fit.fps:
        set_fps(context.scene, fit.fps)
    if context.scene.active_clip is None:  # footage, when imported, sets the range
        context.scene.frame_start, context.scene.frame_end = int(fit.scene_frames[0]), int(fit.scene_frames[-1])
    return obj


def _armature(context, fit: Fit, name: str) -> bpy.types.Object:
    """An armature with the rig's bones at their rest matrices, keyed at the fitted frames."""
    rig = fit.rig
    arm = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    arm[BODY_TAG] = str(fit.path)
    context.scene.collection.objects.link(arm)
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")  # edit bones exist in edit mode only
    bones = []
    for j, bone_name in enumerate(rig.names):
        bone = arm.data.edit_bones.new(bone_name)
        bone.tail = (0.0, max(float(rig.length[j]), 1e-3), 0.0)
        bone.matrix = Matrix(rig.rest[j].tolist())  # head, +Y along the bone, roll; keeps the length
        bone.use_connect = False
        if rig.parents[j] >= 0:
            bone.parent = bones[rig.parents[j]]
        bones.append(bone)
    bpy.ops.object.mode_set(mode="OBJECT")
    # Blender holds a bone as head, tail and roll in float32: its rest rotation can differ from
    # the rig's by ~1e-4 (bones along -Y); posing each bone to pose @ inv(rig rest) @ its rest
    # keeps the skinning transforms, so the mesh, exact
    rest = np.array([arm.data.bones[n].matrix_local for n in rig.names], dtype=np.float64)
    basis = pose_basis(rest, rig.parents, rig.pose @ np.linalg.inv(rig.rest) @ rest)
    rotation = quaternions(basis[..., :3, :3])
    action = bpy.data.actions.new(f"{name} fit")
    arm.animation_data_create().action = action
    frames = fit.scene_frames.astype(np.float64)
    for j, bone_name in enumerate(rig.names):
        arm.pose.bones[bone_name].rotation_mode = "QUATERNION"
        channels = [("rotation_quaternion", rotation[:, j])]
        if rig.parents[j] < 0:
            channels.append(("location", basis[:, j, :3, 3]))
        for prop, values in channels:
            for i in range(values.shape[1]):
                _keys(_fcurve(action, arm, f'pose.bones["{bone_name}"].{prop}', i, bone_name), frames, values[:, i])
    return arm


def _skin(obj: bpy.types.Object, fit: Fit, arm: bpy.types.Object) -> None:
    """The mesh follows the armature: a vertex group per bone with the rig's weights."""
    rig = fit.rig
    obj.parent = arm
    obj.modifiers.new("Armature", "ARMATURE").object = arm
    groups = [obj.vertex_groups.new(name=n) for n in rig.names]
    vertex, slot = np.nonzero(rig.skin_weight > 0)
    for v, b, w in zip(vertex.tolist(), rig.skin_index[vertex, slot].tolist(), rig.skin_weight[vertex, slot].tolist()):
        groups[b].add([v], w, "ADD")


def _keys(curve, frames: np.ndarray, values: np.ndarray) -> None:
    points = curve.keyframe_points
    points.add(len(frames))
    points.foreach_set("co", np.stack([frames, values], -1).astype(np.float32).ravel())
    points.foreach_set("interpolation", np.full(len(frames), LINEAR, np.int32))
    curve.update()


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


def _fcurve(action, owner, data_path: str, index: int = 0, group: str = ""):
    """An F-curve of ``action`` (assigned to ``owner``): slotted actions (Blender 4.4+) or
    the older ``action.fcurves``."""
    if hasattr(action, "fcurve_ensure_for_datablock"):
        return action.fcurve_ensure_for_datablock(owner, data_path, index=index, group_name=group)
    return action.fcurves.new(data_path, index=index, action_group=group)


LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def remove_bodies_of(fit_path) -> list[str]:
    """Remove the bodies imported earlier from the fit.json at ``fit_path`` (their mesh, armature,
    data and actions), so that importing a fit again (after Reconstruct imported it) replaces
    it; -> the objects' names."""
    target = Path(fit_path).resolve()
    gone = [o for o in bpy.data.objects if BODY_TAG in o and _same(o[BODY_TAG], target)]
    names = sorted(o.name for o in gone)
    for obj in gone:
        data, anim = obj.data, obj.animation_data
        actions = [anim.action] if anim and anim.action else []
        keys = getattr(data, "shape_keys", None)
        if keys is not None and keys.animation_data and keys.animation_data.action:
            actions.append(keys.animation_data.action)
        bpy.data.objects.remove(obj)
        if data is not None and data.users == 0:
            (bpy.data.meshes if isinstance(data, bpy.types.Mesh) else bpy.data.armatures).remove(data)
        for action in actions:
            if action.users == 0:
                bpy.data.actions.remove(action)
    return names


def _same(recorded, target: Path) -> bool:
    try:
        return Path(str(recorded)).resolve() == target
    except (OSError, ValueError):
        return False


def is_body(obj) -> bool:
    return obj is not None and obj.type in ("MESH", "ARMATURE") and BODY_TAG in obj


def body_objects(obj) -> list:
    """An imported body's objects: its mesh and its armature, from either."""
    found = [obj, *(c for c in obj.children if is_body(c))]
    if obj.parent is not None and is_body(obj.parent):
        found.append(obj.parent)
    return found
