"""Import an installed occluder mesh asset (.glb, .gltf, .obj, .ply) as one Blender object.

bpy and the standard library only. The file was verified engine-side (``synth.assets``); errors
here are Blender failing to read it.
"""

from __future__ import annotations

import os

import bpy
import numpy as np
from mathutils import Matrix, Vector

_IMPORTERS = {
    ".glb": lambda path: bpy.ops.import_scene.gltf(filepath=path),
    ".gltf": lambda path: bpy.ops.import_scene.gltf(filepath=path),
    ".obj": lambda path: bpy.ops.wm.obj_import(filepath=path),
    ".ply": lambda path: bpy.ops.wm.ply_import(filepath=path),
}


def import_mesh(path: str, name: str | None = None) -> bpy.types.Object:
    """Import ``path`` as a single mesh object, normalised to its bounding box.

    Every mesh in the file is joined into one object with its transforms applied; the mesh is
    moved so that its bounding box is centred on the origin in x and y with its bottom at z = 0,
    and scaled so that its largest side is 1, keeping its proportions. The object's scale is 1:
    for a height of ``h`` metres set ``obj.scale = (s, s, s)`` with ``s = h / unit_dimensions[2]``
    (a per-axis scale stretches the model). ``obj["unit_dimensions"]`` is the normalised size
    (x, y, z), ``obj["source_dimensions_m"]`` the size in the file, ``obj["source_path"]`` the file. Other objects the file brings
    (cameras, lights, empties) are deleted. Raises ValueError naming the file on failure.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in _IMPORTERS:
        raise ValueError(f"{path}: occluder mesh must be one of {sorted(_IMPORTERS)}, not {ext!r}")
    if not os.path.isfile(path):
        raise ValueError(f"{path}: occluder mesh file not found")
    before = set(bpy.data.objects)
    try:
        result = _IMPORTERS[ext](path)
    except (RuntimeError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"{path}: Blender could not import this mesh ({type(e).__name__}: {e})") from e
    new = [obj for obj in bpy.data.objects if obj not in before]
    new_names = [obj.name for obj in new]
    if "FINISHED" not in result:
        _delete(new_names)
        raise ValueError(f"{path}: Blender's importer returned {sorted(result)}")
    meshes = [obj for obj in new if obj.type == "MESH" and len(obj.data.vertices) > 0]
    if not meshes:
        _delete(new_names)
        raise ValueError(f"{path}: the file holds no mesh with vertices")
    obj = _join(meshes)
    _delete([n for n in new_names if n != obj.name])
    dims = _normalise(obj)
    obj.name = name or f"Occluder_{os.path.splitext(os.path.basename(path))[0]}"
    obj["source_path"] = path
    obj["source_dimensions_m"] = dims
    obj["unit_dimensions"] = [d / max(dims) for d in dims]
    return obj


def _join(meshes: list[bpy.types.Object]) -> bpy.types.Object:
    """One object holding every mesh, in world coordinates, with no parent."""
    for obj in meshes:
        world = obj.matrix_world.copy()
        obj.parent = None
        obj.data = obj.data.copy()  # glTF can share mesh data between objects: transform a copy
        obj.data.transform(world)
        obj.matrix_world = Matrix.Identity(4)
    target = meshes[0]
    if len(meshes) > 1:
        with bpy.context.temp_override(active_object=target, selected_editable_objects=meshes,
                                       selected_objects=meshes):
            bpy.ops.object.join()
    return target


def _normalise(obj: bpy.types.Object) -> list[float]:
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float64)
    obj.data.vertices.foreach_get("co", co)
    co = co.reshape(-1, 3)
    lo, hi = Vector(co.min(axis=0)), Vector(co.max(axis=0))
    size = hi - lo
    largest = max(size)
    if not largest > 0:
        raise ValueError(f"{obj.name}: the imported mesh is degenerate (zero size)")
    centre = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z))
    obj.data.transform(Matrix.Diagonal((1 / largest,) * 3 + (1.0,)) @ Matrix.Translation(-centre))
    obj.data.update()
    obj.location = (0.0, 0.0, 0.0)
    obj.rotation_euler = (0.0, 0.0, 0.0)
    obj.scale = (1.0, 1.0, 1.0)
    return [float(size.x), float(size.y), float(size.z)]


def _delete(names: list[str]) -> None:
    for name in names:  # by name: objects merged by join() are already gone
        obj = bpy.data.objects.get(name)
        if obj is not None:
            bpy.data.objects.remove(obj)
