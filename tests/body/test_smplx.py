"""SMPL-X through the real ``smplx`` loading path, on a structurally valid random model file."""

import dataclasses

import numpy as np
import pytest
import torch
from helpers import random_pose, write_fake_smplx

from engine.body import KEYPOINT_NAMES, load_body_model
from engine.body.smplx_body import SMPLX_ENV
from engine.errors import InputError


@pytest.fixture(scope="module")
def smplx_file(tmp_path_factory):
    return write_fake_smplx(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz")


@pytest.fixture(scope="module")
def smplx64(smplx_file):
    return load_body_model("smplx", smplx_model=smplx_file, dtype=torch.float64)


def test_forward_shapes_and_frame(smplx64):
    out = smplx64(smplx64.neutral_params(2))
    assert out.vertices.shape == (2, 10475, 3)
    assert out.joints.shape == (2, 55, 3)
    assert out.keypoints.shape == (2, len(KEYPOINT_NAMES), 3)
    assert out.faces.shape == (20908, 3) and out.uv_coords.shape == (11313, 2)
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(2, 3, dtype=torch.float64))  # root at origin
    assert len(smplx64.pose_joint_names) == 54 and len(smplx64.shape_names) == 10


def test_model_frame_turns_y_up_into_z_up(smplx64):
    """The template's +Y (SMPL-X up) becomes +Z, its +Z (facing) becomes -Y."""
    m = smplx64.smplx
    out = smplx64(smplx64.neutral_params(1))
    root = (m.J_regressor @ m.v_template)[0]
    t = m.v_template - root
    torch.testing.assert_close(out.vertices[0], torch.stack([t[:, 0], -t[:, 2], t[:, 1]], dim=-1))


def test_pose_and_shape_change_the_mesh_differentiably(smplx64):
    p = random_pose(smplx64, 1, 0.2, seed=0)
    p.body_pose.requires_grad_()
    p.shape.requires_grad_()
    out = smplx64(p)
    out.vertices.square().sum().backward()
    assert p.body_pose.grad.abs().sum() > 0 and p.shape.grad.abs().sum() > 0
    neutral = smplx64(dataclasses.replace(smplx64.neutral_params(1), global_orient=p.global_orient.detach(),
                                          transl=p.transl.detach(), scale=p.scale.detach()))
    assert (out.vertices.detach() - neutral.vertices).abs().max() > 1e-3


def test_env_variable_and_folder_are_found(smplx_file, monkeypatch):
    monkeypatch.setenv(SMPLX_ENV, str(smplx_file.parent))
    body = load_body_model("smplx")
    assert body.model_path == smplx_file


def test_missing_file_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(SMPLX_ENV, raising=False)
    with pytest.raises(InputError, match="smpl-x.is.tue.mpg.de"):
        load_body_model("smplx")
    with pytest.raises(InputError, match=r"not found: .*nope\.npz.*smpl-x\.is\.tue\.mpg\.de"):
        load_body_model("smplx", smplx_model=tmp_path / "nope.npz")
    with pytest.raises(InputError, match="no SMPLX_NEUTRAL.npz"):
        load_body_model("smplx", smplx_model=tmp_path)


def test_corrupt_files_name_the_file_and_key(smplx_file, tmp_path):
    data = dict(np.load(smplx_file))
    del data["weights"]
    np.savez(tmp_path / "no_weights.npz", **data)
    with pytest.raises(InputError, match=r"no_weights\.npz: missing key 'weights'"):
        load_body_model("smplx", smplx_model=tmp_path / "no_weights.npz")
    data = dict(np.load(smplx_file))
    data["J_regressor"] = data["J_regressor"][:50]
    np.savez(tmp_path / "bad_shape.npz", **data)
    with pytest.raises(InputError, match=r"bad_shape\.npz: key 'J_regressor': expected shape \(55, V\), got \(50, 10475\)"):
        load_body_model("smplx", smplx_model=tmp_path / "bad_shape.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"garbage\.npz: not a readable \.npz"):
        load_body_model("smplx", smplx_model=tmp_path / "garbage.npz")


def test_unknown_body_model():
    with pytest.raises(InputError, match="unknown name 'smpl'"):
        load_body_model("smpl")
