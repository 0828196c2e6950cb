"""Exports of an imported body that Blender's exporters do not do alone: BVH written Y up (the
convention of BVH files and of Blender's own BVH importer), and the bones renamed to another
rig's names (``core.rig_names``).

Blender's BVH exporter writes the armature's own space, which is Z up here: read back with its
importer's defaults (Y up) the body would lie on its back. So the armature is copied, the copy
turned -90 degrees about X (Z up -> Y up, Blender's -Y front -> +Z) and that turn applied to its
bones; the pose keys are relative to each bone's rest, so the same action moves the copy the
same way, turned. The copy is removed afterwards: the scene is left as it was.
"""

from __future__ import annotations

import math

import bpy
from mathutils import Matrix

from .core.rig_names import target_names

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
        copy.matrix_world = Y_UP @ arm.matrix_world
        bpy.ops.object.transform_apply(location=True, rotation=True, scale=True)
        return bpy.ops.export_anim.bvh(filepath=path, frame_start=scene.frame_start, frame_end=scene.frame_end,
                                       global_scale=scale, rotate_mode="NATIVE", root_transform_only=True)
    finally:
        data = copy.data
        bpy.data.objects.remove(copy)
        bpy.data.armatures.remove(data)
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
    return sorted(old for old, new in names.items() if old == new)
