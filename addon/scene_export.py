"""Exports of an imported body that Blender's exporters do not do alone: BVH written Y up (the
convention of BVH files and of Blender's own BVH importer), the bones renamed to another rig's
names (``core.rig_names``), and the rest pose turned into a T-pose (Mixamo's).

Blender's BVH exporter writes the armature's own space, which is Z up here: read back with its
importer's defaults (Y up) the body would lie on its back. So the armature is copied, the copy
turned -90 degrees about X (Z up -> Y up, Blender's -Y front -> +Z) and that turn applied to its
bones; the pose keys are relative to each bone's rest, so the same action moves the copy the
same way, turned. The copy is also moved so that its root rests at the origin, and its own copy
of the action moves the root back by as much: the file's root OFFSET is then zero and its
position channels are where the body is, which readers agree on (Blender writes the root's rest
head as its OFFSET and absolute positions too, which a reader adding the two would place a hip
height too high). The copies are removed afterwards: the scene is left as it was.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

from .core.rig import pose_basis, quaternions
from .core.rig_names import TABLES, target_names

Y_UP = Matrix.Rotation(-math.pi / 2, 4, "X")  # Blender (Z up, -Y front) -> BVH (Y up, +Z front)


def export_bvh(context, arm: bpy.types.Object, path: str, scale: float = 1.0) -> set:
    """``arm``'s animation over the scene's frame range to the BVH file ``path``, Y up, lengths
    in metres times ``scale``; only the root carries positions (the others rotate)."""
    scene = context.scene
    copy = arm.copy()
    copy.data = arm.data.copy()
    scene.collection.objects.link(copy)
    selected = list(context.view_layer.objects.selected)
    active = context.view_layer.objects.active
    try:
        for obj in selected:
            obj.select_set(False)
        copy.select_set(True)
        context.view_layer.objects.active = copy
        turned = Y_UP @ arm.matrix_world
        root = next(b for b in arm.data.bones if b.parent is None)
        head = turned @ root.head_local
        to_root = (turned @ root.matrix_local).to_3x3().transposed() @ head  # in the root's rest frame
        copy.animation_data.action = arm.animation_data.action.copy()
        for curve in fcurves(copy.animation_data.action):
            if curve.data_path == f'pose.bones["{root.name}"].location':
                for point in curve.keyframe_points:
                    for attr in ("co", "handle_left", "handle_right"):
                        getattr(point, attr)[1] += to_root[curve.array_index]
                curve.update()
        copy.matrix_world = Matrix.Translation(-head) @ turned
        bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
        return bpy.ops.export_anim.bvh(filepath=path, frame_start=scene.frame_start, frame_end=scene.frame_end,
                                       global_scale=scale, rotate_mode="NATIVE", root_transform_only=True)
    finally:
        data, action = copy.data, copy.animation_data.action
        bpy.data.objects.remove(copy)
        bpy.data.armatures.remove(data)
        if action is not arm.animation_data.action:
            bpy.data.actions.remove(action)
        for obj in selected:
            obj.select_set(True)
        context.view_layer.objects.active = active


def rename_bones(arm: bpy.types.Object, rig: str) -> list[str]:
    """Rename ``arm``'s bones to ``rig``'s names (``core.rig_names``); Blender renames the
    skinned mesh's vertex groups and the action's channels with them. -> the bones left
    under their own names (no counterpart in ``rig``)."""
    names = target_names([b.name for b in arm.data.bones], rig)
    for bone in list(arm.data.bones):
        new = names[bone.name]
        if new != bone.name:
            bone.name = new
    return sorted(old for old in names if old not in TABLES[rig])


# T-pose: these chains straightened along these directions (Blender's world: +X is the body's left)
T_POSE = {side: [(f"{b}{side}", axis) for b in ("upperarm01", "upperarm02", "lowerarm01", "lowerarm02", "wrist")]
          + [(f"{b}{side}", (0.0, 0.0, -1.0)) for b in ("upperleg01", "upperleg02", "lowerleg01", "lowerleg02")]
          for side, axis in ((".L", (1.0, 0.0, 0.0)), (".R", (-1.0, 0.0, 0.0)))}


def to_t_pose(context, arm: bpy.types.Object, mesh: bpy.types.Object) -> None:
    """Make the rest pose a T-pose (arms straight out to the sides, hands flat, legs straight
    down) without changing the motion: every keyed frame poses each bone as before, and the
    mesh is bound again in the new rest pose.

    The rest pose becomes a pose of the old one (each straightened bone turned about its head,
    parents first; hands and fingers follow their wrists, feet their legs): Blender applies it
    to the mesh and as the armature's rest. The bones' posed matrices ``P`` at each key stay;
    the keys are made again from them against the new rest (``core.rig.pose_basis``), as
    Import Fit makes them.
    """
    action = arm.animation_data.action
    names = [b.name for b in arm.data.bones]
    curves = {(c.data_path, c.array_index): c for c in fcurves(action)}
    frames = sorted({p.co[0] for c in curves.values() for p in c.keyframe_points})
    posed = []
    for f in frames:
        context.scene.frame_set(int(f), subframe=f - int(f))
        posed.append([np.array(arm.pose.bones[n].matrix) for n in names])
    arm.animation_data.action = None
    for pb in arm.pose.bones:
        pb.rotation_quaternion, pb.location, pb.scale = (1, 0, 0, 0), (0, 0, 0), (1, 1, 1)
    context.view_layer.update()
    for chain in T_POSE.values():
        for name, axis in chain:
            if name in arm.pose.bones:
                _point(context, arm.pose.bones[name], Vector(axis))
    _apply_as_rest(context, arm, mesh)
    arm.animation_data.action = action
    rest = np.array([b.matrix_local for b in arm.data.bones], dtype=np.float64)
    parents = np.array([names.index(b.parent.name) if b.parent else -1 for b in arm.data.bones])
    basis = pose_basis(rest, parents, np.array(posed, dtype=np.float64))
    rotation = quaternions(basis[..., :3, :3])
    frames = np.array(frames, dtype=np.float64)
    for j, name in enumerate(names):
        channels = [("rotation_quaternion", rotation[:, j])]
        if parents[j] < 0:
            channels.append(("location", basis[:, j, :3, 3]))
        for prop, values in channels:
            for i in range(values.shape[1]):
                curve = curves[(f'pose.bones["{name}"].{prop}', i)]
                curve.keyframe_points.foreach_set("co", np.stack([frames, values[:, i]], -1).astype(np.float32).ravel())
                curve.update()


def _point(context, pb, direction: Vector) -> None:
    """Turn pose bone ``pb`` about its head so that it points along ``direction`` (armature space)."""
    M = pb.matrix.copy()
    turn = M.col[1].xyz.normalized().rotation_difference(direction).to_matrix().to_4x4()
    head = Matrix.Translation(M.translation)
    pb.matrix = head @ turn @ head.inverted() @ M
    context.view_layer.update()


def _apply_as_rest(context, arm, mesh) -> None:
    """The armature's current pose becomes its rest pose, and the mesh's, bound again."""
    layer = context.view_layer
    modifier = next(m for m in mesh.modifiers if m.type == "ARMATURE" and m.object == arm)
    name = modifier.name
    layer.objects.active = mesh
    bpy.ops.object.modifier_apply(modifier=name)
    mesh.modifiers.new(name, "ARMATURE").object = arm
    layer.objects.active = arm
    bpy.ops.object.mode_set(mode="POSE")
    bpy.ops.pose.armature_apply(selected=False)
    bpy.ops.object.mode_set(mode="OBJECT")


def fcurves(action) -> list:
    """Slotted actions (Blender 4.4+) or the older ``action.fcurves``."""
    if not hasattr(action, "layers"):
        return list(action.fcurves)
    return [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags for c in bag.fcurves]
