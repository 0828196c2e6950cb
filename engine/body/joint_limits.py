"""A body model's joint limits (``BodyModel.joint_limits()``), shared by the fit and the pose
sampler (``synth.pose``): one module holds both readings of them.

Anatomical ranges (the pose sampler draws and clamps in them). A pose is a dict of
anatomical angles in degrees, ``{joint: (a, b, c)}``, with joint names such as ``"hip_l"``
or ``"lumbar"``. The three numbers are anatomical motions (e.g. hip: flexion, abduction,
internal rotation), the same for the left and the right side. They become one rotation
``Rx(sx*a) @ Ry(sy*b) @ Rz(sz*c)`` about the WORLD axes of the canonical model frame (Z up,
body faces -Y, left is +X) with the body in its anatomical neutral pose (upright, arms
hanging with the elbows straight); right-side joints use the mirror image, ``(x, -y, -z)``.
Limits (per joint, per motion) are in the same anatomical units. Fingers are curls (degrees
at the three joints of each finger, positive toward the palm) plus a spread at the knuckle.
The model-specific part is which bones carry each anatomical joint (``BONES``: a rotation is
split evenly along a chain, and joints sharing a bone compose on it in ``JOINTS`` order) and
each finger (``FINGER_BONES``).

Rotation bounds (the fit's joint-limit prior, ``engine.fitting.priors``): per pose bone, the
largest rotation angle, by bone group (``ROTATION_BOUNDS_DEG``): the spine, neck and head
turn less than limbs, fingers curl less than a full turn. A coarse prior: it bounds how far
each bone turns, not the direction. (Bounds derived from the anatomical ranges instead,
each joint's extreme motions over its bones, are tighter on the spine, neck, head, wrists,
feet and fingers, and move the bundled capture's fit of frames 40-41 by up to 2 mm: the fit
keeps these.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

# joint: (signs (sx, sy, sz), limits ((lo, hi) for a, b, c)), left side, degrees.
# a/b/c per joint: spine, neck, head: flexion forward, bend to the left, twist to the left;
# clavicle: -, elevation, protraction; shoulder and hip: flexion, abduction, internal
# rotation; elbow and knee: flexion; forearm: pronation; wrist: tilt about X and Y of
# the hanging hand; ankle: plantar flexion, inversion, adduction.
ANATOMY: dict[str, tuple[tuple[int, int, int], tuple[tuple[float, float], ...]]] = {
    "lumbar": ((1, 1, 1), ((-25, 60), (-30, 30), (-30, 30))),
    "thoracic": ((1, 1, 1), ((-20, 45), (-25, 25), (-35, 35))),
    "neck": ((1, 1, 1), ((-40, 45), (-30, 30), (-60, 60))),
    "head": ((1, 1, 1), ((-25, 25), (-15, 15), (-20, 20))),
    "clavicle": ((1, -1, -1), ((0, 0), (-10, 30), (-15, 20))),
    "shoulder": ((-1, -1, -1), ((-60, 180), (-30, 180), (-90, 90))),
    "elbow": ((-1, 1, 1), ((0, 150), (0, 0), (0, 0))),
    "forearm": ((1, 1, -1), ((0, 0), (0, 0), (-80, 80))),
    "wrist": ((1, 1, 1), ((-50, 50), (-30, 30), (0, 0))),
    "hip": ((-1, -1, -1), ((-30, 125), (-30, 45), (-45, 45))),
    "knee": ((1, 1, 1), ((0, 150), (0, 0), (0, 0))),
    "ankle": ((1, 1, -1), ((-25, 45), (-20, 20), (-20, 20))),
}
MIDLINE = ("lumbar", "thoracic", "neck", "head")
SIDED = ("clavicle", "shoulder", "elbow", "forearm", "wrist", "hip", "knee", "ankle")
JOINTS: tuple[str, ...] = MIDLINE + tuple(f"{j}_{s}" for j in SIDED for s in ("l", "r"))

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
# Curl limits per phalanx joint (1 = knuckle) and spread limits, degrees.
FINGER_CURL_LIMITS = ((-10.0, 95.0), (0.0, 110.0), (0.0, 80.0))
THUMB_CURL_LIMITS = ((-10.0, 50.0), (-5.0, 60.0), (-10.0, 70.0))
SPREAD_LIMITS = (-10.0, 20.0)


def base_joint(joint: str) -> str:
    return joint[:-2] if joint.endswith(("_l", "_r")) else joint


def limits(joint: str) -> tuple[tuple[float, float], ...]:
    return ANATOMY[base_joint(joint)][1]


# --- per-model tables (Anny, SMPL-X) ---------------------------------------------------
BONES: dict[str, dict[str, tuple[str, ...]]] = {
    "anny": {
        "lumbar": ("spine05", "spine04", "spine03"),
        "thoracic": ("spine02", "spine01"),
        "neck": ("neck01", "neck02", "neck03"),
        "head": ("head",),
        **{f"{j}_{s}": (f"{b}.{s.upper()}",) for s in ("l", "r") for j, b in (
            ("clavicle", "clavicle"), ("shoulder", "upperarm01"), ("elbow", "lowerarm01"),
            ("forearm", "lowerarm02"), ("wrist", "wrist"), ("hip", "upperleg01"),
            ("knee", "lowerleg01"), ("ankle", "foot"))},
    },
    # SMPL-X has no forearm twist bone: pronation is shared by the elbow and the wrist (about
    # the forearm's axis), which spreads the twist over the forearm's skin.
    "smplx": {
        "lumbar": ("spine1",), "thoracic": ("spine2", "spine3"), "neck": ("neck",), "head": ("head",),
        **{f"{j}_{s}": tuple(f"{side}_{b}" for b in bones) for s, side in (("l", "left"), ("r", "right"))
           for j, bones in (("clavicle", ("collar",)), ("shoulder", ("shoulder",)), ("elbow", ("elbow",)),
                            ("forearm", ("elbow", "wrist")), ("wrist", ("wrist",)), ("hip", ("hip",)),
                            ("knee", ("knee",)), ("ankle", ("ankle",)))},
    },
}
# Finger bones per side, thumb to pinky, knuckle to tip.
FINGER_BONES = {"anny": {s: tuple(tuple(f"finger{k}-{j}.{s.upper()}" for j in (1, 2, 3)) for k in range(1, 6))
                         for s in ("l", "r")},
                "smplx": {s: tuple(tuple(f"{side}_{f}{j}" for j in (1, 2, 3)) for f in FINGERS)
                          for s, side in (("l", "left"), ("r", "right"))}}


# The fit's rotation bound per bone group, degrees: (pattern on the lower-case bone name, bound),
# the first that matches; any other bone: DEFAULT_ROTATION_BOUND_DEG. Anny's and SMPL-X's names.
ROTATION_BOUNDS_DEG = (
    (re.compile(r"spine|^neck|^pelvis\.[lr]$"), 40.0),
    (re.compile(r"^head|clavicle|collar|shoulder01"), 60.0),
    (re.compile(r"finger|metacarpal|thumb|index|middle|ring|pinky"), 110.0),
    (re.compile(r"^eye|jaw|^toe"), 30.0),
)
DEFAULT_ROTATION_BOUND_DEG = 160.0


def rotation_bound_deg(bone: str) -> float:
    """The fit's bound on the rotation angle of ``bone`` (degrees)."""
    name = bone.lower()
    return next((deg for pattern, deg in ROTATION_BOUNDS_DEG if pattern.search(name)), DEFAULT_ROTATION_BOUND_DEG)


@dataclass(frozen=True)
class JointLimits:
    """The joint limits of one body model (``model``, its ``pose_joint_names``)."""

    model: str
    pose_joint_names: tuple[str, ...]

    @property
    def bones(self) -> dict[str, tuple[str, ...]] | None:
        """Anatomical joint -> the bones carrying it, or None for a model without the table."""
        return BONES.get(self.model)

    @property
    def finger_bones(self) -> dict[str, tuple[tuple[str, ...], ...]] | None:
        """Side ("l", "r") -> per finger, thumb to pinky, its bones knuckle to tip; or None."""
        return FINGER_BONES.get(self.model)

    @staticmethod
    def anatomical(joint: str) -> tuple[tuple[float, float], ...]:
        """(lo, hi) degrees of the motions (a, b, c) of anatomical ``joint`` (``limits``)."""
        return limits(joint)

    def max_angle(self, dtype=None, device=None) -> torch.Tensor:
        """(P,) each pose bone's rotation bound, radians (``rotation_bound_deg``)."""
        return torch.tensor([math.radians(rotation_bound_deg(n)) for n in self.pose_joint_names], dtype=dtype,
                            device=device)
