"""Scene-level Blender plumbing: reset between scenes, Cycles settings, cameras, and the
export of occluder triangles for the proxy pass."""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

# Images (HDRIs) and appended node groups (hair) survive a reset: they are reused by the
# next scene in the same worker.
_RESET = ("objects", "meshes", "materials", "hair_curves", "cameras", "lights", "worlds", "textures",
          "curves")


def reset_scene() -> None:
    for name in _RESET:
        collection = getattr(bpy.data, name)
        for block in list(collection):
            collection.remove(block)


def configure_cycles(samples: int, denoise: bool, threads: int, max_bounces: int, width: int, height: int,
                     exposure: float = 0.0, seed: int = 0, transparent: bool = False) -> None:
    """``transparent``: no background, RGBA images whose alpha is the geometry's coverage (the
    tests compare it with the proxies' foreground)."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    cy = scene.cycles
    cy.device = "CPU"
    cy.samples = samples
    cy.use_adaptive_sampling = True
    cy.use_denoising = denoise
    if denoise:
        cy.denoiser = "OPENIMAGEDENOISE"
    cy.max_bounces = max_bounces
    cy.seed = seed
    scene.render.threads_mode = "FIXED" if threads > 0 else "AUTO"
    if threads > 0:
        scene.render.threads = threads
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = True
    scene.render.film_transparent = transparent
    scene.view_settings.exposure = exposure
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGBA" if transparent else "RGB"
    settings.color_depth = "8"


def add_camera(index: int, blender: dict) -> bpy.types.Object:
    data = bpy.data.cameras.new(f"Camera{index:02d}")
    data.type = "PERSP"
    data.lens = blender["lens"]
    data.sensor_width, data.sensor_height = blender["sensor_width"], blender["sensor_height"]
    data.sensor_fit = blender["sensor_fit"]
    data.shift_x, data.shift_y = blender["shift_x"], blender["shift_y"]
    data.clip_start, data.clip_end = 0.05, 200.0
    obj = bpy.data.objects.new(f"Camera{index:02d}", data)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix(blender["matrix_world"])
    return obj


def render_view(camera: bpy.types.Object, blender: dict, path: str) -> None:
    scene = bpy.context.scene
    scene.camera = camera
    r = scene.render
    r.resolution_x, r.resolution_y = blender["resolution_x"], blender["resolution_y"]
    r.resolution_percentage = blender["resolution_percentage"]
    r.pixel_aspect_x, r.pixel_aspect_y = blender["pixel_aspect_x"], blender["pixel_aspect_y"]
    r.filepath = path
    bpy.ops.render.render(write_still=True)


def world_triangles(objects: list[bpy.types.Object]) -> np.ndarray:
    """(T, 3, 3) float64 world-space triangles of the evaluated objects (modifiers applied)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    chunks = []
    for obj in objects:
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        mesh.calc_loop_triangles()
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        tri = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
        mesh.loop_triangles.foreach_get("vertices", tri)
        M = np.array(evaluated.matrix_world, dtype=np.float64)
        co = co.reshape(-1, 3).astype(np.float64) @ M[:3, :3].T + M[:3, 3]
        chunks.append(co[tri.reshape(-1, 3)])
        evaluated.to_mesh_clear()
    return np.concatenate(chunks) if chunks else np.zeros((0, 3, 3))
