"""Occluder placement: 0-3 objects per scene standing between a camera and the subject or
touching the subject, plus a seat under a sitting subject. Pure numpy; the Blender side
(synth/blender/occluders.py) builds each kind from primitives inside the sampled box.

An occluder is an oriented box on the ground (``location`` is the centre of its footprint at
floor level, ``size`` its width/depth/height, ``yaw`` its rotation about Z). It must not
contain a body vertex or come near a camera; the proxy pass records how much of the body
it hides in each view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.errors import InputError

# kind -> ((width range), (depth range), (height range)) in metres
SIZES = {
    "box": ((0.3, 0.9), (0.3, 0.9), (0.3, 1.2)),
    "chair": ((0.42, 0.55), (0.42, 0.55), (0.8, 1.0)),
    "table": ((0.8, 1.6), (0.6, 0.9), (0.7, 0.78)),
    "pole": ((0.06, 0.16), (0.06, 0.16), (1.4, 2.4)),
    "plant": ((0.3, 0.6), (0.3, 0.6), (0.6, 1.6)),
    "panel": ((0.6, 1.4), (0.04, 0.08), (0.8, 1.8)),
}


@dataclass
class OccluderConfig:
    count: tuple[int, int] = (0, 3)  # inclusive range of random occluders per scene
    kind_weights: dict[str, float] = field(default_factory=lambda: {
        "box": 1.0, "chair": 1.0, "table": 0.7, "pole": 0.8, "plant": 1.0, "panel": 0.6})
    between_share: float = 0.6  # placed between a camera and the subject (else touching it)
    mesh_asset_share: float = 0.3  # share of occluders that use an installed mesh asset, if any
    max_view_occlusion: float = 0.6  # an occluder hides at most this share of the body in any view
    seat_for_sitting: bool = True

    def check(self) -> None:
        lo, hi = self.count
        if not 0 <= lo <= hi:
            raise InputError(f"occluders.count: expected 0 <= low <= high, got {self.count}")
        unknown = sorted(set(self.kind_weights) - set(SIZES))
        if unknown:
            raise InputError(f"occluders.kind_weights: unknown kind '{unknown[0]}' (known: {', '.join(SIZES)})")
        if sum(self.kind_weights.values()) <= 0:
            raise InputError("occluders.kind_weights: weights must sum to a positive number")


def sample_occluders(rng: np.random.Generator, cfg: OccluderConfig, vertices: np.ndarray,
                     camera_centers: np.ndarray, mesh_assets: list[dict] = ()) -> list[dict]:
    """vertices: (V, 3) posed body in the world; camera_centers: (N, 3)."""
    cfg.check()
    kinds = sorted(k for k, w in cfg.kind_weights.items() if w > 0)
    p = np.array([cfg.kind_weights[k] for k in kinds], dtype=np.float64)
    n = int(rng.integers(cfg.count[0], cfg.count[1] + 1))
    center = vertices.mean(axis=0)
    placed: list[dict] = []
    for _ in range(n):
        kind = kinds[rng.choice(len(kinds), p=p / p.sum())]
        asset = None
        if mesh_assets and rng.random() < cfg.mesh_asset_share:
            asset = mesh_assets[int(rng.integers(len(mesh_assets)))]
        for _attempt in range(20):
            size = np.array([rng.uniform(*r) for r in SIZES[kind]])
            if kind == "pole":
                size[1] = size[0]
            yaw = float(rng.uniform(0, 2 * math.pi))
            if rng.random() < cfg.between_share:
                cam = camera_centers[int(rng.integers(len(camera_centers)))]
                xy = cam[:2] + rng.uniform(0.3, 0.7) * (center[:2] - cam[:2])
                placement = "between"
            else:
                phi = rng.uniform(0, 2 * math.pi)
                d = np.array([math.cos(phi), math.sin(phi)])
                reach = float(np.max((vertices[:, :2] - center[:2]) @ d))
                xy = center[:2] + d * (reach + 0.5 * _extent_along(size, yaw, d) + rng.uniform(0.0, 0.03))
                placement = "touching"
            spec = {"kind": kind, "placement": placement, "location": [float(xy[0]), float(xy[1]), 0.0],
                    "size": size.tolist(), "yaw": yaw, "material": _material(rng),
                    "seed": int(rng.integers(2**31))}
            if asset is not None:
                spec["asset"] = {"id": asset["id"], "path": str(asset["path"])}
            if _fits(spec, vertices, camera_centers, placed) and \
                    max_view_occlusion(spec, vertices[::25], camera_centers) <= cfg.max_view_occlusion:
                placed.append(spec)
                break
    return placed


def sample_seat(rng: np.random.Generator, vertices: np.ndarray, pelvis: np.ndarray, knees: np.ndarray,
                camera_centers: np.ndarray) -> dict | None:
    """A box (stool, bench) under a sitting subject: the highest-topped of a few footprints
    under the buttocks, reaching toward the knees, whose top lies just below every body
    vertex above it. None when no footprint clears 25 cm."""
    forward = knees[:2] - pelvis[:2]
    forward = forward / max(np.linalg.norm(forward), 1e-6)
    yaw = math.atan2(forward[1], forward[0])
    candidates = []
    for size in (0.45, 0.38, 0.3, 0.24):
        for reach in (0.0, 0.05, 0.1):
            c = pelvis[:2] + forward * reach
            probe = {"location": [float(c[0]), float(c[1]), 0.0], "size": [size, size, 10.0], "yaw": yaw}
            over = box_contains(probe, vertices, 0.01)
            top = float(vertices[over, 2].min()) - 0.012 if over.any() else 0.0
            if top >= 0.25:
                candidates.append((top, size, probe["location"]))
    best = None
    if candidates:  # the widest seat whose top is within 3 cm of the highest one
        highest = max(c[0] for c in candidates)
        top, size, location = max((c for c in candidates if c[0] >= highest - 0.03), key=lambda c: (c[1], c[0]))
        best = {"kind": "box", "placement": "seat", "location": location, "size": [size, size, top], "yaw": yaw,
                "material": _material(rng), "seed": 0}
    if best is None or not _fits(best, vertices, camera_centers, []):
        return None
    return best


def max_view_occlusion(spec: dict, points: np.ndarray, cameras: np.ndarray) -> float:
    """The largest share of ``points`` whose sight line to a camera crosses the occluder's
    box (slab test in the box frame): a cheap stand-in for the occluded body fraction."""
    c = np.asarray(spec["location"])
    cos, sin = math.cos(spec["yaw"]), math.sin(spec["yaw"])
    to_local = np.array([[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]])
    half = np.asarray(spec["size"]) / 2
    lo, hi = -half, half
    p = (points - c - [0, 0, half[2]]) @ to_local.T
    worst = 0.0
    for cam in cameras:
        o = (cam - c - [0, 0, half[2]]) @ to_local.T
        d = p - o  # segment camera -> point, t in [0, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (lo - o) / d, (hi - o) / d
        t_near = np.nanmax(np.minimum(t1, t2), axis=1)
        t_far = np.nanmin(np.maximum(t1, t2), axis=1)
        blocked = (t_near <= t_far) & (t_far > 0) & (t_near < 1)
        worst = max(worst, float(blocked.mean()))
    return worst


def _extent_along(size: np.ndarray, yaw: float, d: np.ndarray) -> float:
    ax = np.array([math.cos(yaw), math.sin(yaw)])
    ay = np.array([-ax[1], ax[0]])
    return float(abs(ax @ d) * size[0] + abs(ay @ d) * size[1])


def box_contains(spec: dict, points: np.ndarray, margin: float) -> np.ndarray:
    """Which points lie inside the occluder's oriented box grown by ``margin``."""
    c = np.asarray(spec["location"])
    yaw = spec["yaw"]
    R = np.array([[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]])
    local = (points[:, :2] - c[:2]) @ R
    half = np.asarray(spec["size"][:2]) / 2 + margin
    return (np.abs(local) <= half).all(axis=1) & (points[:, 2] <= spec["size"][2] + margin) & \
        (points[:, 2] >= -margin)


def _fits(spec: dict, vertices: np.ndarray, cameras: np.ndarray, placed: list[dict]) -> bool:
    if box_contains(spec, vertices, 0.01).any() or box_contains(spec, cameras, 0.3).any():
        return False
    c = np.asarray(spec["location"][:2])
    r = 0.5 * math.hypot(*spec["size"][:2])
    return all(np.linalg.norm(c - np.asarray(o["location"][:2])) > r + 0.5 * math.hypot(*o["size"][:2])
               for o in placed)


def _material(rng: np.random.Generator) -> dict:
    return {"color": rng.uniform(0.05, 0.85, size=3).tolist(), "roughness": float(rng.uniform(0.2, 0.9)),
            "pattern": ["plain", "noise", "stripes"][int(rng.integers(3))],
            "pattern_scale": float(rng.uniform(2, 12))}
