"""Left and right decided over all views (engine.pipeline.sides): a detector that labels a back
view as if the person faced the camera is found out, view by view, and the whole labelling is
set by the body's anatomy, on the landmark table's points of a real Anny body."""

import numpy as np
import pytest
import torch
from helpers import ring_cameras

from engine.detect.types import SIDE_SWAP
from engine.landmarks.table import load_landmark_table
from engine.pipeline.sides import decide_sides, facing

HAND = np.arange(21)
MIRROR = np.concatenate([SIDE_SWAP, 54 + HAND, 33 + HAND])


@pytest.fixture(scope="module")
def person(anny64):
    """The table's landmarks of Anny standing, turned to face +Y (a yaw), arms a little out."""
    table = load_landmark_table("anny", num_vertices=int(anny64.faces.max()) + 1)
    p = anny64.neutral_params(1)
    with torch.no_grad():
        rest = anny64(p).vertices[0].numpy()
    X = table.positions(rest)
    return X - X[:33].mean(0) + np.array([0.0, 0.0, 0.2])


def views(X, n, seed=0, jitter_px=1.5):
    cams = ring_cameras(n, size=512, seed=seed)
    P = np.stack([(cams.K[v] @ torch.cat([cams.R_cam_world[v], cams.t_cam_world[v, :, None]], 1)).numpy()
                  for v in range(n)])
    h = P[:, :, :3] @ X.T + P[:, :, 3:]
    xy = (h[:, :2] / h[:, 2:]).transpose(0, 2, 1)
    xy += np.random.default_rng(seed).normal(0, jitter_px, xy.shape)
    centres = cams.centers_world.numpy()
    return xy, np.full(xy.shape[:2], 0.9), P, centres


def front_of(X):
    from engine.detect.types import BODY_INDEX as I

    left = X[I["left_shoulder"]] - X[I["right_shoulder"]] + X[I["left_hip"]] - X[I["right_hip"]]
    up = X[I["left_shoulder"]] + X[I["right_shoulder"]] - X[I["left_hip"]] - X[I["right_hip"]]
    return np.cross(left, up / np.linalg.norm(up))  # right-handed: left x up is the front


def as_a_detector_sees(xy, score, P, centres, X):
    """Back views labelled as if the person faced the camera: their left and right exchanged."""
    back = [v for v in range(len(P)) if (centres[v] - X[:33].mean(0)) @ front_of(X) < 0]
    xy, score = xy.copy(), score.copy()
    for v in back:
        xy[v], score[v] = xy[v, MIRROR], score[v, MIRROR]
    return xy, score, back


@pytest.mark.parametrize("n, seed", [(4, 0), (4, 3), (6, 1), (8, 2)])
def test_back_views_labelled_as_front_views_are_found(person, n, seed):
    xy, score, P, centres = views(person, n, seed)
    height = np.full(n, 350.0)
    seen_xy, seen_score, back = as_a_detector_sees(xy, score, P, centres, person)
    assert back and len(back) < n, back  # the ring has views from the front and from behind
    flipped, info = decide_sides(seen_xy, seen_score, P, height, MIRROR)
    assert flipped == back, info
    assert info["cost"] < 0.5 * info["cost_as_detected"] and info["facing"] > 0.5


def test_a_capture_labelled_right_is_left_alone(person):
    xy, score, P, _ = views(person, 4, 5)
    flipped, info = decide_sides(xy, score, P, np.full(4, 350.0), MIRROR)
    assert flipped == [] and info["cost"] == info["cost_as_detected"] and info["facing"] > 0.5


def test_every_view_mirrored_is_turned_round_by_anatomy(person):
    """All views exchanged (consistent with each other, so only anatomy can tell): the body
    they triangulate faces backwards, and every view is relabelled."""
    xy, score, P, _ = views(person, 4, 7)
    flipped, info = decide_sides(xy[:, MIRROR], score[:, MIRROR], P, np.full(4, 350.0), MIRROR)
    assert flipped == [0, 1, 2, 3] and info["facing"] > 0.5  # the body the relabelled views give


def test_facing_follows_the_face_and_the_feet(person):
    assert facing(person[:33]) > 0.8
    assert facing(person[:33][SIDE_SWAP]) < -0.8
    torso_only = person[:33].copy()
    torso_only[[0, 7, 8, 29, 30, 31, 32]] = np.nan
    assert facing(torso_only) is None
