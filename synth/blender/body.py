"""The body as a Blender mesh: world-space vertices, Anny/SMPL-X triangles, the UV atlas
and the part ids as attributes (``part`` per face, ``vpart`` per vertex)."""

from __future__ import annotations

import bpy
import numpy as np


def build_body(vertices: np.ndarray, faces: np.ndarray, uv_coords: np.ndarray, uv_faces: np.ndarray,
               face_part: np.ndarray, vertex_part: np.ndarray, name: str = "Body") -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    faces = np.asarray(faces, dtype=np.int32)
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", np.asarray(vertices, dtype=np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(faces), 3, dtype=np.int32))
    uv_layer = mesh.uv_layers.new(name="UVMap")
    corner_uv = np.asarray(uv_coords, dtype=np.float32)[np.asarray(uv_faces).ravel()]
    uv_layer.data.foreach_set("uv", corner_uv.ravel())
    mesh.update()
    mesh.validate(clean_customdata=False)
    mesh.attributes.new("part", "INT", "FACE").data.foreach_set("value", np.asarray(face_part, np.int32))
    mesh.attributes.new("vpart", "INT", "POINT").data.foreach_set("value", np.asarray(vertex_part, np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj["diffproxy_role"] = "body"
    return obj
