"""The fitting's analytic Jacobian against forward-mode autodiff of the whole body model."""

import pytest
import torch
from torch.func import jacfwd

from engine.body.base import BodyParams
from engine.fitting.correspondences import Correspondences
from engine.fitting.jacobian import SkinnedPoints, descendants, left_jacobian
from engine.fitting.objective import CameraDelta
from engine.fitting.priors import Priors
from engine.fitting.refine import Problem
from engine.fitting.types import FitOptions
from engine.fitting.variables import Variables
from engine.geometry.camera import Cameras
from helpers import ring_cameras

pytestmark = pytest.mark.slow


def random_params(body, seed=0):
    g = torch.Generator().manual_seed(seed)
    P, d = len(body.pose_joint_names), torch.float64
    return BodyParams(0.7 * torch.randn(1, 3, generator=g, dtype=d), torch.randn(1, 3, generator=g, dtype=d),
                      0.4 * torch.randn(1, P, 3, generator=g, dtype=d), torch.rand(1, 6, generator=g, dtype=d),
                      torch.tensor([1.07], dtype=d))


def random_points(body, M=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    faces = torch.randint(0, len(body.faces), (M,), generator=g)
    bary = torch.rand(M, 3, generator=g, dtype=torch.float64)
    return faces, bary / bary.sum(1, keepdim=True)


def test_surface_point_jacobian_matches_autodiff(anny64):
    params = random_params(anny64)
    faces, bary = random_points(anny64)
    bones = torch.arange(0, len(anny64.pose_joint_names), 3)
    points, J = SkinnedPoints(anny64, faces, bary).jacobian(params, bones)

    def world_points(x):
        pose = params.body_pose[0].index_put((bones,), x[7:7 + 3 * len(bones)].reshape(-1, 3))
        p = BodyParams(x[:3][None], x[3:6][None], pose[None], x[7 + 3 * len(bones):][None], x[6:7].exp())
        return torch.einsum("mfc,mf->mc", anny64(p).vertices[0][anny64.faces[faces]], bary)

    x = torch.cat([params.global_orient[0], params.transl[0], params.scale.log(),
                   params.body_pose[0, bones].reshape(-1), params.shape[0]])
    expected = jacfwd(world_points)(x)
    assert torch.allclose(points, world_points(x), atol=1e-12)
    # the objective's points: the skinning state's, only the face corners skinned
    assert torch.allclose(SkinnedPoints(anny64, faces, bary)(params), world_points(x), atol=1e-12)
    assert J.shape == expected.shape
    assert (J - expected).abs().max() < 1e-13 * expected.abs().max()  # measured 2.6e-15 (README)


def test_left_jacobian_is_the_rotation_rate():
    r = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64)
    R = lambda v: torch.linalg.matrix_exp(torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]]))  # noqa: E731
    for i in range(3):
        dr = torch.zeros(3, dtype=torch.float64)
        dr[i] = 1e-6
        S = (R(r + dr) - R(r - dr)) / 2e-6 @ R(r).T
        assert torch.allclose(torch.stack([S[2, 1], S[0, 2], S[1, 0]]), left_jacobian(r)[:, i], atol=1e-8)
    assert torch.allclose(left_jacobian(torch.zeros(3, dtype=torch.float64)), torch.eye(3, dtype=torch.float64))


def test_descendants_follow_the_parents():
    D = descendants(torch.tensor([-1, 0, 1, 0, 3]))
    assert D[0].all() and D[1].tolist() == [False, True, True, False, False] and D[3, 4] and not D[4, 3]


def test_problem_linearisation_analytic_equals_autodiff(anny64):
    """The LM problem's residuals and Jacobian, cameras refined, both ways."""
    params = random_params(anny64, seed=1)
    faces, bary = random_points(anny64, M=300, seed=1)
    cams = ring_cameras(3, 128, dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    view = torch.randint(0, 3, (len(faces),), generator=g)
    corr = Correspondences(view=view, xy_px=64 + 20 * torch.randn(len(faces), 2, generator=g, dtype=torch.float64),
                           part=torch.ones(len(faces), dtype=torch.long), face=faces, bary=bary,
                           weight=torch.rand(len(faces), generator=g, dtype=torch.float64))
    var = Variables(anny64, torch.eye(3, dtype=torch.float64), params.transl[0], torch.tensor(1.07, dtype=torch.float64),
                    torch.float64, "cpu")
    with torch.no_grad():
        var.rot.copy_(params.global_orient[0])
        var.body_pose.copy_(params.body_pose[0])
        var.shape_free.copy_(params.shape[0])
    cam_delta = CameraDelta(3, torch.float64, "cpu")
    with torch.no_grad():
        cam_delta.rot.normal_(0, 0.01, generator=g)
        cam_delta.log_f.normal_(0, 0.01, generator=g)
    problem = Problem(var, cam_delta, corr, Cameras(cams.K, cams.R_cam_world, cams.t_cam_world, 128, 128), anny64,
                      Priors(anny64, FitOptions(), True, torch.float64, "cpu"), var.free_bones(True), sigma=8.0)
    assert problem.analytic
    x = problem.pack()
    r, J = problem.linearize(x)
    problem.analytic = False
    r_auto, J_auto = problem.linearize(x)
    assert torch.allclose(r, r_auto, atol=1e-10)
    assert (J - J_auto).abs().max() < 1e-13 * J_auto.abs().max()  # measured 2.2e-15 (README)
