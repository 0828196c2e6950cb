"""The one fit: ``fit(observations, body, options)`` takes landmarks, masks and dense proxies
in any mix and chooses its schedule by what they hold; its priors are assembled once
(``Priors``) with the body model's joint limits; one options class names each schedule's
tuning."""

import dataclasses
import importlib
import math

import numpy as np
import pytest
import torch
from helpers import ring_cameras

from engine.errors import InputError
from engine.fitting import FitOptions, Observations, ProxyViews, fit
from engine.fitting.correspondences import Correspondences
from engine.fitting.priors import Priors
from engine.fitting.types import LANDMARK_TUNING
from engine.landmarks import load_landmark_table
from engine.metrics import mpvpe
from engine.proxy.raycast import ProxyRenderer


def _posed(body):
    params = body.neutral_params(1)
    names = body.pose_joint_names
    params.body_pose[0, names.index("lowerarm01.L")] = torch.tensor([0.0, 0.0, 0.8])
    params.body_pose[0, names.index("upperleg01.R")] = torch.tensor([-0.5, 0.0, 0.0])
    params.global_orient[0] = torch.tensor([0.0, 0.0, 2.0])
    params.transl[0] = torch.tensor([0.2, -0.1, 0.05])
    return params


@pytest.fixture(scope="module")
def table(anny32):
    return load_landmark_table("anny", num_vertices=int(anny32.faces.max()) + 1)


@pytest.fixture(scope="module")
def seen(anny32, anny_proxy, table):
    """A posed Anny in 4 ring views: its table's landmarks (exact, all seen) and exact proxies."""
    out = anny32(_posed(anny32))
    cams = ring_cameras(4, 192, dtype=torch.float32)
    px, _ = cams.project(table.positions(out.vertices[0]))
    renderer = ProxyRenderer(out.vertices[0].double().numpy(), anny32.faces.numpy(),
                             anny_proxy.part_table.face_part.numpy(), anny32.uv_coords.numpy(), anny32.uv_faces.numpy())
    rendered = [renderer.render(cams.K[i].double().numpy(), cams.R_cam_world[i].double().numpy(),
                                cams.t_cam_world[i].double().numpy(), 192, 192) for i in range(4)]
    views = ProxyViews(torch.as_tensor(np.stack([r.seg for r in rendered])),
                       torch.as_tensor(np.stack([r.uv for r in rendered])), cams)
    return Observations(cams, px, torch.ones(px.shape[:2]), table), views, out


def test_observations_refuse_what_no_schedule_fits(seen, anny32, anny_proxy, table):
    landmarks, views, _ = seen
    with pytest.raises(InputError, match="nothing to fit"):
        Observations()
    with pytest.raises(InputError, match="masks are fitted with landmarks"):
        Observations(proxies=views, body_proxy=anny_proxy, masks=[None] * 4)
    with pytest.raises(InputError, match="body_proxy"):
        Observations(proxies=views)
    corr = Correspondences(view=torch.zeros(3, dtype=torch.long), xy_px=torch.zeros(3, 2),
                           part=torch.ones(3, dtype=torch.long), face=torch.zeros(3, dtype=torch.long),
                           bary=torch.full((3, 3), 1 / 3), weight=torch.ones(3))
    with pytest.raises(InputError, match="proxy_cameras"):
        Observations(proxies=corr)
    with pytest.raises(InputError, match="the table has"):
        Observations(landmarks.cameras, landmarks.landmarks[:, :-1], landmarks.scores[:, :-1], table)
    with pytest.raises(InputError, match="no landmark seen"):
        Observations(landmarks.cameras, landmarks.landmarks, torch.zeros_like(landmarks.scores), table)
    with pytest.raises(InputError, match="3 masks for 4 views"):
        dataclasses.replace(landmarks, masks=[None] * 3)
    with pytest.raises(InputError, match="landmark schedule only"):
        fit(Observations(proxies=views, body_proxy=anny_proxy), anny32, init=anny32.neutral_params(1))


def test_each_schedule_names_its_tuning(seen, anny_proxy, anny32, monkeypatch):
    """``FitOptions()`` is one set of numbers (the proxy schedule's); the landmark schedule's
    differ in LANDMARK_TUNING only; ``fit`` without options takes the schedule's own."""
    assert FitOptions() == FitOptions.for_proxies()
    landmark = FitOptions.for_landmarks(lm_iters=3)
    differ = {f.name for f in dataclasses.fields(FitOptions) if getattr(landmark, f.name) != getattr(FitOptions(), f.name)}
    assert differ == set(LANDMARK_TUNING) | {"lm_iters"}
    assert FitOptions.for_landmarks().pose_prior == 5e-3 and FitOptions().pose_prior == 1e-3

    chosen = {}
    fit_module = importlib.import_module("engine.fitting.fit")  # the module (engine.fitting.fit is the function)
    monkeypatch.setattr(fit_module, "fit_landmarks", lambda obs, body, opt, init, t: chosen.update(landmarks=opt))
    monkeypatch.setattr(fit_module, "fit_proxies", lambda obs, body, opt, t: chosen.update(proxies=opt))
    landmarks, views, _ = seen
    fit(landmarks, anny32)
    fit(dataclasses.replace(landmarks, proxies=views, body_proxy=anny_proxy), anny32)  # landmarks choose
    fit(Observations(proxies=views, body_proxy=anny_proxy), anny32)
    assert chosen == {"landmarks": FitOptions.for_landmarks(), "proxies": FitOptions()}


def test_the_joint_limits_are_the_body_models(anny32):
    """One table: the fit's rotation bounds per bone group and the pose sampler's anatomical
    ranges on bones the model has."""
    limits = anny32.joint_limits()
    bound = dict(zip(anny32.pose_joint_names, torch.rad2deg(limits.max_angle()).tolist()))
    assert [round(bound[b]) for b in ("spine03", "neck01", "head", "clavicle.L", "finger3-2.R", "metacarpal2.L",
                                      "toe1-1.L", "eye.R", "upperleg01.L", "lowerarm01.R")] == \
        [40, 40, 60, 60, 110, 110, 30, 30, 160, 160]
    carried = [b for bones in limits.bones.values() for b in bones]
    carried += [b for fingers in limits.finger_bones.values() for finger in fingers for b in finger]
    assert set(carried) <= set(anny32.pose_joint_names)
    assert limits.anatomical("knee_l") == ((0, 150), (0, 0), (0, 0))
    priors = Priors(anny32, FitOptions(), True, torch.float32, "cpu")
    assert torch.equal(priors.limits, limits.max_angle(dtype=torch.float32))


@pytest.mark.slow
def test_landmarks_alone_and_with_proxies(seen, anny32, anny_proxy):
    """The landmark schedule on exact landmarks lands on the body (measured 1.30 mm MPVPE);
    with exact proxy images added to the same observations the fit samples them into its
    objective (a larger loss at the same start) and lands there too (1.32 mm)."""
    landmarks, views, gt = seen
    quick = FitOptions.for_landmarks(lm_iters=5)
    alone = fit(landmarks, anny32, quick)
    both = fit(dataclasses.replace(landmarks, proxies=views, body_proxy=anny_proxy), anny32, quick)
    stages = {"lift_pose", "lift", "body", "body_lm", "hands_lm"}  # from the triangulation: the 3D stage first
    assert set(alone.stage_losses) == set(both.stage_losses) == stages
    assert alone.init == both.init == "triangulation"
    assert both.stage_losses["lift_pose"][0] > alone.stage_losses["lift_pose"][0]
    assert float(alone.residual_px.max()) < 1.0, alone.residual_px
    for result in (alone, both):
        err = mpvpe(result.vertices[None], gt.vertices).item()
        assert err < 3.0, err  # mm
