"""Anatomical joints of the pose sampler: their limits, sign conventions and per-model bones.

A pose is a dict of anatomical angles in degrees, ``{joint: (a, b, c)}``, with joint names
such as ``"hip_l"`` or ``"lumbar"``. The three numbers are anatomical motions (e.g. hip:
flexion, abduction, internal rotation), the same for the left and the right side. They
become one rotation ``Rx(sx*a) @ Ry(sy*b) @ Rz(sz*c)`` about the WORLD axes of the canonical
model frame (Z up, body faces -Y, left is +X) with the body in its anatomical neutral
pose (upright, arms hanging with the elbows straight); right-side joints use the mirror
image, ``(x, -y, -z)``. Limits (per joint, per motion) are in the same anatomical units.

Fingers are curls (degrees at the three joints of each finger, positive toward the palm)
plus a spread at the knuckle; their axes are measured on the rest mesh of each model.

The only model-specific parts are ``BONES`` (which bones carry each anatomical joint; a
rotation is split evenly along a chain, and joints sharing a bone compose on it in
``JOINTS`` order), ``ARM_BONES`` (the bones whose rest direction is turned into the
hanging neutral arm), ``FINGER_BONES`` and ``SEGMENTS`` (capsules for the self-intersection
check).
"""

from __future__ import annotations

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
# Per side: (shoulder bone, elbow bone, wrist bone) of the arm whose rest direction is
# turned into the neutral hanging arm (Anny rests in an A-pose with bent elbows).
# SMPL-X rests in a T-pose with straight arms (its elbow hinge is then taken as the one
# that bends the forearm forward).
ARM_BONES = {"anny": {s: (f"upperarm01.{s.upper()}", f"lowerarm01.{s.upper()}", f"wrist.{s.upper()}")
                      for s in ("l", "r")},
             "smplx": {s: (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
                       for s, side in (("l", "left"), ("r", "right"))}}
# Finger bones per side, thumb to pinky, knuckle to tip; the hand's wrist bone.
FINGER_BONES = {"anny": {s: tuple(tuple(f"finger{k}-{j}.{s.upper()}" for j in (1, 2, 3)) for k in range(1, 6))
                         for s in ("l", "r")},
                "smplx": {s: tuple(tuple(f"{side}_{f}{j}" for j in (1, 2, 3)) for f in FINGERS)
                          for s, side in (("l", "left"), ("r", "right"))}}
# Capsules of the self-intersection check: name -> (start joint, end joint, skinned bones).
# A bone's skin belongs to the first segment listing a prefix of its name (without the side).
SEGMENTS = {
    "anny": {
        "torso_low": ("spine05", "spine02", ("root", "pelvis", "spine05", "spine04", "spine03")),
        "torso_high": ("spine02", "neck01", ("spine02", "spine01", "clavicle", "shoulder01")),
        "head": ("neck01", "head", ("neck", "head", "eye")),
        **{f"{n}_{s}": (f"{a}.{S}", f"{b}.{S}", tuple(f"{m}" for m in members)) for s, S in (("l", "L"), ("r", "R"))
           for n, a, b, members in (
               ("upperarm", "upperarm01", "lowerarm01", ("upperarm",)),
               ("forearm", "lowerarm01", "wrist", ("lowerarm",)),
               ("hand", "wrist", "finger3-1", ("wrist", "finger", "metacarpal")),
               ("thigh", "upperleg01", "lowerleg01", ("upperleg",)),
               ("shin", "lowerleg01", "foot", ("lowerleg",)),
               ("foot", "foot", "toe3-1", ("foot", "toe")))},
    },
    "smplx": {
        "torso_low": ("spine1", "spine3", ("pelvis", "spine1", "spine2")),
        "torso_high": ("spine3", "neck", ("spine3", "collar")),
        "head": ("neck", "head", ("neck", "head", "jaw", "eye")),
        **{f"{n}_{s}": (f"{side}_{a}", f"{side}_{b}", members) for s, side in (("l", "left"), ("r", "right"))
           for n, a, b, members in (
               ("upperarm", "shoulder", "elbow", ("shoulder",)),
               ("forearm", "elbow", "wrist", ("elbow",)),
               ("hand", "wrist", "middle1", ("wrist",) + FINGERS),
               ("thigh", "hip", "knee", ("hip",)),
               ("shin", "knee", "ankle", ("knee",)),
               ("foot", "ankle", "foot", ("ankle", "foot")))},
    },
}
# The head capsule runs from neck01 to the head joint and on by this factor (the skull).
HEAD_EXTENSION = 2.5
