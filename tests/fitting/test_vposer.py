"""VPoser v2 as the SMPL-X pose prior: reading the human-body-prior layout (random weights
written under VPoser v2's key names; the real weights are licensed and never available
here), the encoder against VPoser's layer arithmetic written out, bad files, and the fit."""

import os
import time

import numpy as np
import pytest
import torch
from fake_smplx_humanoid import write_humanoid_smplx
from helpers import ring_cameras

from engine.body import load_body_model
from engine.errors import InputError
from engine.fitting import FitOptions, Observations, ProxyViews, fit
from engine.fitting.vposer import VPOSER_ENV, load_vposer, vposer_code, vposer_for, vposer_path
from engine.proxy import BodyProxy
from engine.proxy.raycast import ProxyRenderer

HIDDEN, LATENT = 64, 8


def vposer_v2_state(seed: int = 0, hidden: int = HIDDEN, latent: int = LATENT) -> dict:
    """Every tensor of VPoser v2's state dict, by its name in the Lightning checkpoint: random,
    scaled like a trained one (the input normalised by pose statistics of ~0.2 rad, so that
    the code follows the pose)."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.randn(*s, generator=g)  # noqa: E731

    def bn(name, n, spread):
        return {f"{name}.weight": 1 + 0.1 * rand(n), f"{name}.bias": 0.05 * rand(n),
                f"{name}.running_mean": 0.05 * rand(n) * spread,
                f"{name}.running_var": spread ** 2 * (1 + 0.2 * torch.rand(n, generator=g)),
                f"{name}.num_batches_tracked": torch.tensor(7)}

    def linear(name, n_out, n_in):
        return {f"{name}.weight": rand(n_out, n_in) / n_in ** 0.5, f"{name}.bias": 0.05 * rand(n_out)}

    state = {**bn("encoder_net.1", 63, 0.2), **linear("encoder_net.2", hidden, 63), **bn("encoder_net.4", hidden, 1.0),
             **linear("encoder_net.6", hidden, hidden), **linear("encoder_net.7", hidden, hidden),
             **linear("encoder_net.8.mu", latent, hidden), **linear("encoder_net.8.logvar", latent, hidden),
             **linear("decoder_net.0", hidden, latent), **linear("decoder_net.3", hidden, hidden),
             **linear("decoder_net.5", 126, hidden)}
    return {f"vp_model.{k}": v for k, v in state.items()}


def write_vposer(folder, state=None, name="V02_05_epoch=08_val_loss=0.03.ckpt"):
    """The human-body-prior layout: FOLDER/V02_05.yaml and FOLDER/snapshots/*.ckpt."""
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    (folder / "V02_05.yaml").write_text("model_params:\n  latentD: 8\n  num_neurons: 64\n")
    torch.save({"epoch": 8, "global_step": 100, "state_dict": state or vposer_v2_state()}, folder / "snapshots" / name)
    return folder / "snapshots" / name


def reference_code(state: dict, pose: torch.Tensor) -> torch.Tensor:
    """VPoser v2's encoder mean, layer by layer (eval mode: BN running statistics, no dropout)."""
    s = {k[len("vp_model."):]: v.double() for k, v in state.items()}

    def bn(x, n):
        return (x - s[f"{n}.running_mean"]) / (s[f"{n}.running_var"] + 1e-5).sqrt() * s[f"{n}.weight"] + s[f"{n}.bias"]

    def lin(x, n):
        return x @ s[f"{n}.weight"].T + s[f"{n}.bias"]

    x = bn(pose.reshape(-1, 63), "encoder_net.1")
    x = lin(x, "encoder_net.2")
    x = torch.where(x > 0, x, 0.01 * x)
    x = lin(lin(bn(x, "encoder_net.4"), "encoder_net.6"), "encoder_net.7")
    return lin(x, "encoder_net.8.mu")


def test_encoder_is_vposer_v2s_arithmetic(tmp_path):
    state = vposer_v2_state()
    write_vposer(tmp_path / "V02_05", state)
    encoder = load_vposer(str(tmp_path / "V02_05")).double()
    pose = 0.4 * torch.randn(5, 21, 3, dtype=torch.float64)
    torch.testing.assert_close(encoder(pose), reference_code(state, pose))
    full = torch.cat([pose, torch.randn(5, 33, 3, dtype=torch.float64)], dim=1)  # SMPL-X's 54 pose joints
    torch.testing.assert_close(vposer_code(encoder, full), reference_code(state, pose))


def test_latest_snapshot_or_the_file_itself_is_read(tmp_path):
    folder = tmp_path / "V02_05"
    old = write_vposer(folder, vposer_v2_state(1), "V02_05_epoch=03_val_loss=0.05.ckpt")
    new = write_vposer(folder, vposer_v2_state(2), "V02_05_epoch=08_val_loss=0.03.ckpt")
    os.utime(old, (time.time() - 60, time.time() - 60))
    pose = torch.randn(2, 21, 3, dtype=torch.float64)
    torch.testing.assert_close(load_vposer(str(folder)).double()(pose), reference_code(vposer_v2_state(2), pose))
    torch.testing.assert_close(load_vposer(str(old)).double()(pose), reference_code(vposer_v2_state(1), pose))
    assert new.is_file()


def test_bad_vposer_input_names_the_file_and_key(tmp_path, anny32):
    with pytest.raises(InputError, match=r"VPoser not found: .*nowhere.*smpl-x\.is\.tue\.mpg\.de"):
        load_vposer(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no snapshots/\*\.ckpt"):
        load_vposer(str(tmp_path / "empty"))
    (tmp_path / "v1" / "snapshots").mkdir(parents=True)
    torch.save({}, tmp_path / "v1" / "snapshots" / "TR00_E096.pt")
    with pytest.raises(InputError, match="a VPoser v1 folder"):
        load_vposer(str(tmp_path / "v1"))
    state = vposer_v2_state()
    del state["vp_model.encoder_net.4.running_var"]
    file = write_vposer(tmp_path / "missing", state)
    with pytest.raises(InputError, match=rf"{file.name}: missing key 'vp_model\.encoder_net\.4\.running_var'"):
        load_vposer(str(file))
    state = vposer_v2_state()
    state["vp_model.encoder_net.6.weight"] = torch.zeros(HIDDEN, HIDDEN + 1)
    with pytest.raises(InputError, match=r"key 'vp_model\.encoder_net\.6\.weight': expected shape \(H, H\)"):
        load_vposer(str(write_vposer(tmp_path / "shape", state)))
    (tmp_path / "junk" / "snapshots").mkdir(parents=True)
    (tmp_path / "junk" / "snapshots" / "x.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"x\.ckpt: not a readable PyTorch checkpoint"):
        load_vposer(str(tmp_path / "junk"))
    write_vposer(tmp_path / "good")
    with pytest.raises(InputError, match="21 body joints; body model 'anny'"):
        vposer_for(anny32, tmp_path / "good")


def test_the_environment_names_vposer_for_smplx_only(tmp_path, anny32, monkeypatch):
    write_vposer(tmp_path / "V02_05")
    monkeypatch.setenv(VPOSER_ENV, str(tmp_path / "V02_05"))
    assert vposer_for(anny32, None) is None  # Anny keeps its own priors
    assert vposer_path("anny", None) is None and vposer_path("smplx", None) == str(tmp_path / "V02_05")
    assert vposer_path("smplx", "/given") == "/given"  # an explicit folder wins over the environment


@pytest.fixture(scope="module")
def humanoid_scene(tmp_path_factory):
    """The procedural SMPL-X humanoid with bent limbs, and its exact proxies in 4 views."""
    body = load_body_model("smplx", smplx_model=write_humanoid_smplx(tmp_path_factory.mktemp("smplx") / "SMPLX_NEUTRAL.npz"))
    proxy = BodyProxy.for_body(body)
    p = body.neutral_params(1)
    names = body.pose_joint_names
    for joint, rot in (("left_elbow", [0.0, 0.0, 0.9]), ("right_knee", [0.6, 0.0, 0.0]),
                       ("left_shoulder", [0.0, 0.0, -0.5]), ("spine2", [0.2, 0.0, 0.0])):
        p.body_pose[0, names.index(joint)] = torch.tensor(rot)
    p.global_orient[0] = torch.tensor([0.0, 0.0, 0.7])
    out = body(p)
    cams = ring_cameras(4, 160, dtype=torch.float32)
    renderer = ProxyRenderer(out.vertices[0].double().numpy(), body.faces.numpy(), proxy.part_table.face_part.numpy(),
                             body.uv_coords.numpy(), body.uv_faces.numpy())
    rendered = [renderer.render(cams.K[i].double().numpy(), cams.R_cam_world[i].double().numpy(),
                                cams.t_cam_world[i].double().numpy(), 160, 160) for i in range(4)]
    views = ProxyViews(torch.as_tensor(np.stack([r.seg for r in rendered])),
                       torch.as_tensor(np.stack([r.uv for r in rendered])), cams)
    return body, proxy, views, out


@pytest.mark.slow
def test_the_fit_holds_the_pose_near_vposers_code_origin(tmp_path, humanoid_scene):
    """With VPoser the fit trades reprojection error for a smaller latent code, the more
    so the larger its weight; without it (weight 0) the fit is the plain one."""
    body, proxy, views, gt = humanoid_scene
    folder = tmp_path / "V02_05"
    write_vposer(folder)
    encoder = vposer_for(body, folder)
    seen = Observations(proxies=views, body_proxy=proxy)
    results = {w: fit(seen, body, FitOptions(vposer=str(folder), vposer_prior=w)) for w in (0.0, 0.01, 1.0)}
    code = {w: vposer_code(encoder, r.params.body_pose[0]).square().sum().item() for w, r in results.items()}
    residual = {w: r.residual_px.mean().item() for w, r in results.items()}
    plain = fit(seen, body, FitOptions())
    torch.testing.assert_close(results[0.0].vertices, plain.vertices)
    assert residual[0.0] < 1.0, residual
    assert code[1.0] < 0.5 * code[0.0] and code[0.01] < code[0.0], code
    assert residual[1.0] > residual[0.0], residual
