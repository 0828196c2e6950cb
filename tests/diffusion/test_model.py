"""The proxy denoiser (tiny configuration): shapes for 1-8 views, view-order equivariance,
save/load, the DINOv2 image encoder from a local folder, and the epipolar attention mask
following the cameras."""

import pytest
import torch
from helpers import ring_cameras

from engine.diffusion.codec import PALETTE_COLOURS, decode_proxy_images
from engine.diffusion.configs import model_config
from engine.diffusion.conditioning import EVIDENCE_CHANNELS
from engine.diffusion.model import ProxyDiffusionModel, SplitOutput
from engine.diffusion.views import epipolar_mask
from engine.errors import InputError
from engine.geometry.camera import Cameras, project
from engine.geometry.rays import pixel_centers

SIZE = 32


def tiny(evidence: bool = False, **kw) -> ProxyDiffusionModel:
    """The tiny model; RGB only unless ``evidence`` (most tests here are about other inputs)."""
    torch.manual_seed(0)
    model = ProxyDiffusionModel(**{**model_config("tiny", evidence=evidence), **kw}).eval()
    for proc in model.unet.attn_processors.values():  # non-zero ray embeddings, so they matter
        if isinstance(proc, torch.nn.Module):
            torch.nn.init.normal_(proc.ray_proj.weight, std=0.1)
    return model


def inputs(B, V, seed=0):
    g = torch.Generator().manual_seed(seed)
    cams = [ring_cameras(V, SIZE, seed=seed + b, dtype=torch.float32) for b in range(B)]
    h = SIZE // 2  # the tiny model folds 2 x 2 pixels into 12 channels
    return (torch.randn(B, 2, V, 12, h, h, generator=g), torch.full((B,), 500),
            torch.rand(B, V, 3, SIZE, SIZE, generator=g) * 2 - 1, cams)


@pytest.mark.parametrize("V", [1, 3, 8])
def test_forward_any_number_of_views(V):
    model = tiny()
    sample, t, rgb, cams = inputs(2, V)
    with torch.no_grad():
        out = model(sample, t, rgb, cams)
    assert out.shape == sample.shape and torch.isfinite(out).all()


def test_views_in_any_order_give_the_same_predictions():
    model = tiny()
    sample, t, rgb, cams = inputs(1, 4, seed=3)
    perm = [2, 0, 3, 1]
    with torch.no_grad():
        out = model(sample, t, rgb, cams)
        out_perm = model(sample[:, :, perm], t, rgb[:, perm], [cams[0].subset(perm)])
    assert torch.allclose(out[:, :, perm], out_perm, atol=1e-4)


def test_other_views_and_cameras_change_the_prediction():
    model = tiny()
    sample, t, rgb, cams = inputs(1, 3, seed=4)
    moved = Cameras(cams[0].K, cams[0].R_cam_world, cams[0].t_cam_world + torch.tensor([0.5, 0.0, 0.0]),
                    SIZE, SIZE)
    with torch.no_grad():
        a = model(sample, t, rgb, cams)
        b = model(sample, t, rgb, [moved])
        rgb2 = rgb.clone()
        rgb2[:, 1] = -rgb2[:, 1]
        c = model(sample, t, rgb2, cams)
    assert (a - b).abs().max() > 1e-4
    assert (a[:, :, 0] - c[:, :, 0]).abs().max() > 1e-4  # view 0 hears view 1's image


def test_evidence_channels_reach_the_prediction_and_are_required():
    """A model conditioned on MediaPipe's evidence: its prediction depends on the maps (of
    that view), the maps follow the views' order, and calling it without them is an error."""
    model = tiny(evidence=True)
    assert model.config.evidence_channels == EVIDENCE_CHANNELS
    assert model.adapter.adapter.conv_in.in_channels == (3 + EVIDENCE_CHANNELS) * model.codec.downscale ** 2
    sample, t, rgb, cams = inputs(1, 3, seed=5)
    ev = torch.rand(1, 3, EVIDENCE_CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    perm = [2, 0, 1]
    with torch.no_grad():
        a = model(sample, t, rgb, cams, ev)
        ev2 = ev.clone()
        ev2[:, 0] = 0
        b = model(sample, t, rgb, cams, ev2)
        c = model(sample[:, :, perm], t, rgb[:, perm], [cams[0].subset(perm)], ev[:, perm])
    assert (a[:, :, 0] - b[:, :, 0]).abs().max() > 1e-4
    assert torch.allclose(a[:, :, perm], c, atol=1e-4)
    with pytest.raises(InputError, match="evidence"):
        model(sample, t, rgb, cams)
    with pytest.raises(InputError, match="evidence"):
        model(sample, t, rgb, cams, ev[:, :, :5])
    with pytest.raises(InputError, match="evidence_channels"):
        ProxyDiffusionModel(evidence_channels=4)


def test_save_and_load_round_trip(tmp_path):
    model = tiny()
    sample, t, rgb, cams = inputs(1, 2)
    model.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "diffusion_pytorch_model.safetensors").exists()
    loaded = ProxyDiffusionModel.from_pretrained(tmp_path / "ckpt").eval()
    with torch.no_grad():
        assert torch.equal(model(sample, t, rgb, cams), loaded(sample, t, rgb, cams))
    assert loaded.config.image_encoder == "patch" and loaded.config.rest_body == model.config.rest_body == "anny"


def test_part_head_predicts_the_expected_palette_colour(tmp_path):
    """seg_head='parts': the seg stream's x0 is the softmax-weighted palette colour of each
    pixel's part logits, folded like the codec folds a palette image; uv is unchanged."""
    model = tiny(seg_head="parts")
    sample, t, rgb, cams = inputs(1, 2)
    with torch.no_grad():
        pred, logits = model(sample, t, rgb, cams, return_logits=True)
    assert pred.shape == sample.shape and logits.shape == (1, 2, len(PALETTE_COLOURS), SIZE, SIZE)
    colour = torch.einsum("vphw,pc->vchw", logits[0].softmax(dim=1), PALETTE_COLOURS)
    assert torch.allclose(pred[0, 0], model.codec.encode(colour), atol=1e-5)
    one_hot = torch.nn.functional.one_hot(logits[0].argmax(dim=1), len(PALETTE_COLOURS)).permute(0, 3, 1, 2) * 50.0
    sharp = torch.einsum("vphw,pc->vchw", one_hot.float().softmax(dim=1), PALETTE_COLOURS)
    seg, _ = decode_proxy_images(torch.stack([sharp, sharp], dim=1))
    assert torch.equal(seg, logits[0].argmax(dim=1).to(torch.uint8))  # confident logits decode to their part
    model.save_pretrained(tmp_path / "ckpt")
    loaded = ProxyDiffusionModel.from_pretrained(tmp_path / "ckpt").eval()
    with torch.no_grad():
        assert torch.equal(loaded(sample, t, rgb, cams), pred)
    with pytest.raises(InputError, match="seg_head"):
        ProxyDiffusionModel(seg_head="argmax")


def test_the_uv_head_alone_makes_the_uv_stream():
    """uv_head_width > 0: the uv stream's x0 comes from its own head; the part logits do not."""
    model = tiny()
    assert isinstance(model.unet.conv_out, SplitOutput)
    sample, t, rgb, cams = inputs(1, 2)
    with torch.no_grad():
        pred, logits = model(sample, t, rgb, cams, return_logits=True)
        torch.nn.init.zeros_(model.unet.conv_out.uv[2].weight)
        torch.nn.init.constant_(model.unet.conv_out.uv[2].bias, 0.25)
        pred2, logits2 = model(sample, t, rgb, cams, return_logits=True)
    assert torch.equal(logits2, logits) and torch.equal(pred2[:, 0], pred[:, 0])
    assert not torch.equal(pred[:, 1], pred2[:, 1]) and (pred2[:, 1] == 0.25).all()
    with pytest.raises(InputError, match="uv_head_width"):
        ProxyDiffusionModel(seg_head="palette", uv_head_width=16)
    assert model_config("tiny", seg_head="palette").get("uv_head_width") is None


def test_dinov2_encoder_from_a_local_folder(tmp_path):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                             patch_size=8, image_size=SIZE)).save_pretrained(tmp_path / "dinov2")
    model = ProxyDiffusionModel(**model_config("tiny", dinov2_path=tmp_path / "dinov2", evidence=False))
    sample, t, rgb, cams = inputs(1, 2)
    with torch.no_grad():
        out = model(sample, t, rgb, cams)
    assert out.shape == sample.shape
    assert not any(p.requires_grad for p in model.rgb_encoder.dinov2.parameters())
    model.save_pretrained(tmp_path / "ckpt")
    assert ProxyDiffusionModel.from_pretrained(tmp_path / "ckpt").config.image_encoder == "dinov2"


def test_bad_inputs_are_named():
    model = tiny()
    sample, t, rgb, cams = inputs(1, 2)
    with pytest.raises(InputError, match="rgb"):
        model(sample, t, rgb[:, :1], cams)
    with pytest.raises(InputError, match="cameras"):
        model(sample, t, rgb, [cams[0].subset([0])])
    with pytest.raises(InputError, match="image_encoder"):
        ProxyDiffusionModel(image_encoder="clip")
    with pytest.raises(InputError, match="rest_body"):
        ProxyDiffusionModel(rest_body="mannequin")


def test_epipolar_mask_follows_the_cameras():
    """The cells of 40 3D points in two views may attend to each other both ways, before and
    after camera 1 moves (the mask follows it), while each cell sees a thin band only."""
    size, stride = 64, 4
    cams = ring_cameras(2, size, dtype=torch.float64)
    X = torch.rand(40, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.6 - 0.3
    w = size // stride

    def cell(cameras, view, x):
        px = project(x, cameras.K[view:view + 1], cameras.R_cam_world[view:view + 1],
                     cameras.t_cam_world[view:view + 1])[0][0]
        assert ((px > 0) & (px < size - 1)).all()
        ij = ((px + 0.5) / stride).floor().long()
        return ij[:, 1] * w + ij[:, 0]

    L = w * w
    for cameras in (cams, Cameras(cams.K, cams.R_cam_world, cams.t_cam_world + torch.tensor([0.3, -0.2, 0.1],
                                                                                            dtype=torch.float64),
                                  size, size)):
        mask = epipolar_mask(cameras, stride)
        p, q = cell(cameras, 0, X), cell(cameras, 1, X)
        assert mask[p, L + q].all() and mask[L + q, p].all()
        assert mask[:L, :L].all()  # a view sees itself whole
        # the band is narrow: each cell of view 0 may see only a thin line of view 1
        assert mask[:L, L:].float().mean() < 0.25
    moved = epipolar_mask(Cameras(cams.K, cams.R_cam_world, cams.t_cam_world + torch.tensor([0.3, -0.2, 0.1],
                                                                                          dtype=torch.float64),
                                  size, size), stride)
    assert (moved != epipolar_mask(cams, stride)).any()
    assert pixel_centers(size, size, stride).shape[:2] == (w, w)
