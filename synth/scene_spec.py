"""A scene as a pure function of (config, seed, index): every random choice, sampled here,
engine-side, into a JSON-able spec that the Blender worker builds without further chance.

Each component draws from its own stream (``SeedSequence([seed, index]).spawn``), so that
changing, say, the camera settings leaves the people, poses and clothes of a dataset as
they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.appearance import sample_appearance
from synth.cameras import sample_cameras
from synth.config import SynthConfig
from synth.lighting import sample_lighting
from synth.occluders import sample_occluders, sample_seat
from synth.pose import sample_pose, sample_shape
from synth.subject import Placed, Subject

STREAMS = ("shape", "pose", "placement", "cameras", "occluders", "appearance", "lighting")


@dataclass
class SceneSpec:
    index: int
    body: dict  # model, params, pose family, hand styles, attempts
    placed: Placed
    cameras: list[dict]
    occluders: list[dict]
    appearance: dict
    lighting: dict


def scene_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence([seed, index]).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children)}


def sample_scene(cfg: SynthConfig, index: int, subject: Subject, hdris: list[dict],
                 mesh_assets: list[dict] = ()) -> SceneSpec:
    rng = scene_rngs(cfg.seed, index)
    shape = sample_shape(rng["shape"], subject.body)
    pose = sample_pose(subject.body, rng["pose"], cfg.pose, shape=shape)
    placed = subject.place(pose.body_pose, pose.global_orient, shape, subject.yaw_of(rng["placement"]))
    lo, hi = placed.vertices.min(axis=0), placed.vertices.max(axis=0)
    cameras = sample_cameras(rng["cameras"], cfg.cameras, (lo + hi) / 2, float((hi - lo).max()))
    centers = np.array([np.asarray(c["blender"]["matrix_world"])[:3, 3] for c in cameras])
    occluders = sample_occluders(rng["occluders"], cfg.occluders, placed.vertices, centers, list(mesh_assets))
    if pose.family == "sitting" and cfg.occluders.seat_for_sitting:
        knees = placed.keypoints[[placed.keypoint_names.index("left_knee"),
                                  placed.keypoint_names.index("right_knee")]].mean(axis=0)
        seat = sample_seat(rng["occluders"], placed.vertices, placed.joints[0], knees, centers)
        if seat is not None:
            occluders.append(seat)
    body = {"model": subject.name, "params": placed.params, **{k: v for k, v in pose.to_dict().items()
                                                              if k not in ("body_pose", "global_orient")}}
    return SceneSpec(index=index, body=body, placed=placed, cameras=cameras, occluders=occluders,
                     appearance=sample_appearance(rng["appearance"], cfg.appearance, pose.family),
                     lighting=sample_lighting(rng["lighting"], cfg.lighting, hdris))
