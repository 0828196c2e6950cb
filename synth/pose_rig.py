"""The body model's side of the pose sampler: anatomical angles -> ``body_pose``, and the
capsules of the self-intersection check. Built once per body model from its rest skeleton.

Anny's pose parameterisation ("local-ref") gives every bone a rotation about world-aligned
axes, composed along the chain: ``Q_bone = Q_parent @ local_bone`` (Q: posed rotation
relative to the rest pose). With ``G_bone`` the rotation that turns the rest pose into the
anatomical neutral pose (arms hanging, elbows straight) and ``A_bone`` an anatomical
rotation about world axes at that neutral pose, ``local = G_parent^-1 @ A @ G_bone``.

SMPL-X composes its local rotations the same way, with every rest frame aligned with its
native axes (Y up, facing +Z); ``SMPLXBody.to_canonical`` (C) turns them into the canonical
frame, so a canonical local rotation R is passed to it as ``C^T @ R @ C``.
"""

from __future__ import annotations

import weakref

import numpy as np
import roma
import torch

from engine.body.joint_limits import ANATOMY, FINGERS, JOINTS, base_joint
from engine.errors import InputError

_RIGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PENETRATION_DEPTH = 0.6  # a vertex counts when closer to a foreign capsule's axis than this x its radius
STRAIGHT_ARM_DEG = 10.0  # a rest elbow bent less than this is straight: its hinge bends the forearm forward
# A Blender bone pointing up (+Z) with no roll: its X, Y, Z axes in the canonical frame. The
# walk cycle's rotations of Anny's spine bones, which are close to it, use it on models
# without Anny's rest frames.
UPRIGHT_BONE_FRAME = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])

# --- the rig's own per-model tables (the joint limits and their bones: BodyModel.joint_limits) ---
# Per side: (shoulder bone, elbow bone, wrist bone) of the arm whose rest direction is
# turned into the neutral hanging arm (Anny rests in an A-pose with bent elbows).
# SMPL-X rests in a T-pose with straight arms (its elbow hinge is then taken as the one
# that bends the forearm forward).
ARM_BONES = {"anny": {s: (f"upperarm01.{s.upper()}", f"lowerarm01.{s.upper()}", f"wrist.{s.upper()}")
                      for s in ("l", "r")},
             "smplx": {s: (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
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


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _frame_map(a1, a2, b1, b2) -> np.ndarray:
    """The rotation taking direction a1 to b1 and the plane (a1, a2) to the plane (b1, b2)."""
    def frame(u, v):
        u = _unit(u)
        v = _unit(v - (v @ u) * u)
        return np.stack([u, v, np.cross(u, v)], axis=1)
    return frame(b1, b2) @ frame(a1, a2).T


def axis_angle(axis: np.ndarray, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    x, y, z = axis
    K = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + s * K + (1 - c) * K @ K


def euler_xyz(deg) -> np.ndarray:
    """Rx(x) @ Ry(y) @ Rz(z), degrees."""
    ex, ey, ez = np.eye(3)
    return axis_angle(ex, deg[0]) @ axis_angle(ey, deg[1]) @ axis_angle(ez, deg[2])


def split_side(model: str, bone: str) -> tuple[str, str]:
    """A bone name -> (name without the side, "l" | "r" | "")."""
    if model == "anny":
        base, _, side = bone.partition(".")
        return base, side.lower()
    for side in ("left", "right"):
        if bone.startswith(side + "_"):
            return bone[len(side) + 1:], side[0]
    return bone, ""


def _parents(body) -> np.ndarray:
    if body.name == "anny":
        return np.asarray(body.anny.bone_parents)
    return body.smplx.parents.cpu().numpy()


def world_euler(joint: str, angles) -> np.ndarray:
    """Anatomical (a, b, c) of ``joint`` -> world-axis euler angles (x, y, z), degrees."""
    signs = np.asarray(ANATOMY[base_joint(joint)][0], dtype=float)
    xyz = signs * np.asarray(angles, dtype=float)
    return xyz * (1, -1, -1) if joint.endswith("_r") else xyz


class PoseRig:
    """Per-model tables in bone indices: neutral offsets G, finger axes, capsules."""

    def __init__(self, body):
        limits = body.joint_limits()
        if limits.bones is None or body.name not in SEGMENTS:
            raise InputError(f"body model: the pose sampler supports {sorted(SEGMENTS)}, got '{body.name}'")
        names = list(body.joint_names)
        self.index = {n: i for i, n in enumerate(names)}
        self.model = body.name
        self.parents = _parents(body)
        if any(p >= i for i, p in enumerate(self.parents)):
            raise RuntimeError("pose rig: bones must be listed parents first")
        with torch.no_grad():
            rest = body(body.neutral_params())
        J = rest.joints[0].double().cpu().numpy()
        transforms = rest.bone_transforms
        self.rest_frames = None if transforms is None else transforms[0, :, :3, :3].double().cpu().numpy()
        C = getattr(body, "to_canonical", None)  # the frame of the model's pose parameters
        self.to_canonical = np.eye(3) if C is None else C.double().cpu().numpy()
        self.joint_bones = {j: [self.index[b] for b in limits.bones[j]] for j in JOINTS}
        self.G = self._neutral_offsets(body.name, J)
        self.fingers = {s: self._finger_axes(body.name, limits.finger_bones[s], J, s) for s in ("l", "r")}
        self._capsules(body)

    def _neutral_offsets(self, model: str, J: np.ndarray) -> np.ndarray:
        own = {}
        down, forward = np.array([0.0, 0, -1]), np.array([0.0, -1, 0])
        for s, (sh, el, wr) in ARM_BONES[model].items():
            ish, iel, iwr = self.index[sh], self.index[el], self.index[wr]
            upper, fore = J[iel] - J[ish], J[iwr] - J[iel]
            bend = np.degrees(np.arccos(np.clip(_unit(upper) @ _unit(fore), -1, 1)))
            plane = fore if bend >= STRAIGHT_ARM_DEG else forward  # T-pose: flexion brings the forearm forward
            G_up = _frame_map(upper, plane, down, forward)  # the rest elbow bend becomes a forward flexion
            hinge = np.cross(upper, plane)
            own[ish] = G_up
            own[iel] = _frame_map(fore, hinge, down, G_up @ hinge)
        G = np.tile(np.eye(3), (len(self.parents), 1, 1))
        for i, p in enumerate(self.parents):
            G[i] = own.get(i, G[p] if p >= 0 else np.eye(3))
        return G

    def _finger_axes(self, model: str, fingers, J: np.ndarray, side: str):
        """Per finger (``fingers``: its bones, thumb to pinky): bone indices (3,), curl axes (3, 3)
        and spread axis (3,) in rest coordinates."""
        bones = [[self.index[b] for b in finger] for finger in fingers]
        wrist = J[self.index[ARM_BONES[model][side][2]]]
        hand_dir = _unit(J[bones[2][0]] - wrist)  # towards the middle knuckle
        across = J[bones[1][0]] - J[bones[4][0]]  # pinky -> index knuckle
        across = _unit(across - (across @ hand_dir) * hand_dir)
        palm = _unit(np.cross(hand_dir, across)) * (1 if side == "l" else -1)
        out = []
        for k, b in enumerate(bones):
            dirs = [J[b[1]] - J[b[0]], J[b[2]] - J[b[1]]]
            dirs.append(dirs[1])
            toward = _unit(palm - 0.8 * across) if k == 0 else palm  # the thumb folds across the palm
            curl = np.stack([_unit(np.cross(d, toward)) for d in dirs])
            spread_dir = {1: 1.0, 2: 0.0, 3: -1.0, 4: -1.0}.get(k, 0.0) * across
            spread = _unit(np.cross(dirs[0], spread_dir)) if k in (1, 3, 4) else np.zeros(3)
            out.append((b, curl, spread))
        return out

    def _capsules(self, body) -> None:
        segs = SEGMENTS[body.name]
        self.seg_names = list(segs)
        self.seg_ends = np.array([[self.index[a], self.index[b]] for a, b, _ in segs.values()])
        self.head_seg = self.seg_names.index("head")

        def segment_of(bone: str) -> int:
            base, side = split_side(body.name, bone)
            for k, (name, (_, _, members)) in enumerate(segs.items()):
                sided = name[-2:] in ("_l", "_r")
                if any(base.startswith(m) for m in members) and (not sided or name[-1] == side):
                    return k
            return -1

        bone_seg = np.array([segment_of(n) for n in body.joint_names])
        dominant = body.skinning_weights().argmax(dim=1).cpu().numpy()
        self.vertex_seg = torch.as_tensor(bone_seg[dominant])
        self.seg_vertices = [torch.nonzero(self.vertex_seg == k).flatten() for k in range(len(segs))]
        # Adjacent segments (a child's start bone hangs from the other's skin): their skin
        # near the shared joint overlaps legitimately and is not counted.
        self.adjacent = []
        for k, (a, _) in enumerate(self.seg_ends):
            parent = bone_seg[self.parents[a]] if self.parents[a] >= 0 else -1
            if parent >= 0 and parent != k:
                self.adjacent.append((k, int(parent), int(a)))

    def body_pose(self, angles: dict, curls: dict) -> np.ndarray:
        """Anatomical angles and finger curls -> (P, 3) axis-angle, P = bones - 1."""
        A = np.tile(np.eye(3), (len(self.parents), 1, 1))
        for joint, bones in self.joint_bones.items():
            rotvec = roma.rotmat_to_rotvec(torch.as_tensor(euler_xyz(world_euler(joint, angles[joint])))).numpy()
            for b in bones:  # a chain shares the rotation evenly (same axis: exact)
                A[b] = A[b] @ roma.rotvec_to_rotmat(torch.as_tensor(rotvec / len(bones))).numpy()
        Gp = np.stack([self.G[p] if p >= 0 else np.eye(3) for p in self.parents])
        local = np.transpose(Gp, (0, 2, 1)) @ A @ self.G
        for side, fingers in self.fingers.items():
            for k, (bones, curl_axes, spread_axis) in enumerate(fingers):
                c = curls[f"{side}"][k]
                for j, b in enumerate(bones):
                    local[b] = axis_angle(curl_axes[j], c[j])
                if np.any(spread_axis):
                    local[bones[0]] = local[bones[0]] @ axis_angle(spread_axis, c[3])
        if self.model != "anny":
            C = self.to_canonical
            local = C.T @ local @ C
        return roma.rotmat_to_rotvec(torch.as_tensor(local[1:])).numpy()

    def rest_to_local_ref(self, bone: str, R_bone: np.ndarray) -> np.ndarray:
        """A rotation in an Anny bone's own rest frame (Blender pose-bone convention) ->
        local-ref. Models without Anny's bones use an upright bone frame."""
        F = self.rest_frames[self.index[bone]] if self.model == "anny" else UPRIGHT_BONE_FRAME
        return F @ R_bone @ F.T


def rig_for(body) -> PoseRig:
    rig = _RIGS.get(body)
    if rig is None:
        rig = _RIGS[body] = PoseRig(body)
    return rig


def capsule_penetration(rig: PoseRig, vertices: torch.Tensor, joints: torch.Tensor) -> float:
    """Fraction of vertices lying deep inside the capsule of a segment they do not belong to."""
    P0, P1 = joints[rig.seg_ends[:, 0]], joints[rig.seg_ends[:, 1]].clone()
    h = rig.head_seg
    P1[h] = P0[h] + HEAD_EXTENSION * (P1[h] - P0[h])
    axis = P1 - P0  # (S, 3)
    rel = vertices[:, None, :] - P0[None]  # (V, S, 3)
    t = ((rel * axis).sum(-1) / (axis * axis).sum(-1)).clamp(0, 1)
    dist = (rel - t[..., None] * axis).norm(dim=-1)  # (V, S)
    radius = torch.stack([dist[idx, k].median() for k, idx in enumerate(rig.seg_vertices)])
    inside = dist < PENETRATION_DEPTH * radius[None]
    for k, idx in enumerate(rig.seg_vertices):
        inside[idx, k] = False
    inside[rig.vertex_seg < 0] = False
    for child, parent, joint in rig.adjacent:  # skin around a shared joint overlaps legitimately
        for a, b in ((child, parent), (parent, child)):
            idx = rig.seg_vertices[a]
            near = (vertices[idx] - joints[joint]).norm(dim=-1) < radius[child] + radius[parent]
            inside[idx[near], b] = False
    return inside.any(dim=1).double().mean().item()
