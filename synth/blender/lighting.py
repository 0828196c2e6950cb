"""Build the light of a scene in Blender from the spec of ``synth.lighting.sample_lighting``.

bpy, numpy and the standard library only (this also runs inside a Blender binary's Python).
"""

from __future__ import annotations

import math
import os

import bpy
import numpy as np

WORLD_NAME = "SynthWorld"
GROUND_NAME = "Ground"
WORLD_MAP_RESOLUTION = 2048
# mean radiance of an HDRI, per (path, size, mtime): computed once per Blender session
_MEAN_RADIANCE: dict[tuple[str, int, int], float] = {}


def apply_lighting(spec: dict, scene: bpy.types.Scene | None = None) -> dict:
    """Set the world (HDRI or sky) and the optional ground of ``scene``; return what was used.

    The returned dict is the spec plus the values Blender settled (``world_strength``, the HDRI's
    ``mean_radiance``, ``view_transform``) and ``ground_object``: the name of the ground object,
    or None, for the caller to treat like an occluder in the proxy pass.
    """
    scene = scene or bpy.context.scene
    world = bpy.data.worlds.get(WORLD_NAME) or bpy.data.worlds.new(WORLD_NAME)
    scene.world = world
    nodes, links = world.node_tree.nodes, world.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputWorld")
    background = nodes.new("ShaderNodeBackground")
    links.new(background.outputs["Background"], out.inputs["Surface"])
    record = dict(spec)
    source = spec.get("source")
    if source == "hdri":
        texture, strength, mean = _hdri_nodes(nodes, links, spec)
        record["mean_radiance"] = mean
    elif source == "sky":
        texture, strength = _sky_nodes(nodes, spec), float(spec["strength"])
    else:
        raise ValueError(f"lighting spec field 'source': 'hdri' or 'sky', got {source!r}")
    links.new(texture.outputs["Color"], background.inputs["Color"])
    background.inputs["Strength"].default_value = strength
    record["world_strength"] = strength
    # The world's importance map is rebuilt at every render call. CPU seconds per call (256 px,
    # 16 samples, 1K HDRI, Blender 5.0.1): automatic 3.9 (it behaves like 4096), 4096 3.9, 2048 2.7,
    # 1024 2.3 but with fireflies from the small suns of city/interior/sunrise. 0 = automatic.
    resolution = int(spec.get("world_map_resolution", WORLD_MAP_RESOLUTION))
    world.cycles.sampling_method = "MANUAL" if resolution > 0 else "AUTOMATIC"
    if resolution > 0:
        world.cycles.sample_map_resolution = resolution
    record["world_map_resolution"] = resolution
    # AgX with no look and no exposure offset: the strength ranges were tuned for it
    scene.view_settings.view_transform = "AgX"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    record["view_transform"] = "AgX"
    record["ground_object"] = apply_ground(spec.get("ground", {"enabled": False}), scene)
    return record


def _hdri_nodes(nodes, links, spec: dict):
    path = spec["hdri"]["path"]
    image = load_hdri(path)
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, float(spec["rotation_z_rad"]))
    texture = nodes.new("ShaderNodeTexEnvironment")
    texture.image = image
    links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
    mean = hdri_mean_radiance(image)
    strength = 2.0 ** float(spec["exposure_ev"])
    if spec.get("normalize", True):
        strength *= float(spec["target_luminance"]) / max(mean, 1e-4)
    return texture, strength, mean


def load_hdri(path: str) -> bpy.types.Image:
    """Load an HDRI once per Blender session (reused by every later scene); ValueError naming the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: HDRI file not found (lighting spec field 'hdri.path')")
    try:
        image = bpy.data.images.load(path, check_existing=True)
    except RuntimeError as e:
        raise ValueError(f"{path}: Blender cannot read this HDRI ({e})") from e
    if image.size[0] == 0 or image.size[1] == 0:
        raise ValueError(f"{path}: Blender read an empty image (corrupt HDRI?)")
    image.colorspace_settings.name = "Linear Rec.709"
    return image


def hdri_mean_radiance(image: bpy.types.Image) -> float:
    """Mean luminance of an equirectangular image over the sphere (rows weighted by cos(latitude))."""
    path = bpy.path.abspath(image.filepath)
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _MEAN_RADIANCE:
        w, h = image.size
        px = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(px)
        px = px.reshape(h, w, 4)
        luminance = px[..., :3] @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        lat = (np.arange(h) + 0.5) / h * math.pi - math.pi / 2
        weight = np.cos(lat)
        mean = float((luminance.mean(axis=1) * weight).sum() / weight.sum())
        if not math.isfinite(mean):
            raise ValueError(f"{path}: HDRI has non-finite pixels")
        _MEAN_RADIANCE[key] = mean
    return _MEAN_RADIANCE[key]


def _sky_nodes(nodes, spec: dict):
    sky = spec["sky"]
    node = nodes.new("ShaderNodeTexSky")
    node.sky_type = _sky_type(sky["model"])
    node.sun_disc = True
    node.sun_size = float(sky["sun_size_rad"])
    node.sun_elevation = float(sky["sun_elevation_rad"])
    node.sun_rotation = float(sky["sun_azimuth_rad"])
    node.altitude = float(sky["altitude_m"])
    node.air_density = float(sky["air_density"])
    node.ozone_density = float(sky["ozone_density"])
    # Blender 5 renamed dust_density to aerosol_density
    setattr(node, "aerosol_density" if hasattr(node, "aerosol_density") else "dust_density",
            float(sky["aerosol_density"]))
    return node


def _sky_type(model: str) -> str:
    """Blender 5 names the Nishita model SINGLE_SCATTERING and adds MULTIPLE_SCATTERING; older ones say NISHITA."""
    allowed = {e.identifier for e in bpy.types.ShaderNodeTexSky.bl_rna.properties["sky_type"].enum_items}
    wanted = {"multiple_scattering": "MULTIPLE_SCATTERING", "single_scattering": "SINGLE_SCATTERING"}.get(model)
    if wanted is None:
        raise ValueError(f"lighting spec field 'sky.model': 'multiple_scattering' or 'single_scattering', "
                         f"got {model!r}")
    if wanted in allowed:
        return wanted
    if "NISHITA" in allowed:
        return "NISHITA"
    raise ValueError(f"this Blender has no physical sky model (sky_type options {sorted(allowed)})")


# ---------------------------------------------------------------- ground


def apply_ground(ground: dict, scene: bpy.types.Scene) -> str | None:
    """A large plane at z=0 with a procedural material; removes the previous one. Returns its name or None."""
    old = bpy.data.objects.get(GROUND_NAME)
    if old is not None:
        mesh = old.data
        bpy.data.objects.remove(old)
        if mesh.users == 0:
            bpy.data.meshes.remove(mesh)
    if not ground.get("enabled"):
        return None
    half = float(ground["size_m"]) / 2
    mesh = bpy.data.meshes.new(GROUND_NAME)
    mesh.from_pydata([(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)], [],
                     [(0, 1, 2, 3)])
    mesh.materials.append(_ground_material(ground))
    obj = bpy.data.objects.new(GROUND_NAME, mesh)
    scene.collection.objects.link(obj)
    return obj.name


def _ground_material(ground: dict) -> bpy.types.Material:
    mat = bpy.data.materials.get("SynthGround") or bpy.data.materials.new("SynthGround")
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    links.new(bsdf.outputs["BSDF"], out.inputs["Surface"])
    bsdf.inputs["Roughness"].default_value = float(ground["roughness"])
    color1, color2 = (*ground["color"], 1.0), (*ground["color2"], 1.0)
    texture = ground.get("texture", "none")
    if texture == "none":
        bsdf.inputs["Base Color"].default_value = color1
        return mat
    coords = nodes.new("ShaderNodeTexCoord")  # Object coordinates: metres on the plane
    if texture in ("checker", "bricks"):
        node = nodes.new("ShaderNodeTexChecker" if texture == "checker" else "ShaderNodeTexBrick")
        node.inputs["Color1"].default_value = color1
        node.inputs["Color2"].default_value = color2
        if texture == "bricks":
            node.inputs["Mortar"].default_value = tuple(0.5 * c for c in color2[:3]) + (1.0,)
        node.inputs["Scale"].default_value = float(ground["texture_scale"])
        links.new(coords.outputs["Object"], node.inputs["Vector"])
        links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
        return mat
    if texture not in ("noise", "voronoi"):
        raise ValueError(f"lighting spec field 'ground.texture': unknown texture {texture!r}")
    node = nodes.new("ShaderNodeTexNoise" if texture == "noise" else "ShaderNodeTexVoronoi")
    node.inputs["Scale"].default_value = float(ground["texture_scale"])
    links.new(coords.outputs["Object"], node.inputs["Vector"])
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    _socket(mix.inputs, "A_Color").default_value = color1
    _socket(mix.inputs, "B_Color").default_value = color2
    factor = node.outputs["Factor" if texture == "noise" else "Distance"]
    links.new(factor, _socket(mix.inputs, "Factor_Float"))
    links.new(_socket(mix.outputs, "Result_Color"), bsdf.inputs["Base Color"])
    return mat


def _socket(sockets, identifier: str):
    for s in sockets:
        if s.identifier == identifier:
            return s
    raise ValueError(f"node socket {identifier!r} not found (Blender version?)")
