"""The pose and shape samplers on SMPL-X, with a procedural humanoid in SMPL-X's file format
(``fake_smplx_humanoid``; real SMPL-X files are licensed and never available here)."""

import json

import numpy as np
import pytest
import torch
from fake_smplx_humanoid import skeleton, write_humanoid_smplx
from pose_checks import assert_pose_within_limits

from engine.body import load_body_model
from engine.body.joint_limits import JOINTS
from engine.proxy import BodyProxy
from engine.proxy.parts import PART_ID
from engine.proxy.roundtrip import uv_roundtrip
from synth.pose import FAMILIES, PoseConfig, _hand, _pose_body, penetration_score, sample_pose, sample_shape
from synth.pose_rig import rig_for


@pytest.fixture(scope="module")
def humanoid_file(tmp_path_factory):
    return write_humanoid_smplx(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")


@pytest.fixture(scope="module")
def smplx(humanoid_file):
    return load_body_model("smplx", smplx_model=humanoid_file, dtype=torch.float64)


def _zero_pose():
    return {j: np.zeros(3) for j in JOINTS}, {s: [[0.0] * 4] * 5 for s in "lr"}


def _joints(body, angles, curls=None):
    out = _pose_body(body, rig_for(body).body_pose(angles, curls or _zero_pose()[1]), None)
    return {n: out.joints[0, i].numpy() for i, n in enumerate(body.joint_names)}, out


def test_humanoid_file_is_a_usable_smplx_model(smplx, humanoid_file):
    data = np.load(humanoid_file)
    assert data["v_template"].shape == (10475, 3) and data["f"].shape == (20908, 3)
    out = smplx(smplx.neutral_params())
    J = dict(zip(smplx.joint_names, out.joints[0].numpy()))
    for name, p in skeleton().items():  # the regressed joints are the designed T-pose skeleton
        np.testing.assert_allclose(J[name], p, atol=1e-6, err_msg=name)
    V = out.vertices[0].numpy()
    height = V[:, 2].max() - V[:, 2].min()
    assert 1.6 < height < 1.9
    kp = dict(zip(smplx.keypoint_names, out.keypoints[0].numpy()))
    assert kp["nose"][1] < kp["left_eye"][1] < 0 and kp["left_eye"][0] > 0 > kp["right_eye"][0]
    assert kp["left_heel"][1] > kp["left_big_toe"][1] and kp["left_index"][0] > J["left_wrist"][0]
    faces = smplx.faces.numpy()
    volume = np.einsum("ij,ij->i", V[faces[:, 0]], np.cross(V[faces[:, 1]], V[faces[:, 2]])).sum() / 6
    assert 0.04 < volume < 0.1  # outward winding, a person's volume in m^3
    proxy = BodyProxy.for_body(smplx)
    report = uv_roundtrip(smplx, proxy, samples=20_000)
    assert report.within_1mm == 1.0 and report.outside_face == 0
    parts = set(proxy.part_table.face_part.unique().tolist())
    missing = {n for n, i in PART_ID.items() if i not in parts and i > 0 and "Eye" not in n}
    assert not missing


def test_sample_shape_draws_clipped_betas(smplx):
    a = sample_shape(np.random.default_rng(1), smplx)
    assert a.shape == (10,) and np.all(np.abs(a) <= 2.5)
    np.testing.assert_array_equal(a, sample_shape(np.random.default_rng(1), smplx))
    assert not np.allclose(a, sample_shape(np.random.default_rng(2), smplx))


def test_same_rng_state_gives_the_same_pose(smplx):
    a = sample_pose(smplx, np.random.default_rng(7), PoseConfig())
    b = sample_pose(smplx, np.random.default_rng(7), PoseConfig())
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert not np.allclose(a.body_pose, sample_pose(smplx, np.random.default_rng(8), PoseConfig()).body_pose)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_samples_within_limits(smplx, family):
    cfg = PoseConfig(family_weights={family: 1.0}, variation=1.5)
    rng = np.random.default_rng(3)
    shape = sample_shape(rng, smplx)
    s = sample_pose(smplx, rng, cfg, shape=torch.as_tensor(shape))
    assert s.family == family and s.body_pose.shape == (54, 3) and np.isfinite(s.body_pose).all()
    assert s.penetration <= cfg.max_penetration, (s.penetration, s.attempts)  # passed, not given up
    assert_pose_within_limits(s, smplx.pose_joint_names, ("left_knee", "right_knee"), family)


@pytest.mark.parametrize("model", ["anny", "smplx"])
def test_anatomical_angles_mean_the_same_motion_on_both_models(model, smplx, anny64):
    """The neutral arm hangs (SMPL-X's T-pose arm included); flexions go forward (-Y)."""
    body = smplx if model == "smplx" else anny64
    arm = {"smplx": ("left_shoulder", "left_elbow", "left_wrist"),
           "anny": ("upperarm01.L", "lowerarm01.L", "wrist.L")}[model]
    leg = {"smplx": ("left_hip", "left_knee", "left_ankle"),
           "anny": ("upperleg01.L", "lowerleg01.L", "foot.L")}[model]
    angles, _ = _zero_pose()
    J, _ = _joints(body, angles)
    sh, el, wr = (J[b] for b in arm)
    assert _down(el - sh) > 0.95 and _down(wr - el) > 0.95  # hanging, elbow straight
    angles["elbow_l"][0] = 90
    J, _ = _joints(body, angles)
    assert _forward(J[arm[2]] - J[arm[1]]) > 0.9
    angles["elbow_l"][0], angles["shoulder_l"][0] = 0, 90
    J, _ = _joints(body, angles)
    assert _forward(J[arm[1]] - J[arm[0]]) > 0.9
    angles["shoulder_l"][0], angles["shoulder_l"][1] = 0, 90  # abduction: sideways, to the left (+X)
    J, _ = _joints(body, angles)
    assert (J[arm[1]] - J[arm[0]])[0] / np.linalg.norm(J[arm[1]] - J[arm[0]]) > 0.9
    angles["shoulder_l"][1], angles["hip_l"][0], angles["knee_l"][0] = 0, 90, 90  # sitting leg
    J, _ = _joints(body, angles)
    assert _forward(J[leg[1]] - J[leg[0]]) > 0.9 and _down(J[leg[2]] - J[leg[1]]) > 0.9


def _down(v):
    return -v[2] / np.linalg.norm(v)


def _forward(v):
    return -v[1] / np.linalg.norm(v)


def test_fist_fingertips_are_closer_to_the_palm_than_open(smplx):
    angles, _ = _zero_pose()
    tips = [smplx.keypoint_names.index(f"left_{f}") for f in ("index", "middle", "ring", "pinky")]

    def tip_distance(style: str) -> float:
        rng = np.random.default_rng(0)
        J, out = _joints(smplx, angles, {"l": _hand(rng, style), "r": _hand(rng, style)})
        palm = np.mean([J[f"left_{f}1"] for f in ("index", "middle", "ring", "pinky")], axis=0) * 0.5 \
            + J["left_wrist"] * 0.5
        return float(np.linalg.norm(out.keypoints[0, tips].numpy() - palm, axis=1).mean())

    assert tip_distance("fist") < 0.6 * tip_distance("open")
    assert tip_distance("fist") < tip_distance("relaxed") < tip_distance("open")


def test_penetration_rejects_an_arm_through_the_torso(smplx):
    rest = smplx(smplx.neutral_params())
    assert penetration_score(smplx, rest.vertices, rest.joints) <= PoseConfig().max_penetration
    angles, _ = _zero_pose()
    for s in "lr":
        angles[f"shoulder_{s}"][1] = 10.0
    _, hanging = _joints(smplx, angles)
    assert penetration_score(smplx, hanging.vertices, hanging.joints) <= PoseConfig().max_penetration
    angles["shoulder_l"] = np.array([0.0, -95.0, 0.0])  # adducted far past its limit: across the chest
    _, through = _joints(smplx, angles)
    assert penetration_score(smplx, through.vertices, through.joints) > 3 * PoseConfig().max_penetration
