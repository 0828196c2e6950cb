"""Cameras from the person on a synthetic capture: a walking person seen by a ring of cameras,
1 px of noise and some left/right mix-ups; the cameras come back up to a similarity, then
metric, Z up, on the floor."""

import numpy as np
import pytest

from engine.calibration.frame import metric_frame
from engine.calibration.person import solve_cameras
from engine.detect.types import BODY_LANDMARKS, SIDE_SWAP
from engine.errors import InputError
from tests.calibration.support import project, ring_of_cameras, standing_person, umeyama, walking_person


def _observe(points, cams, seed=0, swaps=0.0, noise=1.0):
    rng = np.random.default_rng(seed)
    xy = np.stack([project(points, *c) for c in cams]) + rng.normal(0, noise, (len(cams),) + points.shape[:2] + (2,))
    score = np.full(xy.shape[:3], 0.95)
    for c in range(len(cams)):  # the detector takes the person's back for their front now and then
        for f in np.flatnonzero(rng.random(len(points)) < swaps):
            xy[c, f] = xy[c, f, SIDE_SWAP]
    return xy, score


def _errors(sol, cams):
    C_true = np.stack([-R.T @ t for _, R, t in cams])
    C = np.stack([-R.T @ t for R, t in zip(sol.R_cam_world, sol.t_cam_world)])
    s, A, b = umeyama(C, C_true)
    centre = np.linalg.norm(s * C @ A.T + b - C_true, axis=1)
    angles = [np.degrees(np.arccos(np.clip((np.trace(R @ A.T @ Rt.T) - 1) / 2, -1, 1)))
              for R, (_, Rt, _) in zip(sol.R_cam_world, cams)]
    return centre, np.array(angles)


def test_a_ring_of_cameras_comes_back_despite_left_right_mixups():
    cams = ring_of_cameras(4)
    points = walking_person(40)
    xy, score = _observe(points, cams, swaps=0.05)
    sol = solve_cameras(xy, score, np.stack([K for K, _, _ in cams]), ["a", "b", "c", "d"])
    assert sol.placed.all()
    centre, angle = _errors(sol, cams)
    assert centre.max() < 0.02 and angle.max() < 0.3, (centre, angle)
    assert sol.median_px.max() < 2.0
    assert sol.dropped > 0  # the mix-ups were left out


def test_focal_lengths_are_found_from_a_wrong_guess():
    cams = ring_of_cameras(4)
    xy, score = _observe(walking_person(40), cams)
    guess = np.stack([K for K, _, _ in cams]) * [[1.1], [1.1], [1]]  # 10% off
    sol = solve_cameras(xy, score, guess, list("abcd"), refine_focal=True)
    assert np.abs(sol.K[:, 0, 0] / 900 - 1).max() < 0.02, sol.K[:, 0, 0]


def test_the_world_is_metric_z_up_and_on_the_floor():
    cams = ring_of_cameras(3)
    points = walking_person(30)
    xy, score = _observe(points, cams, noise=0.5)
    sol = solve_cameras(xy, score, np.stack([K for K, _, _ in cams]), list("abc"))
    ref = standing_person()
    index = {n: i for i, n in enumerate(BODY_LANDMARKS)}
    segments = {(a, b): float(np.linalg.norm(ref[index[a]] - ref[index[b]]))
                for a, b in (("left_shoulder", "right_shoulder"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
                             ("right_elbow", "right_wrist"))}
    frame = metric_frame(sol.points, BODY_LANDMARKS, sol.R_cam_world[0], segments, 1.7)
    world = frame.points(sol.points)
    feet = world[:, [29, 30, 31, 32], 2]
    assert np.percentile(feet, 5) == pytest.approx(0.0, abs=0.01)
    hips = (world[0, 23] + world[0, 24]) / 2
    assert np.linalg.norm(hips[:2]) < 0.01  # the origin under the first position
    heights = world[:, 11, 2] - world[:, 27, 2]  # shoulder over ankle: the person's up is +Z, metres
    assert np.median(heights) == pytest.approx(1.32, abs=0.03)
    for R_sol, t_sol, (K, R, t) in zip(sol.R_cam_world, sol.t_cam_world, cams):
        R_w, t_w = frame.camera(R_sol, t_sol)
        assert np.abs(project(world[0], K, R_w, t_w) - project(points[0], K, R, t)).max() < 3.0
    taller = metric_frame(sol.points, BODY_LANDMARKS, sol.R_cam_world[0], segments, 1.7, height=1.87)
    assert taller.scale / frame.scale == pytest.approx(1.1, rel=1e-6)


def test_a_person_never_seen_by_two_cameras_at_once_is_an_error():
    cams = ring_of_cameras(2)
    xy, score = _observe(walking_person(20), cams)
    score[0, 10:] = 0  # camera a sees the first half, camera b the second
    score[1, :10] = 0
    with pytest.raises(InputError, match=r"seen by at most one camera at a time \(a\+b: 0\)"):
        solve_cameras(xy, score, np.stack([K for K, _, _ in cams]), ["a", "b"])


def test_a_camera_that_shares_too_little_is_not_placed():
    cams = ring_of_cameras(3)
    xy, score = _observe(walking_person(30), cams)
    score[2, :, :] = 0
    score[2, 0, :5] = 0.95  # five landmarks in one frame
    sol = solve_cameras(xy, score, np.stack([K for K, _, _ in cams]), list("abc"))
    assert sol.placed.tolist() == [True, True, False]


def test_only_the_unknown_focal_lengths_move():
    cams = ring_of_cameras(4)
    xy, score = _observe(walking_person(40), cams)
    guess = np.stack([K for K, _, _ in cams])
    guess[2, :2] *= 1.1  # camera c's is unknown (10% off), the others' come from a board
    sol = solve_cameras(xy, score, guess, list("abcd"), refine_focal=[False, False, True, False])
    assert sol.K[[0, 1, 3], 0, 0].tolist() == [900.0] * 3
    assert abs(sol.K[2, 0, 0] / 900 - 1) < 0.01, sol.K[2, 0, 0]
