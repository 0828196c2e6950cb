"""The landmark schedule's 3D stage (``engine.fitting.lift``): a robust triangulation that
drops the view that disagrees, and a crouching body (folded legs, which a front view sees
like straight ones) posed from its triangulated landmarks."""

import pytest
import torch
from helpers import ring_cameras

from engine.fitting import FitOptions, Observations, fit
from engine.fitting.lift import ray_spread, robust_triangulation
from engine.landmarks import load_landmark_table
from engine.metrics import mpvpe


@pytest.fixture(scope="module")
def table(anny32):
    return load_landmark_table("anny", num_vertices=int(anny32.faces.max()) + 1)


def _crouching(body):
    params = body.neutral_params(1)
    names = body.pose_joint_names
    for side in "LR":
        params.body_pose[0, names.index(f"upperleg01.{side}")] = torch.tensor([-1.9, 0.0, 0.0])
        params.body_pose[0, names.index(f"lowerleg01.{side}")] = torch.tensor([2.3, 0.0, 0.0])
    params.body_pose[0, names.index("spine03")] = torch.tensor([0.4, 0.0, 0.0])
    params.global_orient[0] = torch.tensor([0.0, 0.0, 0.7])
    return params


def test_the_view_that_disagrees_is_dropped(anny32, table):
    out = anny32(anny32.neutral_params(1))
    truth = table.positions(out.vertices[0]).double()
    cams = ring_cameras(4, 256)
    xy, _ = cams.project(truth)
    score = torch.ones(xy.shape[:2], dtype=torch.float64)
    height = torch.full((4,), 200.0, dtype=torch.float64)
    wrong = xy.clone()
    wrong[2, :5] += torch.tensor([60.0, -40.0], dtype=torch.float64)  # one view, five landmarks, 30% of the height off
    X, w = robust_triangulation(wrong, score, cams, height)
    assert (X - truth).norm(dim=-1).max() < 1e-4  # the three others agree exactly
    assert (w == 1).all()
    naive, _ = robust_triangulation(wrong, score, cams, torch.full((4,), 1e9, dtype=torch.float64))
    # (a huge person: every view is within the tolerance, none is dropped) the wrong view bends the points
    assert (naive[:5] - truth[:5]).norm(dim=-1).min() > 0.01
    one = score.clone()
    one[1:, :5] = 0.2  # seen well in one view only (a score under 0.3 takes no part): not used
    _, w1 = robust_triangulation(xy, one, cams, height)
    assert (w1[:5] == 0).all() and (w1[5:] == 1).all()


def test_a_crouching_body_is_posed_from_its_triangulated_landmarks(anny32, table):
    truth = anny32(_crouching(anny32))
    cams = ring_cameras(4, 256, dtype=torch.float32)
    px, _ = cams.project(table.positions(truth.vertices[0]))
    observed = Observations(cams, px, torch.ones(px.shape[:2]), table)
    errors = {}
    for weight in (0.0, FitOptions.for_landmarks().lift_weight):
        result = fit(observed, anny32, FitOptions.for_landmarks(lift_weight=weight))
        errors[weight] = float(mpvpe(result.vertices[None], truth.vertices))  # mm
    lifted = errors[FitOptions.for_landmarks().lift_weight]
    assert lifted < 50.0, errors
    assert lifted < 0.5 * errors[0.0], errors  # the image terms alone stay in the straight legs' minimum


def test_two_views_that_disagree_leave_the_landmark_out_and_facing_cameras_weigh_little(anny32, table):
    truth = table.positions(anny32(anny32.neutral_params(1)).vertices[0]).double()
    cams = ring_cameras(4, 256)
    xy, _ = cams.project(truth)
    height = torch.full((4,), 200.0, dtype=torch.float64)
    pair = torch.zeros(xy.shape[:2], dtype=torch.float64)
    pair[[0, 1]] = 1.0  # two views about 90 degrees apart
    wrong = xy.clone()
    wrong[1, :5, 1] -= 40.0  # 20% of the height up, across the (level) epipolar lines: they disagree
    _, w = robust_triangulation(wrong, pair, cams, height)
    assert (w[:5] == 0).all() and (w[5:] > 0.9).all(), w
    facing = torch.zeros_like(pair)
    facing[[0, 2]] = 1.0  # two views across the person from each other
    _, w_facing = robust_triangulation(xy, facing, cams, height)
    spread = ray_spread(truth, facing > 0, cams)
    assert spread.median() < 0.7 and spread.min() < 0.3 and torch.allclose(w_facing, spread), spread
    assert (ray_spread(truth, pair > 0, cams) == 1).all()
