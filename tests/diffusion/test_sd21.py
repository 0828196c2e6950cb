"""The ``sd21`` configuration on a tiny random Stable Diffusion folder that the test writes
with ``save_pretrained``: UNet and VAE read from disk, proxies in latent space, the UNet
frozen but for its attention, training steps, checkpoint reload and sampling."""

import pytest
import torch
from helpers import write_proxy_scene

from engine.diffusion.codec import LatentCodec
from engine.diffusion.configs import build_model
from engine.diffusion.model import ProxyDiffusionModel
from engine.diffusion.sample import ProxySampler, SampleOptions, load_generator
from engine.diffusion.train import TrainConfig, train
from engine.errors import InputError
from engine.evaluation.proxies import scene_cameras
from engine.io.scene import read_scene
from engine.diffusion.packed import read_scene_evidence
from engine.evaluation.model_proxies import read_images

pytestmark = pytest.mark.xdist_group("diffusion_train")


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    path = tmp_path_factory.mktemp("sd21_tiny")
    torch.manual_seed(0)
    UNet2DConditionModel(sample_size=32, in_channels=4, out_channels=4, block_out_channels=(32, 64),
                         down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                         up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), layers_per_block=1,
                         cross_attention_dim=24, attention_head_dim=8, norm_num_groups=8).save_pretrained(path / "unet")
    AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 8, 8),
                  down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                  layers_per_block=1, norm_num_groups=8, sample_size=256).save_pretrained(path / "vae")
    DDPMScheduler(beta_schedule="scaled_linear", prediction_type="v_prediction").save_pretrained(path / "scheduler")
    return path


def test_sd21_reads_unet_and_vae_and_trains_only_attention(sd_folder):
    from diffusers import UNet2DConditionModel

    model = build_model("sd21", sd21_path=sd_folder)
    assert isinstance(model.codec, LatentCodec) and model.codec.channels == 4 and model.codec.downscale == 8
    assert model.image_size == 256 and model.unet.config.cross_attention_dim == 24
    reference = UNet2DConditionModel.from_pretrained(sd_folder, subfolder="unet").state_dict()
    own = model.unet.state_dict()
    assert all(torch.equal(own[k], v) for k, v in reference.items())  # the user's weights, as saved
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(".attn1." in n for n in trainable) and any(".attn2." in n for n in trainable)
    assert any("ray_proj" in n for n in trainable) and "unet.class_embedding.weight" in trainable
    assert any(n.startswith("adapter.") for n in trainable) and any(n.startswith("rgb_encoder.") for n in trainable)
    assert not any(n.startswith("unet.") and ("resnets" in n or "conv_in" in n or "time_embedding" in n)
                   for n in trainable)
    with pytest.raises(InputError, match="sd21"):
        build_model("sd21")
    with pytest.raises(InputError, match="vae/config.json missing"):
        build_model("sd21", sd21_path=sd_folder / "vae")


def test_sd21_trains_reloads_and_samples(sd_folder, tmp_path, anny32, anny_proxy):
    root = tmp_path / "data"
    write_proxy_scene(root / "scene_000000", 0, anny32, anny_proxy, 32, 2, images="palette")
    out = tmp_path / "ckpt"
    summary = train(TrainConfig(str(root), str(out), config="sd21", sd21_path=str(sd_folder), max_steps=2,
                                batch_size=1, min_views=2, max_views=2, hand_crops=0, log_every=1, save_every=2,
                                workers=0, prediction_type="v_prediction"))
    assert summary["steps"] == 2 and torch.isfinite(torch.tensor(summary["loss"]))
    trained = ProxyDiffusionModel.from_pretrained(summary["checkpoint"])
    fresh = build_model("sd21", sd21_path=sd_folder)
    t, f = trained.state_dict(), fresh.state_dict()
    frozen = [k for k, p in fresh.named_parameters() if not p.requires_grad and k.startswith("unet.")]
    assert frozen and all(torch.equal(t[k], f[k]) for k in frozen)
    assert not torch.equal(t["unet.class_embedding.weight"], f["unet.class_embedding.weight"])
    model, scheduler = load_generator(out)
    assert scheduler.config.prediction_type == "v_prediction"
    scene = read_scene(root / "scene_000000")
    result = ProxySampler(model, scheduler, SampleOptions(samples=2, steps=1))(
        read_images(scene, [0, 1]), scene_cameras(scene, [0, 1]), evidence=read_scene_evidence(scene, [0, 1]))
    assert result.proxy.seg.shape == (2, 256, 256) and result.cameras.width == 256
