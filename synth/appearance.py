"""Appearance of a subject, engine side: the config, the sampler and per-vertex helper arrays.

``sample_appearance`` draws a JSON-able spec (skin, garments, hair) that the Blender side
(``synth.blender.appearance.apply_appearance``) turns into materials and objects; the spec
alone determines the result. ``body_arrays`` computes, once per body model from its REST
mesh, the per-vertex arrays the Blender side needs to place garments and hair on any posed
body of that model: where the scalp is, where a vertex lies along its limb, and rest-pose
positions for textures that follow the skin when the body moves.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.errors import InputError
from engine.proxy.parts import PART_ID
from synth.checks import check_number, check_range, check_weights

# Monk Skin Tone scale (sRGB hex, Google, CC-BY 4.0): pale (1) to very dark (10).
MONK_SKIN_TONES = ("f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96", "a07e56", "825c43", "604134", "3a312a",
                   "292420")
GARMENT_PATTERNS = ("solid", "stripes", "checker", "camo", "heather")
HAIR_LENGTHS = ("buzz", "short", "medium", "long")
HAIR_STYLES = ("straight", "wavy", "curly", "clumped", "frizzy")
# Pose families in which the legs hang down, so that a skirt around the legs makes sense.
UPRIGHT_FAMILIES = ("standing", "walking", "reaching", "arms_raised")


@dataclass
class AppearanceConfig:
    """Ranges (low, high) and probabilities of the appearance sampler."""

    skin_tone: tuple[float, float] = (0.0, 1.0)  # position on the Monk scale, 0 pale .. 1 very dark
    skin_roughness: tuple[float, float] = (0.35, 0.6)
    skin_subsurface: tuple[float, float] = (0.05, 0.2)
    skin_noise: tuple[float, float] = (0.03, 0.12)  # strength of the blotchy tone variation
    p_top: float = 0.9
    top_sleeves: dict[str, float] = field(default_factory=lambda: {"none": 0.2, "short": 0.45, "long": 0.35})
    bottoms: dict[str, float] = field(default_factory=lambda: {"trousers": 0.45, "shorts": 0.2, "skirt": 0.15,
                                                                "dress": 0.2})
    loose_families: tuple[str, ...] = UPRIGHT_FAMILIES  # skirts and dresses only for these pose families
    patterns: dict[str, float] = field(default_factory=lambda: {"solid": 0.4, "stripes": 0.2, "checker": 0.1,
                                                                 "camo": 0.15, "heather": 0.15})
    garment_offset: tuple[float, float] = (0.004, 0.007)  # m, outward from the skin
    garment_thickness: tuple[float, float] = (0.002, 0.004)  # m
    garment_roughness: tuple[float, float] = (0.55, 0.95)
    p_hair: float = 0.85  # the rest are bald
    hair_lengths: dict[str, float] = field(default_factory=lambda: {"buzz": 0.1, "short": 0.35, "medium": 0.3,
                                                                     "long": 0.25})
    hair_styles: dict[str, float] = field(default_factory=lambda: {"straight": 0.35, "wavy": 0.2, "curly": 0.15,
                                                                    "clumped": 0.15, "frizzy": 0.15})
    hair_density: tuple[float, float] = (0.7, 1.0)  # share of the full strand count
    hair_strands: int = 3000  # strands at density 1 (render cost grows with it)
    hair_melanin: tuple[float, float] = (0.05, 1.0)  # 0 blond .. 1 black
    hair_redness: tuple[float, float] = (0.0, 0.6)
    hair_roughness: tuple[float, float] = (0.25, 0.45)
    p_grey_hair: float = 0.08

    def check(self) -> None:
        for name in ("skin_tone", "skin_roughness", "skin_subsurface", "skin_noise", "garment_roughness",
                     "hair_density", "hair_melanin", "hair_redness", "hair_roughness"):
            check_range(f"appearance.{name}", getattr(self, name), 0.0, 1.0)
        for name in ("garment_offset", "garment_thickness"):
            check_range(f"appearance.{name}", getattr(self, name), 0.0)
        for name in ("p_top", "p_hair", "p_grey_hair"):
            check_number(f"appearance.{name}", getattr(self, name), 0.0, 1.0)
        for name, allowed in (("top_sleeves", ("none", "short", "long")), ("patterns", GARMENT_PATTERNS),
                              ("bottoms", ("trousers", "shorts", "skirt", "dress")), ("hair_lengths", HAIR_LENGTHS),
                              ("hair_styles", HAIR_STYLES)):
            check_weights(f"appearance.{name}", getattr(self, name), allowed)
        if self.hair_strands < 0:
            raise InputError(f"appearance.hair_strands: expected >= 0, got {self.hair_strands}")


# Length of each class (m, range) and how fast the strands bend toward gravity.
_HAIR_LENGTH_M = {"buzz": (0.008, 0.015), "short": (0.03, 0.07), "medium": (0.12, 0.22), "long": (0.3, 0.5)}


def _f(x) -> float:
    return float(round(float(x), 6))


def _uniform(rng: np.random.Generator, rng_range: tuple[float, float]) -> float:
    return _f(rng.uniform(rng_range[0], rng_range[1]))


def _choice(rng: np.random.Generator, weights: dict[str, float], name: str) -> str:
    keys = sorted(weights)  # a fixed order, whatever the dict's insertion order
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    if len(keys) == 0 or (p < 0).any() or p.sum() <= 0:
        raise InputError(f"AppearanceConfig.{name}: expected non-negative weights with a positive sum, got {weights}")
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def skin_color(tone: float) -> list[float]:
    """Linear RGB of a position ``tone`` in [0, 1] along the Monk scale (piecewise linear in sRGB)."""
    table = np.array([[int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)] for h in MONK_SKIN_TONES])
    x = float(np.clip(tone, 0, 1)) * (len(table) - 1)
    i = min(int(x), len(table) - 2)
    srgb = table[i] * (1 - (x - i)) + table[i + 1] * (x - i)
    return [_f(c) for c in _srgb_to_linear(srgb)]


def _random_color(rng: np.random.Generator) -> list[float]:
    """A garment colour: any hue; muted, vivid, dark or light."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0, 1) ** 0.8, rng.uniform(0.08, 0.95)
    if rng.uniform() < 0.2:  # greys, black, white
        s = rng.uniform(0, 0.08)
    return [_f(c) for c in _srgb_to_linear(np.array(colorsys.hsv_to_rgb(h, s, v)))]


def _sample_skin(rng: np.random.Generator, cfg: AppearanceConfig) -> dict:
    tone = _uniform(rng, cfg.skin_tone)
    base = np.array(skin_color(tone)) * rng.uniform(0.92, 1.08, size=3)  # slight hue jitter
    return {"tone": tone, "base_color": [_f(c) for c in np.clip(base, 0, 1)],
            "roughness": _uniform(rng, cfg.skin_roughness), "subsurface": _uniform(rng, cfg.skin_subsurface),
            "noise": _uniform(rng, cfg.skin_noise), "noise_scale": _uniform(rng, (20.0, 60.0)),
            "iris_color": _random_iris(rng)}


def _random_iris(rng: np.random.Generator) -> list[float]:
    irises = ([0.02, 0.01, 0.005], [0.05, 0.025, 0.01], [0.04, 0.07, 0.1], [0.05, 0.07, 0.03], [0.08, 0.06, 0.03])
    return list(irises[int(rng.integers(len(irises)))])


def _sample_material(rng: np.random.Generator, cfg: AppearanceConfig) -> dict:
    return {"pattern": _choice(rng, cfg.patterns, "patterns"), "color": _random_color(rng),
            "color2": _random_color(rng), "color3": _random_color(rng),
            "pattern_scale": _uniform(rng, (8.0, 30.0)),  # repeats per metre of the rest body
            "roughness": _uniform(rng, cfg.garment_roughness), "seed": _seed(rng)}


def _sample_garment(rng: np.random.Generator, cfg: AppearanceConfig, kind: str, layer: int) -> dict:
    """``layer`` orders the tight garments outward (a top is worn over the trousers)."""
    g = {"type": kind, "offset": _f(_uniform(rng, cfg.garment_offset) + 0.004 * layer),
         "thickness": _uniform(rng, cfg.garment_thickness), "material": _sample_material(rng, cfg)}
    # Where a garment ends is a coordinate along the limb (see body_arrays): arms 0 shoulder,
    # 1 elbow, 2 wrist; legs 0 hip, 1 knee, 2 ankle; torso 0 hip height, 1 shoulder height.
    if kind == "top":
        sleeve = _choice(rng, cfg.top_sleeves, "top_sleeves")
        g["sleeve"] = {"none": -1.0, "short": _uniform(rng, (0.25, 0.6)), "long": _uniform(rng, (1.8, 1.95))}[sleeve]
        g["hem"] = _uniform(rng, (-0.05, 0.25))
    elif kind in ("trousers", "shorts"):
        g["waist"] = _uniform(rng, (0.2, 0.32))
        g["hem"] = _uniform(rng, (1.75, 1.95)) if kind == "trousers" else _uniform(rng, (0.25, 0.75))
    elif kind in ("skirt", "dress"):
        g["waist"] = _uniform(rng, (0.2, 0.3))
        g["hem"] = _uniform(rng, (0.45, 1.5))  # leg coordinate of the hem
        g["flare"] = _uniform(rng, (0.05, 0.35))  # extra radius per metre below the hips
        g["margin"] = _uniform(rng, (0.015, 0.03))  # m of air around the legs
        if kind == "dress":
            g["sleeve"] = {0: -1.0, 1: _uniform(rng, (0.2, 0.5))}[int(rng.integers(2))]
    else:
        raise InputError(f"garment type '{kind}' unknown")
    return g


def _sample_hair(rng: np.random.Generator, cfg: AppearanceConfig) -> dict:
    length_class = _choice(rng, cfg.hair_lengths, "hair_lengths")
    style = _choice(rng, cfg.hair_styles, "hair_styles") if length_class in ("medium", "long") else "straight"
    if length_class == "short" and rng.uniform() < 0.4:
        style = _choice(rng, {"curly": 0.5, "frizzy": 0.5}, "hair_styles")
    grey = bool(rng.uniform() < cfg.p_grey_hair)
    # curly and frizzy strands are longer on screen and denser: fewer, thicker ones cost the same
    coarse = 0.5 if style in ("curly", "frizzy") else 1.0
    return {
        "length_class": length_class, "length": _uniform(rng, _HAIR_LENGTH_M[length_class]), "style": style,
        "strands": int(round(cfg.hair_strands * coarse * _uniform(rng, cfg.hair_density))),
        "guides": 160 if length_class in ("medium", "long") else 80,
        "stiffness": _uniform(rng, (0.25, 0.6)),  # how long the strands keep the scalp normal before falling
        "part_x": _uniform(rng, (-0.03, 0.03)),  # side parting, m from the midline
        # most people have dark hair: skew the melanin toward its high end
        "melanin": 0.0 if grey else _f(np.interp(rng.uniform() ** 0.5, [0, 1], cfg.hair_melanin)),
        "redness": _uniform(rng, cfg.hair_redness), "roughness": _uniform(rng, cfg.hair_roughness),
        "grey": grey, "radius": _f(_uniform(rng, (0.0004, 0.0007)) / coarse),
        "curl_radius": _uniform(rng, (0.006, 0.02)), "curl_frequency": _uniform(rng, (2.0, 6.0)),
        "clump": _uniform(rng, (0.2, 0.8)), "frizz": _uniform(rng, (0.005, 0.02)),
        "noise": _uniform(rng, (0.002, 0.01)), "seed": _seed(rng),
    }


def sample_appearance(rng: np.random.Generator, cfg: AppearanceConfig, family: str) -> dict:
    """Draw an appearance spec: {"skin": {...}, "garments": [...], "hair": {...} or None}.

    ``family`` is the pose family: skirts and dresses are drawn only for ``cfg.loose_families``.
    """
    skin = _sample_skin(rng, cfg)
    bottoms = dict(cfg.bottoms)
    if family not in cfg.loose_families:
        bottoms = {k: w for k, w in bottoms.items() if k not in ("skirt", "dress")}
    bottom = _choice(rng, bottoms, "bottoms")
    has_top = bool(rng.uniform() < cfg.p_top) or bottom == "skirt"
    garments = [_sample_garment(rng, cfg, bottom, layer=0)]
    if has_top and bottom != "dress":
        top = _sample_garment(rng, cfg, "top", layer=1)  # worn over the trousers' waistband
        top["hem"] = min(top["hem"], _f(garments[0]["waist"] - 0.06))  # no skin between the two
        garments.append(top)
    hair = _sample_hair(rng, cfg) if rng.uniform() < cfg.p_hair else None
    return {"skin": skin, "garments": garments, "hair": hair}


# ---------------------------------------------------------------------------------------------
# Per-vertex arrays from the rest mesh


def _kp(body, rest, name: str) -> np.ndarray:
    return rest.keypoints[0, body.keypoint_names.index(name)].double().cpu().numpy()


def _chain_coordinate(points: np.ndarray, chain: list[np.ndarray]) -> np.ndarray:
    """Coordinate of each point along a polyline of joints: k + t on segment k (projection of
    the point, t in [0, 1]); before the first joint it is negative, past the last > len - 1."""
    best_d = np.full(len(points), np.inf)
    coord = np.zeros(len(points))
    n = len(chain) - 1
    for k in range(n):
        a, b = chain[k], chain[k + 1]
        ab = b - a
        t = (points - a) @ ab / (ab @ ab)
        lo, hi = (-np.inf if k == 0 else 0.0), (np.inf if k == n - 1 else 1.0)
        tc = np.clip(t, lo, hi)
        d = np.linalg.norm(points - (a + tc[:, None] * ab), axis=1)
        better = d < best_d
        best_d[better], coord[better] = d[better], k + tc[better]
    return coord


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


@torch.no_grad()
def body_arrays(body, part_table) -> dict[str, np.ndarray]:
    """Per-vertex arrays for the Blender side, from the body model's rest mesh (default shape).

    - "scalp_weight" (V,) float32 in [0, 1]: where hair grows (head vertices behind a hairline
      that runs over the forehead, above the ears and down to the nape; 0 on the ears).
    - "arm_coord", "leg_coord" (V,) float32: position along the arm (0 shoulder, 1 elbow,
      2 wrist) and the leg (0 hip, 1 knee, 2 ankle) of the vertex's side.
    - "torso_coord" (V,) float32: height, 0 at the hip keypoints and 1 at the shoulders.
    - "rest_co" (V, 3) float32: rest-pose position (texture coordinates that follow the skin).
    - "iris_weight" (V,) float32: 1 on the iris of the eyeballs.
    The arrays depend only on the body model, so they can be computed once and cached.
    """
    rest = body(body.neutral_params(1))
    verts = rest.vertices[0].double().cpu().numpy()
    vpart = part_table.vertex_part.cpu().numpy()
    if len(vpart) != len(verts):
        raise InputError(f"part_table.vertex_part: expected {len(verts)} vertices, got {len(vpart)}")
    kp = {n: _kp(body, rest, n) for n in ("left_ear", "right_ear", "left_eye", "right_eye", "left_shoulder",
                                            "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                                            "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
                                            "left_ankle", "right_ankle")}
    left = verts[:, 0] >= 0  # canonical frame: the body's left is +X
    arm = np.where(left, _chain_coordinate(verts, [kp["left_shoulder"], kp["left_elbow"], kp["left_wrist"]]),
                   _chain_coordinate(verts, [kp["right_shoulder"], kp["right_elbow"], kp["right_wrist"]]))
    leg = np.where(left, _chain_coordinate(verts, [kp["left_hip"], kp["left_knee"], kp["left_ankle"]]),
                   _chain_coordinate(verts, [kp["right_hip"], kp["right_knee"], kp["right_ankle"]]))
    z_hip = (kp["left_hip"][2] + kp["right_hip"][2]) / 2
    z_sh = (kp["left_shoulder"][2] + kp["right_shoulder"][2]) / 2
    torso = (verts[:, 2] - z_hip) / (z_sh - z_hip)
    return {"scalp_weight": _scalp_weight(verts, vpart, kp).astype(np.float32),
            "arm_coord": arm.astype(np.float32), "leg_coord": leg.astype(np.float32),
            "torso_coord": torso.astype(np.float32), "rest_co": verts.astype(np.float32),
            "iris_weight": _iris_weight(verts, vpart).astype(np.float32)}


def _scalp_weight(verts: np.ndarray, vpart: np.ndarray, kp: dict[str, np.ndarray]) -> np.ndarray:
    """Hairline as a height above the ear line that varies with the azimuth around the head:
    high on the forehead, just above the ears on the sides, low at the nape."""
    centre = (kp["left_ear"] + kp["right_ear"]) / 2
    width = np.linalg.norm(kp["left_ear"] - kp["right_ear"])  # sizes relative to the head
    d = verts - centre
    phi = np.arctan2(d[:, 0], -d[:, 1])  # 0 = straight ahead (-Y), pi = back
    # front +0.5 w (forehead), sides +0.27 w (above the ears), back -0.4 w (nape)
    a1 = (0.5 + 0.4) / 2
    a0_plus_a2, a0_minus_a2 = 0.5 - a1, 0.27
    a0, a2 = (a0_plus_a2 + a0_minus_a2) / 2, (a0_plus_a2 - a0_minus_a2) / 2
    hairline = width * (a0 + a1 * np.cos(phi) + a2 * np.cos(2 * phi))
    w = _smoothstep((d[:, 2] - hairline) / (0.1 * width))
    ear_d = np.minimum(np.linalg.norm(verts - kp["left_ear"], axis=1), np.linalg.norm(verts - kp["right_ear"], axis=1))
    w *= _smoothstep((ear_d - 0.22 * width) / (0.1 * width))
    w[vpart != PART_ID["head"]] = 0
    return w


def _iris_weight(verts: np.ndarray, vpart: np.ndarray) -> np.ndarray:
    w = np.zeros(len(verts))
    for part in ("leftEye", "rightEye"):
        sel = vpart == PART_ID[part]
        if not sel.any():
            continue
        p = verts[sel]
        centre = (p.min(0) + p.max(0)) / 2
        radius = (p.max(0) - p.min(0)).max() / 2
        d = (p - centre) / max(radius, 1e-9)
        # the forward (-Y) cap of the eyeball; the pupil, darker, is drawn by the material
        w[sel] = _smoothstep((-d[:, 1] - 0.8) / 0.06)
    return w

