"""Hair as Blender hair curves on the Body (bpy + numpy + mathutils only).

Guide curves are grown here in numpy: roots sampled on the scalp (``scalp_weight``), each
strand leaves along the scalp normal and bends toward a combed direction (gravity, away from
the parting, back from the face) after a stiff start; every point is pushed out of the body
(a BVH of the posed Body), so hair drapes over the head and falls onto the shoulders and back.
Blender's own procedural hair node groups (``procedural_hair_node_assets.blend``) then run as
Geometry Nodes modifiers: Interpolate Hair Curves fills the scalp between the guides (density
masked by ``scalp_weight``), Clump/Curl/Frizz/Noise give the style, Shrinkwrap keeps the
strands out of the head, Set Hair Curve Profile gives them their radius.
"""

from __future__ import annotations

import logging
import os

import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from synth.blender.nodes import Nodes

log = logging.getLogger(__name__)

HAIR_ASSETS = "procedural_hair_node_assets.blend"
_GROUPS = ("Interpolate Hair Curves", "Clump Hair Curves", "Curl Hair Curves", "Frizz Hair Curves",
           "Hair Curves Noise", "Shrinkwrap Hair Curves", "Set Hair Curve Profile")
_POINTS = {"buzz": 3, "short": 6, "medium": 12, "long": 18}
HEAD_PART = 1
HEAD_CLEARANCE = 0.004  # m between the strands and the scalp
BODY_CLEARANCE = 0.022  # m between the strands and the skin elsewhere: outside the garments


def hair_assets_path() -> str:
    return os.path.join(bpy.utils.system_resource("DATAFILES"), "assets", "nodes", HAIR_ASSETS)


def hair_node_groups() -> dict[str, bpy.types.NodeTree]:
    """The hair node groups, appended from Blender's assets once per session and reused."""
    have = {ng.get("diffproxy_asset"): ng for ng in bpy.data.node_groups if ng.get("diffproxy_asset")}
    missing = [g for g in _GROUPS if g not in have]
    if missing:
        path = hair_assets_path()
        if not os.path.exists(path):
            raise ValueError(f"hair: Blender's hair node assets not found at {path}")
        with bpy.data.libraries.load(path, link=False) as (src, dst):
            dst.node_groups = list(missing)  # the loader replaces the list items by the IDs
        for name, ng in zip(missing, dst.node_groups):
            ng["diffproxy_asset"] = name
            have[name] = ng
    return have


def _set_inputs(mod, values: dict) -> None:
    """Set a Geometry Nodes modifier's inputs by socket name (and type where names repeat).

    A value ("attr", name) reads the input from a named attribute instead."""
    sockets = {}
    for item in mod.node_group.interface.items_tree:
        if item.item_type == "SOCKET" and item.in_out == "INPUT":
            sockets.setdefault(item.name, []).append(item)
    for key, value in values.items():
        name, _, kind = key.partition(":")
        cands = [s for s in sockets[name] if not kind or s.socket_type == kind]
        ident = cands[0].identifier
        if isinstance(value, tuple) and value and value[0] == "attr":
            mod[f"{ident}_use_attribute"] = True
            mod[f"{ident}_attribute_name"] = value[1]
        else:
            mod[ident] = value


def _add(obj, groups, name: str, values: dict):
    mod = obj.modifiers.new(name, "NODES")
    mod.node_group = groups[name]
    _set_inputs(mod, values)
    return mod


def _sample_roots(rng, body: dict, weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n well-spread root points on the scalp: positions, normals, face indices."""
    co, tri, nrm = body["co"].astype(np.float64), body["tri"], body["normal"].astype(np.float64)
    a, b, c = co[tri[:, 0]], co[tri[:, 1]], co[tri[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    p = area * weight[tri].mean(axis=1)
    if p.sum() <= 0:
        raise ValueError("arrays['scalp_weight']: no scalp (all weights are zero)")
    m = 6 * n  # candidates, then farthest-point picks for an even cover
    face = rng.choice(len(tri), size=m, p=p / p.sum())
    u, v = rng.random(m), rng.random(m)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    bary = np.stack([1 - u - v, u, v], axis=1)
    pts = np.einsum("mk,mkd->md", bary, co[tri[face]])
    nr = np.einsum("mk,mkd->md", bary, nrm[tri[face]])
    nr /= np.linalg.norm(nr, axis=1, keepdims=True)
    chosen = [0]
    dist = np.linalg.norm(pts - pts[0], axis=1)
    for _ in range(n - 1):
        i = int(np.argmax(dist))
        chosen.append(i)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[i], axis=1))
    return pts[chosen], nr[chosen], face[chosen]


def _head_frame(body_info: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kp = body_info["keypoints"]
    left, right = np.array(kp["left_ear"], float), np.array(kp["right_ear"], float)
    centre = (left + right) / 2
    lateral = (left - right) / np.linalg.norm(left - right)  # toward the body's left
    nose = np.array(kp["nose"], float) - centre
    forward = nose - lateral * (nose @ lateral)
    return centre, lateral, forward / np.linalg.norm(forward)


def grow_guides(rng, hair: dict, body: dict, body_info: dict, weight: np.ndarray) -> np.ndarray:
    """Guide strands (n, K, 3) in world coordinates (see module doc)."""
    roots, normals, _ = _sample_roots(rng, body, weight, hair["guides"])
    K = _POINTS[hair["length_class"]]
    seg = hair["length"] / (K - 1)
    centre, lateral, forward = _head_frame(body_info)
    gravity = -np.array(body_info.get("up", [0, 0, 1]), float)
    side = np.sign((roots - centre) @ lateral - hair["part_x"])[:, None] * lateral
    front = np.clip((roots - centre) @ forward / 0.06, 0, 1)[:, None]  # roots over the forehead
    target = gravity + 0.7 * side - 1.2 * front * forward
    target /= np.linalg.norm(target, axis=1, keepdims=True)

    tri, vpart = body["tri"], body["vpart"]
    bvh = BVHTree.FromPolygons(body["co"].tolist(), tri.tolist())
    face_is_head = vpart[tri[:, 0]] == HEAD_PART
    ground = float(body_info.get("ground_z", -np.inf))
    pos = np.zeros((len(roots), K, 3))
    pos[:, 0] = roots + normals * 0.001
    for k in range(1, K):
        a = min(k / (K - 1) / max(hair["stiffness"], 1e-3), 1.0)
        d = (1 - a) * normals + a * target
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        for i in range(len(roots)):
            p = pos[i, k - 1] + d[i] * seg
            for _ in range(2):  # push out of the body, then restore the segment length
                loc, nrm, face, _ = bvh.find_nearest(Vector(p))
                if loc is not None:
                    clearance = HEAD_CLEARANCE if face_is_head[face] else BODY_CLEARANCE
                    off = np.asarray(p) - np.asarray(loc)
                    if off @ np.asarray(nrm) < clearance:
                        p = np.asarray(loc) + np.asarray(nrm) * clearance
                step = p - pos[i, k - 1]
                p = pos[i, k - 1] + step / max(np.linalg.norm(step), 1e-9) * seg
            p[2] = max(p[2], ground + 0.002)
            pos[i, k] = p
    return pos


def hair_material(hair: dict) -> bpy.types.Material:
    n = Nodes("Hair")
    bsdf = n.new("ShaderNodeBsdfHairPrincipled", parametrization="MELANIN")
    n.set(bsdf, "Melanin", hair["melanin"])
    n.set(bsdf, "Melanin Redness", hair["redness"])
    n.set(bsdf, "Roughness", hair["roughness"])
    n.set(bsdf, "Random Color", 0.1)
    n.set(bsdf, "Random Roughness", 0.1)
    if hair["grey"]:
        n.set(bsdf, "Tint", [0.85, 0.85, 0.85])
    return n.output(bsdf.outputs[0])


def build_hair(body_obj, hair: dict, body_info: dict, arrays: dict, body: dict) -> bpy.types.Object:
    """Build the "Hair" curves object on ``body_obj`` from a hair spec."""
    rng = np.random.default_rng(hair["seed"])
    weight = np.asarray(arrays["scalp_weight"], np.float64)
    guides = grow_guides(rng, hair, body, body_info, weight)
    n, K, _ = guides.shape

    curves = bpy.data.hair_curves.new("Hair")
    curves.add_curves([K] * n)
    curves.position_data.foreach_set("vector", guides.astype(np.float32).ravel())
    curves.surface = body_obj
    curves.surface_uv_map = "UVMap"
    obj = bpy.data.objects.new("Hair", curves)
    bpy.context.scene.collection.objects.link(obj)
    obj["diffproxy_role"] = "hair"
    curves.materials.append(hair_material(hair))

    co, tri = body["co"].astype(np.float64), body["tri"]
    area = 0.5 * np.linalg.norm(np.cross(co[tri[:, 1]] - co[tri[:, 0]], co[tri[:, 2]] - co[tri[:, 0]]), axis=1)
    scalp_area = float((area * weight[tri].mean(axis=1)).sum())
    groups = hair_node_groups()
    seed = hair["seed"] % 100000
    _add(obj, groups, "Interpolate Hair Curves", {
        "Surface:NodeSocketObject": body_obj, "Part by Mesh Islands": False, "Interpolation Guides": 3,
        "Density": hair["strands"] / scalp_area, "Density Mask": ("attr", "scalp_weight"), "Seed": seed})
    style = hair["style"]
    if style == "clumped":
        _add(obj, groups, "Clump Hair Curves", {"Factor": hair["clump"], "Shape": 0.3, "Seed": seed,
                                                "Existing Guide Map": False, "Guide Distance": 0.02,
                                                "Preserve Length": True})
    if style == "curly":
        _add(obj, groups, "Curl Hair Curves", {"Radius": hair["curl_radius"], "Frequency": hair["curl_frequency"],
                                               "Curl Start": 0.02, "Subdivision": 0, "Seed": seed,
                                               "Existing Guide Map": False, "Guide Distance": 0.02})
    if style == "frizzy":
        _add(obj, groups, "Frizz Hair Curves", {"Distance": hair["frizz"], "Seed": seed, "Preserve Length": True})
    noise = hair["noise"] * (3.0 if style == "wavy" else 1.0)
    _add(obj, groups, "Hair Curves Noise", {"Distance": noise, "Scale": 8.0 if style == "wavy" else 30.0,
                                            "Seed": seed, "Preserve Length": True})
    _add(obj, groups, "Shrinkwrap Hair Curves", {"Surface:NodeSocketObject": body_obj,
                                                 "Offset Distance": HEAD_CLEARANCE})
    _add(obj, groups, "Set Hair Curve Profile", {"Radius": hair["radius"], "Shape": 0.3})
    return obj
