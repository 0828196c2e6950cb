"""Part table of each body model, derived from its skinning weights.

How: every joint (bone) of the rig is mapped to one part (the maps below). A vertex's
weight for a part is the sum of its skinning weights over that part's joints; a face takes
the part with the largest weight summed over its three vertices. Anny's clavicles carry
almost no skin, so its deltoid bone makes the shoulder part. The wrist joint's skin
is split between the two palm halves by geometry: a vertex goes to the half whose nearest
finger-base joint (rest pose) is closer (radial: thumb, index, middle; ulnar: ring, pinky).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.proxy.parts import PART_ID

PALM = "palm"  # placeholder part for wrist skin, resolved geometrically

_ANNY_FINGER = {1: "Thumb", 2: "Index", 3: "Middle", 4: "Ring", 5: "Pinky"}


def _anny_joint_part(joint: str) -> str:
    base, _, side = joint.partition(".")
    lr = {"L": "left", "R": "right"}.get(side, "")
    if base in ("root", "pelvis", "spine05"):  # Anny's root and pelvis bones carry little skin
        return "hips"
    if base == "spine04":
        return "spine"
    if base == "spine03":
        return "spine1"
    if base in ("spine02", "spine01"):
        return "spine2"
    if base.startswith("neck"):
        return "neck"
    if base == "head":
        return "head"
    if base == "eye":
        return f"{lr}Eye"
    simple = {"upperleg01": "UpLeg", "upperleg02": "UpLeg", "lowerleg01": "Leg", "lowerleg02": "Leg",
              "foot": "Foot", "clavicle": "Shoulder", "shoulder01": "Shoulder", "upperarm01": "Arm",
              "upperarm02": "Arm", "lowerarm01": "ForeArm", "lowerarm02": "ForeArm"}
    if base in simple:
        return f"{lr}{simple[base]}"
    if base.startswith("toe"):
        return f"{lr}ToeBase"
    if base == "wrist":
        return f"{lr}{PALM}"
    if base.startswith("metacarpal"):  # metacarpal k carries finger k + 1
        return f"{lr}HandPalm{'Radial' if int(base[-1]) <= 2 else 'Ulnar'}"
    if base.startswith("finger"):
        finger, segment = int(base[6]), int(base[8])
        if finger == 1 and segment == 1:  # the thumb's metacarpal: thenar side of the palm
            return f"{lr}HandPalmRadial"
        proximal = segment == (2 if finger == 1 else 1)
        return f"{lr}Hand{_ANNY_FINGER[finger]}{'Proximal' if proximal else 'Distal'}"
    raise KeyError(f"Anny bone '{joint}' has no part")


def _smplx_joint_part(joint: str) -> str:
    side, _, base = joint.partition("_")
    if not base:
        base, side = side, ""
    fixed = {"pelvis": "hips", "spine1": "spine", "spine2": "spine1", "spine3": "spine2",
             "neck": "neck", "head": "head", "jaw": "head"}
    if joint in fixed:
        return fixed[joint]
    simple = {"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "foot": "ToeBase", "collar": "Shoulder",
              "shoulder": "Arm", "elbow": "ForeArm", "eye": "Eye"}
    if base == "eye_smplhf":
        return f"{side}Eye"
    if base in simple:
        return f"{side}{simple[base]}"
    if base == "wrist":
        return f"{side}{PALM}"
    finger, segment = base[:-1].capitalize(), int(base[-1])
    if finger == "Thumb" and segment == 1:
        return f"{side}HandPalmRadial"
    proximal = segment == (2 if finger == "Thumb" else 1)
    return f"{side}Hand{finger}{'Proximal' if proximal else 'Distal'}"


_JOINT_PART = {"anny": _anny_joint_part, "smplx": _smplx_joint_part}
_PALM_ANCHORS = {
    "anny": {"Radial": ("finger1-2", "finger2-1", "finger3-1"), "Ulnar": ("finger4-1", "finger5-1")},
    "smplx": {"Radial": ("thumb2", "index1", "middle1"), "Ulnar": ("ring1", "pinky1")},
}


def _anchor_joint(model: str, side: str, base: str) -> str:
    return f"{base}.{side[0].upper()}" if model == "anny" else f"{side}_{base}"


@dataclass(frozen=True)
class PartTable:
    """Per-vertex and per-face part ids (``engine.proxy.parts.PART_NAMES``) of a body model."""

    vertex_part: torch.Tensor  # (V,) long
    face_part: torch.Tensor  # (F,) long


@torch.no_grad()
def build_part_table(body) -> PartTable:
    """Derive the part table of a body model from its skinning weights (see module doc)."""
    to_part = _JOINT_PART[body.name]
    W = body.skinning_weights().double()  # (V, J)
    joint_parts = [to_part(j) for j in body.joint_names]
    rest = body(body.neutral_params(1))
    verts, joints = rest.vertices[0].double(), rest.joints[0].double()

    vertex_weights = torch.zeros(W.shape[0], len(PART_ID), dtype=W.dtype)
    for side in ("left", "right"):
        anchors = {half: joints[[body.joint_names.index(_anchor_joint(body.name, side, b)) for b in names]]
                   for half, names in _PALM_ANCHORS[body.name].items()}
        d = {half: torch.cdist(verts, a).min(dim=1).values for half, a in anchors.items()}
        radial = d["Radial"] <= d["Ulnar"]
        for j, part in enumerate(joint_parts):
            if part == f"{side}{PALM}":
                vertex_weights[radial, PART_ID[f"{side}HandPalmRadial"]] += W[radial, j]
                vertex_weights[~radial, PART_ID[f"{side}HandPalmUlnar"]] += W[~radial, j]
    for j, part in enumerate(joint_parts):
        if not part.endswith(PALM):
            vertex_weights[:, PART_ID[part]] += W[:, j]
    vertex_weights[:, 0] = -1  # never background
    faces = body.faces.cpu()
    face_part = vertex_weights[faces].sum(dim=1).argmax(dim=1)
    return PartTable(vertex_part=vertex_weights.argmax(dim=1), face_part=face_part)
