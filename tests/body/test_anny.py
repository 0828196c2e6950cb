import dataclasses

import pytest
import roma
import torch

from engine.body import BodyParams, KEYPOINT_NAMES
from engine.body.base import matrix_to_6d
from engine.errors import InputError
from helpers import random_pose


def kp(out, name, b=0):
    return out.keypoints[b, KEYPOINT_NAMES.index(name)]


def test_outputs_shapes_and_dtypes(anny32, anny64):
    for body, dtype in ((anny32, torch.float32), (anny64, torch.float64)):
        out = body(random_pose(body, 3, 0.2, seed=0))
        assert out.vertices.shape == (3, 13718, 3) and out.vertices.dtype == dtype
        assert out.joints.shape == (3, 104, 3)
        assert out.keypoints.shape == (3, len(KEYPOINT_NAMES), 3)
        assert out.bone_transforms.shape == (3, 104, 4, 4)
        assert out.faces.shape == (27420, 3) and out.uv_faces.shape == (27420, 3)
        assert out.uv_coords.shape == (21334, 2)


def test_canonical_frame(anny64):
    out = anny64(anny64.neutral_params(1))
    assert torch.allclose(out.joints[0, 0], torch.zeros(3, dtype=torch.float64), atol=1e-9)  # root at origin
    assert kp(out, "nose")[2] > 0.5 and kp(out, "left_ankle")[2] < -0.6  # Z up
    assert kp(out, "nose")[1] < -0.1  # faces -Y
    assert kp(out, "left_wrist")[0] > 0.3 and kp(out, "right_wrist")[0] < -0.3  # left is +X
    height = out.vertices[0, :, 2].max() - out.vertices[0, :, 2].min()
    assert 1.5 < height < 1.8


def test_fingertips_are_the_farthest_points_of_their_fingers(anny64):
    out = anny64(anny64.neutral_params(1))
    for side in ("left", "right"):
        wrist = kp(out, f"{side}_wrist")
        for finger in ("index", "middle", "ring", "pinky"):
            tip = kp(out, f"{side}_{finger}")
            s = side[0].upper()
            k = ("thumb", "index", "middle", "ring", "pinky").index(finger) + 1
            distal = out.joints[0, anny64.joint_names.index(f"finger{k}-3.{s}")]
            assert (tip - wrist).norm() > (distal - wrist).norm() + 0.01


def test_world_placement_is_a_similarity(anny64):
    p = random_pose(anny64, 2, 0.3, seed=1)
    local = dataclasses.replace(p, global_orient=torch.zeros_like(p.global_orient),
                                transl=torch.zeros_like(p.transl), scale=None)
    out, out_local = anny64(p), anny64(local)
    R = roma.rotvec_to_rotmat(p.global_orient)
    expected = p.scale[:, None, None] * torch.einsum("bij,bnj->bni", R, out_local.vertices) + p.transl[:, None]
    torch.testing.assert_close(out.vertices, expected)
    torch.testing.assert_close(out.joints[:, 0], p.transl)
    torch.testing.assert_close(out.bone_transforms[:, :, :3, 3], out.joints)


def test_batch_items_are_independent(anny64):
    p = random_pose(anny64, 3, 0.3, seed=2)
    out = anny64(p)
    for b in range(3):
        single = BodyParams(*(getattr(p, f.name)[b:b + 1] for f in dataclasses.fields(p)))
        torch.testing.assert_close(anny64(single).vertices[0], out.vertices[b])


def test_pose_changes_only_the_children(anny64):
    p = anny64.neutral_params(1)
    elbow = anny64.pose_joint_names.index("lowerarm01.L")
    p.body_pose[0, elbow] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    moved = (anny64(p).joints - anny64(anny64.neutral_params(1)).joints)[0].norm(dim=-1) > 1e-6
    names = {n for n, m in zip(anny64.joint_names, moved) if m}
    assert "wrist.L" in names and "finger2-3.L" in names
    assert not names & {"wrist.R", "head", "foot.L", "upperarm01.L", "lowerarm01.L"}


def test_axis_angle_and_6d_agree(anny64):
    p = random_pose(anny64, 2, 0.4, seed=3)
    p6 = dataclasses.replace(p, body_pose=matrix_to_6d(roma.rotvec_to_rotmat(p.body_pose)),
                             global_orient=matrix_to_6d(roma.rotvec_to_rotmat(p.global_orient)))
    torch.testing.assert_close(anny64(p6).vertices, anny64(p).vertices)


def test_gradients_float64(anny64):
    p = anny64.neutral_params(1)
    idx = [anny64.pose_joint_names.index(n) for n in ("upperarm01.L", "lowerleg01.R")]
    subset = torch.tensor([0, 5000, 9316])

    def f(pose_part, shape, transl):
        q = dataclasses.replace(p, body_pose=p.body_pose.clone(), shape=shape, transl=transl)
        q.body_pose[0, idx] = pose_part
        return anny64(q).vertices[0, subset]

    inputs = (0.1 * torch.randn(2, 3, dtype=torch.float64), torch.full((1, 6), 0.4, dtype=torch.float64),
              torch.zeros(1, 3, dtype=torch.float64))
    assert torch.autograd.gradcheck(f, tuple(x.requires_grad_() for x in inputs), eps=1e-6, atol=1e-5)


def test_float32_matches_float64(anny32, anny64):
    p = random_pose(anny64, 2, 0.3, seed=4)
    torch.testing.assert_close(anny32(p.to(torch.float32)).vertices.double(), anny64(p).vertices,
                               atol=2e-5, rtol=0)


def test_shape_changes_the_body(anny64):
    p = anny64.neutral_params(2)
    p.shape[0, 4] = 0.0  # height
    p.shape[1, 4] = 1.0
    v = anny64(p).vertices
    heights = v[..., 2].amax(dim=1) - v[..., 2].amin(dim=1)
    assert heights[1] > heights[0] + 0.2
    lo, hi = anny64.shape_bounds()
    assert (lo == 0).all() and (hi == 1).all()


@pytest.mark.parametrize("field,value,message", [
    ("body_pose", torch.zeros(1, 50, 3, dtype=torch.float64), "body_pose"),
    ("body_pose", torch.zeros(1, 103, 4, dtype=torch.float64), "body_pose"),
    ("transl", torch.tensor([[0.0, float("nan"), 0.0]], dtype=torch.float64), "transl"),
    ("shape", torch.zeros(1, 10, dtype=torch.float64), "shape"),
    ("global_orient", torch.zeros(1, 3, dtype=torch.float32), "dtype"),
    ("scale", torch.ones(2, dtype=torch.float64), "scale"),
])
def test_bad_params_name_the_field(anny64, field, value, message):
    p = dataclasses.replace(anny64.neutral_params(1), **{field: value})
    with pytest.raises(InputError, match=message):
        anny64(p)


def test_anny_cache_lives_in_the_configured_dir(anny64, monkeypatch, tmp_path):
    import anny.paths

    from engine.cache import anny_cache_dir, cache_dir

    assert anny.paths.get_anny_cache_path() == anny_cache_dir()
    assert any(anny_cache_dir().iterdir())
    monkeypatch.setenv("DIFFPROXY_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ANNY_CACHE_DIR", raising=False)
    assert cache_dir() == tmp_path and anny_cache_dir() == tmp_path / "anny"
    monkeypatch.setenv("ANNY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert anny_cache_dir() == tmp_path / "elsewhere"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(anny32):
    from engine.body import load_body_model

    gpu = load_body_model("anny", device="cuda")
    p = random_pose(anny32, 2, 0.3, seed=5)
    torch.testing.assert_close(gpu(p.to("cuda")).vertices.cpu(), anny32(p).vertices, atol=1e-4, rtol=0)
