"""Occluders from primitives (box, chair, table, pole, plant, panel) or an installed mesh
asset, each filling the oriented box its spec gives (see synth/occluders.py)."""

from __future__ import annotations


import bmesh
import bpy
import numpy as np
from mathutils import Matrix


def _box(bm, center, size):
    M = Matrix.Translation(center) @ Matrix.Diagonal((*size, 1.0))
    bmesh.ops.create_cube(bm, size=1.0, matrix=M)


def _cylinder(bm, center, radius_bottom, radius_top, height, segments=24):
    bmesh.ops.create_cone(bm, cap_ends=True, cap_tris=False, segments=segments, radius1=radius_bottom,
                          radius2=radius_top, depth=height, matrix=Matrix.Translation(center))


def _legs(bm, w, d, h, t):
    for sx in (-1, 1):
        for sy in (-1, 1):
            _box(bm, (sx * (w / 2 - t / 2), sy * (d / 2 - t / 2), h / 2), (t, t, h))


def _geometry(bm, kind: str, size, rng: np.random.Generator) -> None:
    w, d, h = size
    if kind in ("box", "panel"):
        _box(bm, (0, 0, h / 2), (w, d, h))
    elif kind == "chair":
        seat = 0.5 * h
        _legs(bm, w, d, seat - 0.04, 0.04)
        _box(bm, (0, 0, seat - 0.02), (w, d, 0.04))
        _box(bm, (0, d / 2 - 0.02, (seat + h) / 2), (w, 0.04, h - seat))
    elif kind == "table":
        _legs(bm, w - 0.06, d - 0.06, h - 0.04, 0.05)
        _box(bm, (0, 0, h - 0.02), (w, d, 0.04))
    elif kind == "pole":
        _cylinder(bm, (0, 0, 0.01), w * 1.5, w * 1.5, 0.02)
        _cylinder(bm, (0, 0, h / 2), w / 2, w / 2, h)
    elif kind == "plant":
        pot_h, pot_r = 0.25 * h, 0.3 * min(w, d)
        _cylinder(bm, (0, 0, pot_h / 2), 0.75 * pot_r, pot_r, pot_h)
        _cylinder(bm, (0, 0, (pot_h + 0.7 * h) / 2), 0.015, 0.01, 0.7 * h - pot_h, segments=8)
        for _ in range(int(rng.integers(5, 10))):
            r = rng.uniform(0.12, 0.25) * min(w, d)
            c = (rng.uniform(-1, 1) * (w / 2 - r), rng.uniform(-1, 1) * (d / 2 - r), rng.uniform(0.5 * h, h - r))
            bmesh.ops.create_icosphere(bm, subdivisions=2, radius=r, matrix=Matrix.Translation(c))
    else:
        raise ValueError(f"occluder kind: unknown '{kind}'")


def _material(name: str, spec: dict) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = spec["roughness"]
    color = (*spec["color"], 1.0)
    if spec["pattern"] == "plain":
        bsdf.inputs["Base Color"].default_value = color
        return mat
    coord = nodes.new("ShaderNodeTexCoord")
    tex = nodes.new("ShaderNodeTexNoise" if spec["pattern"] == "noise" else "ShaderNodeTexWave")
    tex.inputs["Scale"].default_value = spec["pattern_scale"]
    links.new(coord.outputs["Object"], tex.inputs["Vector"])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.inputs["A"].default_value = color
    mix.inputs["B"].default_value = (*[0.35 * c for c in spec["color"]], 1.0)
    links.new(tex.outputs["Fac"], mix.inputs["Factor"])
    links.new(mix.outputs["Result"], bsdf.inputs["Base Color"])
    return mat


def build_occluder(index: int, spec: dict) -> bpy.types.Object:
    name = f"Occluder{index}_{spec['kind']}"
    if "asset" in spec:
        from synth.blender.meshes import import_mesh

        obj = import_mesh(spec["asset"]["path"])
        obj.name = name
        # Keep the model's proportions: scale it to the sampled height (its largest side is 1).
        obj.scale = (spec["size"][2] / obj["unit_dimensions"][2],) * 3
    else:
        bm = bmesh.new()
        _geometry(bm, spec["kind"], spec["size"], np.random.default_rng(spec["seed"]))
        mesh = bpy.data.meshes.new(name)
        bm.to_mesh(mesh)
        bm.free()
        obj = bpy.data.objects.new(name, mesh)
        bpy.context.scene.collection.objects.link(obj)
    obj.data.materials.clear()
    obj.data.materials.append(_material(name, spec["material"]))
    obj.location = spec["location"]
    obj.rotation_euler = (0.0, 0.0, spec["yaw"])
    obj["diffproxy_role"] = "occluder"
    return obj
