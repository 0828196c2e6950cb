"""Appearance inside Blender: skin and eye material on the Body, garments, and (via
``synth.blender.hair``) hair. Takes the spec of ``synth.appearance.sample_appearance`` and
the per-vertex arrays of ``synth.appearance.body_arrays``; bpy + numpy only.

Tight garments are the body's own faces of the garment region (chosen per vertex by part
and by the limb coordinates of ``body_arrays``), moved out along the vertex normals and
given a thickness with Solidify. Skirts are a surface of revolution around the hips whose
radius, per angle and height, encloses the body below the waist plus a margin and never
shrinks downward, so it hangs and flares like a stiff skirt.
"""

from __future__ import annotations

import logging

import bpy
import numpy as np

from synth.blender.nodes import Nodes

log = logging.getLogger(__name__)

# Part ids (engine.proxy.parts.PART_NAMES), repeated here: Blender code cannot import the engine.
HEAD, NECK, HIPS, SPINE, SPINE1, SPINE2 = 1, 2, 3, 4, 5, 6
SHOULDERS, ARMS, FOREARMS = (7, 8), (9, 10), (11, 12)
UPLEGS, LEGS, FEET, TOES, EYES = (13, 14), (15, 16), (17, 18), (19, 20), (21, 22)
HANDS = tuple(range(23, 47))
TORSO = (HIPS, SPINE, SPINE1, SPINE2)
REQUIRED_ARRAYS = ("scalp_weight", "arm_coord", "leg_coord", "torso_coord", "rest_co", "iris_weight")


# ---------------------------------------------------------------------------------------------
# Body data as numpy


def mesh_arrays(obj: bpy.types.Object) -> dict[str, np.ndarray]:
    """World-space vertices, vertex normals, triangles and part ids of a triangle mesh."""
    mesh = obj.data
    V, F = len(mesh.vertices), len(mesh.polygons)
    co = np.empty(V * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    nrm = np.empty(V * 3, np.float32)
    mesh.vertex_normals.foreach_get("vector", nrm)
    tri = np.empty(F * 3, np.int32)
    mesh.polygons.foreach_get("vertices", tri)
    M = np.array(obj.matrix_world, dtype=np.float64)
    co = co.reshape(-1, 3) @ M[:3, :3].T + M[:3, 3]
    nrm = nrm.reshape(-1, 3) @ np.linalg.inv(M[:3, :3])
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    vpart = np.empty(V, np.int32)
    mesh.attributes["vpart"].data.foreach_get("value", vpart)
    return {"co": co, "normal": nrm, "tri": tri.reshape(-1, 3), "vpart": vpart}


def _set_point_attr(mesh, name: str, values: np.ndarray) -> None:
    values = np.asarray(values, np.float32)
    kind = "FLOAT_VECTOR" if values.ndim == 2 else "FLOAT"
    if name in mesh.attributes:
        mesh.attributes.remove(mesh.attributes[name])
    attr = mesh.attributes.new(name, kind, "POINT")
    attr.data.foreach_set("vector" if kind == "FLOAT_VECTOR" else "value", values.ravel())


def _new_mesh_object(name: str, verts: np.ndarray, tris: np.ndarray) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(verts, np.float64).tolist(), [], np.asarray(tris, np.int64).tolist())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# Skin


def hair_rgb(melanin: float, redness: float) -> list[float]:
    """Rough linear RGB of hair with that melanin and redness (for the scalp under the hair)."""
    blond, brown, black = np.array([0.5, 0.35, 0.17]), np.array([0.09, 0.045, 0.02]), np.array([0.012, 0.009, 0.007])
    c = blond + (brown - blond) * min(melanin / 0.6, 1) if melanin < 0.6 else brown + (black - brown) * (melanin - 0.6) / 0.4
    c = c * (1 + np.array([0.6, -0.1, -0.4]) * redness)
    return [float(x) for x in np.clip(c, 0, 1)]


def skin_material(skin: dict, hair: dict | None) -> bpy.types.Material:
    n = Nodes("Skin")
    rest = n.attribute("rest_co", "Vector")
    noise = n.new("ShaderNodeTexNoise", noise_dimensions="3D")
    n.set(noise, "Vector", rest)
    n.set(noise, "Scale", skin["noise_scale"])
    n.set(noise, "Detail", 3.0)
    # multiply the tone by 1 +- noise: blotchy, subtle variation
    gain = n.math("MULTIPLY_ADD", noise.outputs["Fac"], 2 * skin["noise"])
    gain.node.inputs[2].default_value = 1 - skin["noise"]
    color = n.mix(1.0, skin["base_color"], [1, 1, 1], "MULTIPLY")
    n.set(color.node, "B_Color", n.mix(gain, [0, 0, 0], [1, 1, 1]))
    if hair is not None:  # the scalp between the strands takes the hair colour
        scalp = n.math("MULTIPLY", n.attribute("scalp_weight"), 0.85)
        color = n.mix(scalp, color, hair_rgb(hair["melanin"], hair["redness"]))
    bsdf = n.new("ShaderNodeBsdfPrincipled", subsurface_method="BURLEY")
    n.set(bsdf, "Base Color", color)
    n.set(bsdf, "Roughness", skin["roughness"])
    n.set(bsdf, "Subsurface Weight", skin["subsurface"])
    n.set(bsdf, "Subsurface Radius", (1.0, 0.35, 0.2))
    n.set(bsdf, "Subsurface Scale", 0.01)
    return n.output(bsdf.outputs[0])


def eye_material(skin: dict) -> bpy.types.Material:
    """White sclera, coloured iris (``iris_weight``), glossy."""
    n = Nodes("Eyes")
    w = n.attribute("iris_weight")
    iris = n.mix(w, [0.8, 0.78, 0.75], skin["iris_color"])
    bsdf = n.new("ShaderNodeBsdfPrincipled")
    n.set(bsdf, "Base Color", iris)
    n.set(bsdf, "Roughness", 0.05)
    return n.output(bsdf.outputs[0])


def _assign_body_materials(body_obj, skin: dict, hair: dict | None, vpart: np.ndarray, tri: np.ndarray) -> None:
    mesh = body_obj.data
    mesh.materials.clear()
    mesh.materials.append(skin_material(skin, hair))
    mesh.materials.append(eye_material(skin))
    eye = np.isin(vpart[tri], EYES).all(axis=1)
    mesh.polygons.foreach_set("material_index", eye.astype(np.int32))


# ---------------------------------------------------------------------------------------------
# Garment material (pattern in rest-pose coordinates, so it follows the body)


def garment_material(name: str, m: dict) -> bpy.types.Material:
    n = Nodes(name)
    p = n.new("ShaderNodeVectorMath", operation="SCALE")
    n.set(p, 0, n.attribute("rest_co", "Vector"))
    n.set(p, "Scale", m["pattern_scale"])
    p = p.outputs[0]
    pattern = m["pattern"]
    if pattern == "solid":
        color = n.mix(0.0, m["color"], m["color"])
    elif pattern == "stripes":
        xyz = n.new("ShaderNodeSeparateXYZ")
        n.set(xyz, 0, p)
        axis = "Z" if m["seed"] % 3 else "X"  # mostly horizontal stripes
        band = n.math("LESS_THAN", n.math("FRACT", xyz.outputs[axis]), 0.3 + 0.4 * ((m["seed"] >> 2) % 100) / 100)
        color = n.mix(band, m["color"], m["color2"])
    elif pattern == "checker":
        tex = n.new("ShaderNodeTexChecker")
        n.set(tex, "Vector", p)
        n.set(tex, "Scale", 0.5)
        n.set(tex, "Color1", m["color"])
        n.set(tex, "Color2", m["color2"])
        color = tex.outputs["Color"]
    elif pattern in ("camo", "heather"):
        tex = n.new("ShaderNodeTexNoise", noise_dimensions="4D")
        n.set(tex, "Vector", p)
        n.set(tex, "W", float(m["seed"] % 1000))
        n.set(tex, "Scale", 0.25 if pattern == "camo" else 12.0)
        n.set(tex, "Detail", 2.0)
        if pattern == "camo":
            ramp = n.new("ShaderNodeValToRGB")
            ramp.color_ramp.interpolation = "CONSTANT"
            els = ramp.color_ramp.elements
            els[0].position, els[0].color = 0.0, (*m["color"], 1)
            els[1].position, els[1].color = 0.45, (*m["color2"], 1)
            el = els.new(0.56)
            el.color = (*m["color3"], 1)
            n.set(ramp, "Fac", tex.outputs["Fac"])
            color = ramp.outputs["Color"]
        else:
            color = n.mix(n.math("MULTIPLY", tex.outputs["Fac"], 0.6), m["color"], m["color2"])
    else:
        raise ValueError(f"garment material.pattern: unknown pattern '{pattern}'")
    bsdf = n.new("ShaderNodeBsdfPrincipled")
    n.set(bsdf, "Base Color", color)
    n.set(bsdf, "Roughness", m["roughness"])
    n.set(bsdf, "Sheen Weight", 0.3)
    return n.output(bsdf.outputs[0])


# ---------------------------------------------------------------------------------------------
# Garment geometry


def tight_region(kind: str, g: dict, vpart: np.ndarray, arrays: dict) -> np.ndarray:
    """Vertices (bool (V,)) a tight garment covers, from part ids and limb coordinates."""
    arm, leg, torso = arrays["arm_coord"], arrays["leg_coord"], arrays["torso_coord"]
    is_torso, is_arm = np.isin(vpart, TORSO), np.isin(vpart, ARMS + FOREARMS)
    is_leg = np.isin(vpart, UPLEGS + LEGS)
    if kind in ("top", "dress_top"):
        hem = g["waist"] - 0.1 if kind == "dress_top" else g["hem"]  # a dress's top reaches into its skirt
        body = is_torso & (torso >= hem)
        shoulders = np.isin(vpart, SHOULDERS)
        if g["sleeve"] < 0:  # sleeveless: the shoulder straps stop before the arm
            return body | (shoulders & (arm <= -0.05))
        return body | shoulders | (is_arm & (arm <= g["sleeve"]))
    if kind in ("trousers", "shorts"):
        return (is_torso & (torso <= g["waist"])) | (is_leg & (leg <= g["hem"]))
    raise ValueError(f"garment type '{kind}' is not tight")


def build_tight_garment(name: str, kind: str, g: dict, body: dict, arrays: dict) -> bpy.types.Object:
    inside = tight_region(kind, g, body["vpart"], arrays)
    faces = body["tri"][inside[body["tri"]].all(axis=1)]
    if len(faces) == 0:
        raise ValueError(f"garment '{name}': the region selects no faces")
    used = np.unique(faces)
    remap = np.full(len(inside), -1, np.int64)
    remap[used] = np.arange(len(used))
    verts = body["co"][used] + body["normal"][used] * g["offset"]
    # where the body touches itself (an arm on the torso) the offset skin lies inside another part
    verts = push_out_of_body(verts, body, g["offset"])
    obj = _new_mesh_object(name, verts, remap[faces])
    _set_point_attr(obj.data, "rest_co", arrays["rest_co"][used])
    _solidify(obj, g["thickness"])
    return obj


def body_bvh(body: dict):
    from mathutils.bvhtree import BVHTree

    if "bvh" not in body:
        body["bvh"] = BVHTree.FromPolygons(body["co"].tolist(), body["tri"].tolist())
    return body["bvh"]


def push_out_of_body(points: np.ndarray, body: dict, clearance: float, rounds: int = 2) -> np.ndarray:
    """Move the points that are closer than ``clearance`` to the body, on its inner side,
    onto the surface plus ``clearance`` (inside = behind the nearest face)."""
    from mathutils import Vector

    bvh = body_bvh(body)
    points = np.array(points, np.float64)
    for _ in range(rounds):
        moved = 0
        for i, p in enumerate(points):
            loc, nrm, _, _ = bvh.find_nearest(Vector(p))
            if loc is not None and (p - np.asarray(loc)) @ np.asarray(nrm) < 0:
                points[i] = np.asarray(loc) + np.asarray(nrm) * clearance
                moved += 1
        if moved == 0:
            break
    return points


def _solidify(obj, thickness: float) -> None:
    mod = obj.modifiers.new("Solidify", "SOLIDIFY")
    mod.thickness = thickness
    mod.offset = 1.0  # grow outward, away from the skin
    mod.use_rim = True


def _circular_smooth(r: np.ndarray, width: int) -> np.ndarray:
    """Max-filter then box-filter each row (angle axis, circular)."""
    out = np.max([np.roll(r, s, axis=1) for s in range(-width, width + 1)], axis=0)
    return np.mean([np.roll(out, s, axis=1) for s in range(-width, width + 1)], axis=0)


def build_skirt(name: str, g: dict, body: dict, arrays: dict, n_theta: int = 64, n_rings: int = 24) -> bpy.types.Object:
    """A surface of revolution about the vertical axis through the hips (see module doc)."""
    co, vpart = body["co"], body["vpart"]
    torso, leg = arrays["torso_coord"], arrays["leg_coord"]
    legs_and_hips = np.isin(vpart, TORSO + UPLEGS + LEGS)
    waist_band = np.isin(vpart, TORSO) & (np.abs(torso - g["waist"]) < 0.04)
    hem_band = np.isin(vpart, UPLEGS + LEGS) & (np.abs(leg - g["hem"]) < 0.08)
    if not waist_band.any() or not hem_band.any():
        raise ValueError(f"garment '{name}': waist {g['waist']} or hem {g['hem']} finds no body vertices")
    z_top, z_hem = float(co[waist_band, 2].mean()), float(co[hem_band, 2].mean())
    centre = co[waist_band, :2].mean(axis=0)
    below = legs_and_hips & (co[:, 2] <= z_top + 0.02)
    p = co[below]
    d = p[:, :2] - centre
    theta_bin = (np.floor((np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi) * n_theta).astype(int)) % n_theta
    rad = np.linalg.norm(d, axis=1)
    zs = np.linspace(z_top, z_hem, n_rings)
    dz = abs(zs[1] - zs[0])
    need = np.zeros((n_rings, n_theta))
    ring = (z_top - p[:, 2]) / dz
    for k in (np.floor(ring), np.ceil(ring)):  # both rings around a vertex enclose it
        np.maximum.at(need, (np.clip(k.astype(int), 0, n_rings - 1), theta_bin), rad)
    need[:, :] = _circular_smooth(need, 2) + g["margin"]
    # hands and forearms near the skirt: enclose them too (a bump) rather than cut through it
    arms = np.isin(vpart, FOREARMS + HANDS) & (co[:, 2] <= z_top) & (co[:, 2] >= z_hem - dz)
    if arms.any():
        d_arm = co[arms, :2] - centre
        t_arm = (np.floor((np.arctan2(d_arm[:, 1], d_arm[:, 0]) + np.pi) / (2 * np.pi) * n_theta).astype(int)) % n_theta
        k_arm = (z_top - co[arms, 2]) / dz
        r_arm = np.linalg.norm(d_arm, axis=1)
        near = r_arm < need.max(axis=0)[t_arm] + 0.04
        left = co[arms, 0] - centre[0] > 0  # a hand is enclosed whole or not at all
        for side in (left, ~left):
            near[side] = near[side].any()
        bump = np.zeros_like(need)
        for k in (np.floor(k_arm[near]), np.ceil(k_arm[near])):
            np.maximum.at(bump, (np.clip(k.astype(int), 0, n_rings - 1), t_arm[near]), r_arm[near] + g["margin"])
        need = np.maximum(need, _circular_smooth(bump, 2))
    r = np.zeros_like(need)
    r[0] = need[0]
    for k in range(1, n_rings):  # never narrower going down; flare outward below the hips
        r[k] = np.maximum(need[k], r[k - 1] + g["flare"] * dz)
    r = _circular_smooth(r, 1)
    theta = (np.arange(n_theta) + 0.5) / n_theta * 2 * np.pi - np.pi
    verts = np.stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta),
                      np.broadcast_to(zs[:, None], r.shape)], axis=-1).reshape(-1, 3)
    k, t = np.meshgrid(np.arange(n_rings - 1), np.arange(n_theta), indexing="ij")
    a, b = k * n_theta + t, k * n_theta + (t + 1) % n_theta
    c, d_ = a + n_theta, b + n_theta
    tris = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d_], -1).reshape(-1, 3)])
    obj = _new_mesh_object(name, verts, tris)
    _set_point_attr(obj.data, "rest_co", verts - np.array([centre[0], centre[1], z_top]))
    _solidify(obj, g["thickness"])
    return obj


# ---------------------------------------------------------------------------------------------
# Entry point


def apply_appearance(body_obj: bpy.types.Object, spec: dict, body_info: dict, arrays: dict) -> dict:
    """Dress the Body: skin and eye materials, garment objects, hair.

    Returns {"objects": {"garments": [names], "hair": [names]}, "assets": [...]}.
    """
    missing = [k for k in REQUIRED_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"arrays: missing {missing} (compute them with synth.appearance.body_arrays)")
    body = mesh_arrays(body_obj)
    V = len(body["co"])
    for k in REQUIRED_ARRAYS:
        if len(arrays[k]) != V:
            raise ValueError(f"arrays['{k}']: expected {V} vertices (the Body mesh), got {len(arrays[k])}")
    for k in ("scalp_weight", "rest_co", "iris_weight"):
        _set_point_attr(body_obj.data, k, arrays[k])
    _assign_body_materials(body_obj, spec["skin"], spec.get("hair"), body["vpart"], body["tri"])

    garments = []
    for i, g in enumerate(spec.get("garments", [])):
        kind = g["type"]
        mat = garment_material(f"Garment{i}", g["material"])
        parts = [("top", "dress_top"), ("skirt", "skirt")] if kind == "dress" else [(kind, kind)]
        for suffix, part_kind in parts:
            name = f"Garment{i}.{suffix if kind == 'dress' else kind}"
            if part_kind == "skirt":
                obj = build_skirt(name, g, body, arrays)
            else:
                obj = build_tight_garment(name, part_kind, g, body, arrays)
            obj.data.materials.append(mat)
            obj["diffproxy_role"] = "garment"
            garments.append(obj.name)

    hair_names = []
    if spec.get("hair") is not None:
        from synth.blender.hair import build_hair

        hair_names.append(build_hair(body_obj, spec["hair"], body_info, arrays, body).name)
    assets = ["procedural_hair_node_assets.blend"] if hair_names else []
    return {"objects": {"garments": garments, "hair": hair_names}, "assets": assets}
