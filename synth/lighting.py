"""Light for a scene: an HDRI (Blender's 8 built-in ones or installed ones) or a physical sky, and
an optional ground plane. :func:`sample_lighting` draws the spec; ``synth/blender/lighting.py``
builds it.

Exposure is normalised, like a camera's auto-exposure: Blender scales each HDRI so that its mean
radiance over the sphere equals ``hdri_target_luminance`` (without it the built-in "night" HDRI is
five times darker than the others), and the sky's strength is raised for a low sun. The sampled
``exposure_ev`` varies it on top. Measured on a grey sphere (albedo 0.5): every built-in HDRI
lights it to a linear mean of 0.30-0.39, and the sky (sun above 25 deg) to ~0.35 at the default
``sky_base_strength``.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math

import numpy as np

from engine.errors import InputError

GROUND_TEXTURES = ("none", "noise", "checker", "bricks", "voronoi")
SKY_MODELS = ("multiple_scattering", "single_scattering")


@dataclasses.dataclass
class LightingConfig:
    hdri_share: float = 0.75  # the rest is sky
    exposure_ev: tuple[float, float] = (-0.75, 0.75)  # on top of the normalisation, HDRI and sky alike
    hdri_normalize: bool = True
    hdri_target_luminance: float = 0.6  # mean radiance the normalisation aims at (Blender units)
    hdri_rotation_deg: tuple[float, float] = (0.0, 360.0)
    world_map_resolution: int = 2048  # Cycles' importance map of the world; 0 = Cycles' automatic size
    sky_models: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"multiple_scattering": 0.7, "single_scattering": 0.3})
    # Background strength of a sky with a high sun that lights a grey object as brightly as a
    # normalised HDRI does (measured: 0.035 vs hdri_target_luminance 0.6, AgX, Blender 5.0)
    sky_base_strength: float = 0.035
    sky_low_sun_compensation: float = 0.75  # 0: a low sun is as dark as it is; 1: full auto-exposure
    sky_sun_elevation_deg: tuple[float, float] = (5.0, 70.0)
    sky_sun_azimuth_deg: tuple[float, float] = (0.0, 360.0)
    sky_sun_size_deg: tuple[float, float] = (0.5, 4.0)  # bigger suns give softer shadows
    sky_altitude_m: tuple[float, float] = (0.0, 1500.0)
    sky_air_density: tuple[float, float] = (0.5, 2.0)
    sky_aerosol_density: tuple[float, float] = (0.0, 3.0)  # "dust" before Blender 5
    sky_ozone_density: tuple[float, float] = (0.5, 3.0)
    ground_probability: float = 0.6  # with an HDRI (which shows its own ground far away)
    sky_ground_probability: float = 0.9  # with a sky: without a ground it looks like a void below the horizon
    ground_textures: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"none": 0.3, "noise": 0.25, "checker": 0.15, "bricks": 0.15, "voronoi": 0.15})
    ground_value: tuple[float, float] = (0.05, 0.6)  # HSV value of the ground colour (linear-ish albedo)
    ground_saturation: tuple[float, float] = (0.0, 0.45)
    ground_roughness: tuple[float, float] = (0.35, 1.0)
    ground_texture_scale: tuple[float, float] = (0.3, 3.0)  # pattern repeats per metre
    ground_size_m: float = 60.0


def check_lighting_config(cfg: LightingConfig) -> None:
    """Raise :class:`InputError` naming the first bad field."""
    for name in ("hdri_share", "ground_probability", "sky_ground_probability"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise InputError(f"LightingConfig.{name}: a probability in [0, 1], got {getattr(cfg, name)}")
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if isinstance(value, tuple):
            if len(value) != 2 or not all(math.isfinite(v) for v in value) or value[0] > value[1]:
                raise InputError(f"LightingConfig.{field.name}: a range (low, high) with low <= high, got {value}")
    for name, allowed in (("sky_models", SKY_MODELS), ("ground_textures", GROUND_TEXTURES)):
        weights = getattr(cfg, name)
        unknown = set(weights) - set(allowed)
        if unknown:
            raise InputError(f"LightingConfig.{name}: unknown key(s) {sorted(unknown)}; allowed: {list(allowed)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InputError(f"LightingConfig.{name}: weights >= 0 with a positive sum, got {weights}")
    if cfg.world_map_resolution < 0:
        raise InputError(f"LightingConfig.world_map_resolution: >= 0 (0: automatic), got {cfg.world_map_resolution}")
    for name in ("hdri_target_luminance", "sky_base_strength", "ground_size_m"):
        if not getattr(cfg, name) > 0:
            raise InputError(f"LightingConfig.{name}: a positive number, got {getattr(cfg, name)}")
    if not 0.0 <= cfg.sky_low_sun_compensation <= 1.0:
        raise InputError(f"LightingConfig.sky_low_sun_compensation: in [0, 1], got {cfg.sky_low_sun_compensation}")


def sample_lighting(rng: np.random.Generator, cfg: LightingConfig, hdris: list[dict]) -> dict:
    """A JSON-able lighting spec. ``hdris``: dicts with at least ``id`` and ``path`` (e.g.
    ``ResolvedAsset.to_dict()`` from ``AssetStore.resolve("hdri")``); their order does not matter."""
    check_lighting_config(cfg)
    use_hdri = bool(rng.random() < cfg.hdri_share)
    if use_hdri and not hdris:
        raise InputError("hdris: empty list, but LightingConfig.hdri_share > 0 asks for HDRIs "
                         "(is Blender's datafiles folder found? see synth.assets.blender_datafiles_dir)")
    if use_hdri:
        pool = sorted(hdris, key=lambda h: h["id"])
        hdri = pool[int(rng.integers(len(pool)))]
        light = {
            "source": "hdri",
            "hdri": {k: hdri[k] for k in ("id", "path", "sha256") if k in hdri},
            "rotation_z_rad": math.radians(_uniform(rng, cfg.hdri_rotation_deg)),
            "exposure_ev": _uniform(rng, cfg.exposure_ev),
            "normalize": bool(cfg.hdri_normalize),
            "target_luminance": float(cfg.hdri_target_luminance),
        }
    else:
        elevation_deg = _uniform(rng, cfg.sky_sun_elevation_deg)
        exposure_ev = _uniform(rng, cfg.exposure_ev)
        gain = sky_elevation_gain(elevation_deg) ** cfg.sky_low_sun_compensation
        light = {
            "source": "sky",
            "sky": {
                "model": _choice(rng, cfg.sky_models),
                "sun_elevation_rad": math.radians(elevation_deg),
                "sun_azimuth_rad": math.radians(_uniform(rng, cfg.sky_sun_azimuth_deg)),
                "sun_size_rad": math.radians(_uniform(rng, cfg.sky_sun_size_deg)),
                "altitude_m": _uniform(rng, cfg.sky_altitude_m),
                "air_density": _uniform(rng, cfg.sky_air_density),
                "aerosol_density": _uniform(rng, cfg.sky_aerosol_density),
                "ozone_density": _uniform(rng, cfg.sky_ozone_density),
            },
            "exposure_ev": exposure_ev,
            "strength": cfg.sky_base_strength * gain * 2.0 ** exposure_ev,
        }
    light["world_map_resolution"] = int(cfg.world_map_resolution)
    light["ground"] = _sample_ground(rng, cfg, cfg.ground_probability if use_hdri else cfg.sky_ground_probability)
    return light


# Light on a grey sphere under the multiple-scattering sky, relative to a high sun (mean of a
# front-lit and a back-lit view; single scattering follows within 10 %). Measured in Blender 5.0.1.
_SKY_ELEVATION_DEG = (0.0, 3.0, 8.0, 15.0, 25.0, 40.0, 90.0)
_SKY_RELATIVE_LIGHT = (0.12, 0.23, 0.55, 0.80, 0.96, 1.0, 1.0)


def sky_elevation_gain(elevation_deg: float) -> float:
    """How much to raise the sky's strength so a low sun lights the scene like a high one."""
    return 1.0 / float(np.interp(elevation_deg, _SKY_ELEVATION_DEG, _SKY_RELATIVE_LIGHT))


def _sample_ground(rng: np.random.Generator, cfg: LightingConfig, probability: float) -> dict:
    # always draw the same numbers, so turning the ground off does not shift later draws
    enabled = bool(rng.random() < probability)
    hue = float(rng.random())
    colors = [_hsv_to_rgb(hue + 0.08 * float(rng.standard_normal()),
                          _uniform(rng, cfg.ground_saturation), _uniform(rng, cfg.ground_value)) for _ in range(2)]
    ground = {
        "enabled": enabled,
        "texture": _choice(rng, cfg.ground_textures),
        "color": colors[0],
        "color2": colors[1],
        "roughness": _uniform(rng, cfg.ground_roughness),
        "texture_scale": _uniform(rng, cfg.ground_texture_scale),
        "size_m": float(cfg.ground_size_m),
    }
    return ground


def _uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = sorted(weights)  # sorted: the draw must not depend on the dict's insertion order
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _hsv_to_rgb(h: float, s: float, v: float) -> list[float]:
    return [float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v)]
