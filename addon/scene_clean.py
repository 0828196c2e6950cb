"""What Import Capture clears from the scene before adding cameras: the cameras of an earlier
import of the same capture (re-importing replaces, so Reconstruct never sees each camera twice),
and, when asked, Blender's untouched default cube (it stands at the origin, where a capture's
body usually is, and hides it)."""

from __future__ import annotations

import re

import bpy

_COPY = re.compile(r"\.\d{3,}$")  # Blender's "cam01.001"


def base_name(name: str) -> str:
    return _COPY.sub("", name)


def imported_cameras(scene) -> list[bpy.types.Object]:
    return [o for o in scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported]


def remove_earlier_import(scene, names: list[str]) -> list[str]:
    """Remove the imported cameras (objects, their camera data, collections left empty) named
    like this capture's cameras; -> their names."""
    wanted = set(names)
    gone = [o for o in imported_cameras(scene) if base_name(o.name) in wanted]
    removed = sorted(o.name for o in gone)
    collections = {c for o in gone for c in o.users_collection if c.name.startswith("DiffProxy ")}
    for obj in gone:
        data = obj.data
        bpy.data.objects.remove(obj)
        if data.users == 0:
            bpy.data.cameras.remove(data)
    for collection in collections:
        if not collection.all_objects and not collection.children:
            bpy.data.collections.remove(collection)
    return removed


def is_default_cube(obj) -> bool:
    """Blender's startup cube as it was: named Cube, a 2 m cube at the origin, unmoved, with no
    modifier, animation, parent, child or shape key, its mesh used by nothing else."""
    if obj is None or obj.name != "Cube" or obj.type != "MESH" or obj.parent or obj.children:
        return False
    mesh = obj.data
    if (mesh.users != 1 or len(mesh.vertices) != 8 or len(mesh.polygons) != 6 or obj.modifiers
            or obj.animation_data or mesh.shape_keys or len(obj.material_slots) > 1):
        return False
    if any(abs(a - b) > 1e-6 for row, ref in zip(obj.matrix_world, _IDENTITY) for a, b in zip(row, ref)):
        return False
    return all(abs(abs(c) - 1.0) < 1e-6 for v in mesh.vertices for c in v.co)


_IDENTITY = ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1))


def remove_default_cube(scene) -> bool:
    """Remove the untouched default cube (``is_default_cube``) from the scene; -> whether it was."""
    cube = scene.objects.get("Cube")
    if not is_default_cube(cube):
        return False
    mesh = cube.data
    bpy.data.objects.remove(cube)
    if mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    return True
