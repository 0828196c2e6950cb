import json

import numpy as np
import pytest
import torch

from pose_checks import assert_pose_within_limits

from engine.body.joint_limits import JOINTS
from engine.errors import InputError
from synth.pose import FAMILIES, PoseConfig, _hand, _pose_body, penetration_score, sample_pose, sample_shape
from synth.pose_rig import rig_for


def _only(family: str, **kw) -> PoseConfig:
    return PoseConfig(family_weights={family: 1.0}, **kw)


def _zero_pose():
    return {j: np.zeros(3) for j in JOINTS}, {s: [[0.0] * 4] * 5 for s in "lr"}


def test_same_rng_state_gives_the_same_pose(anny32):
    a = sample_pose(anny32, np.random.default_rng(7), PoseConfig())
    b = sample_pose(anny32, np.random.default_rng(7), PoseConfig())
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    c = sample_pose(anny32, np.random.default_rng(8), PoseConfig())
    assert not np.allclose(a.body_pose, c.body_pose)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_samples_within_limits(anny32, family):
    cfg = _only(family, variation=1.5)
    s = sample_pose(anny32, np.random.default_rng(3), cfg)
    assert s.family == family
    assert s.body_pose.shape == (len(anny32.pose_joint_names), 3) and np.isfinite(s.body_pose).all()
    assert s.penetration <= cfg.max_penetration, (s.penetration, s.attempts)  # passed, not given up
    assert_pose_within_limits(s, anny32.pose_joint_names, ("lowerleg01.L", "lowerleg01.R"), family)


def test_penetration_rejects_an_arm_through_the_torso(anny32):
    rest = anny32(anny32.neutral_params())
    assert penetration_score(anny32, rest.vertices, rest.joints) <= PoseConfig().max_penetration
    rig = rig_for(anny32)
    angles, curls = _zero_pose()
    for s in "lr":
        angles[f"shoulder_{s}"][1] = 10.0  # arms hanging a little away from the hips
    hanging = _pose_body(anny32, rig.body_pose(angles, curls), None)
    assert penetration_score(anny32, hanging.vertices, hanging.joints) <= PoseConfig().max_penetration
    angles["shoulder_l"] = np.array([0.0, -95.0, 0.0])  # adducted far past its limit: across the chest
    through = _pose_body(anny32, rig.body_pose(angles, curls), None)
    assert penetration_score(anny32, through.vertices, through.joints) > 3 * PoseConfig().max_penetration


def test_fist_fingertips_are_closer_to_the_palm_than_open(anny32):
    rig = rig_for(anny32)
    angles, _ = _zero_pose()
    tips = [anny32.keypoint_names.index(f"left_{f}") for f in ("index", "middle", "ring", "pinky")]
    knuckles = [anny32.joint_names.index(f"finger{k}-1.L") for k in (2, 3, 4, 5)]

    def tip_distance(style: str) -> float:
        rng = np.random.default_rng(0)
        curls = {"l": _hand(rng, style), "r": _hand(rng, style)}
        out = _pose_body(anny32, rig.body_pose(angles, curls), None)
        palm = out.joints[0, knuckles].mean(0) * 0.5 + out.joints[0, anny32.joint_names.index("wrist.L")] * 0.5
        return (out.keypoints[0, tips] - palm).norm(dim=-1).mean().item()

    assert tip_distance("fist") < 0.6 * tip_distance("open")
    assert tip_distance("fist") < tip_distance("relaxed") < tip_distance("open")


def test_sample_shape_is_deterministic_and_leaves_torch_rng_alone(anny32):
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a = sample_shape(np.random.default_rng(5), anny32)
    assert torch.equal(torch.rand(1), before)
    b = sample_shape(np.random.default_rng(5), anny32)
    assert a.shape == (6,) and np.array_equal(a, b) and np.all((a >= 0) & (a <= 1))
    assert not np.array_equal(a, sample_shape(np.random.default_rng(6), anny32))


def test_bad_config_names_the_field(anny32):
    with pytest.raises(InputError, match="family_weights"):
        sample_pose(anny32, np.random.default_rng(0), PoseConfig(family_weights={"dancing": 1.0}))
    with pytest.raises(InputError, match="max_attempts"):
        sample_pose(anny32, np.random.default_rng(0), PoseConfig(max_attempts=0))


def test_a_sampler_that_gives_up_keeps_the_least_bad_draw_and_says_so(anny32, monkeypatch, caplog):
    import synth.pose

    scores = iter([0.9, 0.3, 0.5])
    monkeypatch.setattr(synth.pose, "penetration_score", lambda *args: next(scores))
    s = sample_pose(anny32, np.random.default_rng(3), _only("standing", max_attempts=3))
    assert s.attempts == 3 and s.penetration == 0.3  # recorded in scene.json as body.penetration
    assert "no standing pose under the penetration threshold in 3 draws" in caplog.text
