"""The named model configurations; one code path (``ProxyDiffusionModel``) serves all three.

- ``tiny``: 32 px views, for tests (a second on a CPU).
- ``small``: the size we ship. Pixel space at 128 px, each 4 x 4 block folded into 48
  channels (``PixelCodec``), so the UNet runs at 32^2 with multi-view attention at 16^2 and
  8^2 cells, per-pixel part logits for seg (``seg_head="parts"``) and a UV output head of
  its own (``uv_head_width``), carrying Anny's part-local rest coordinates
  (``rest_body``) rather than atlas UV: 12.3 M parameters (47 MiB in float32). Chosen over 64 px
  pixel space (4x the convolution cost at the same parameter count) and over latent space
  (a VAE we would have to train and ship as well); measured in the README.
- ``compact``: ``small`` at 3/4 of its widths (7.2 M parameters), a candidate for training on
  this CPU (1.4x faster per step; compared in ``docs/proxy_model.md``).
- ``sd21``: the paper's setting. Stable Diffusion 2.1's UNet and VAE from the user's local
  diffusers folder, proxies in the VAE's 4-channel latent space at 256 px, the UNet frozen
  but for its attention layers (multi-view self-attention, cross-attention to the image
  tokens) and the modality embedding; the adapter and image encoder train.

All three read MediaPipe's evidence through the adapter (``evidence_channels``) unless built
with ``evidence=False`` (``train --no-evidence``: the ablation).
"""

from __future__ import annotations

from engine.diffusion.conditioning import EVIDENCE_CHANNELS
from engine.errors import InputError

_D, _A = "DownBlock2D", "CrossAttnDownBlock2D"
_U, _AU = "UpBlock2D", "CrossAttnUpBlock2D"

CONFIGS: dict[str, dict] = {
    "tiny": dict(image_size=32, codec="pixel", pixel_patch=2, block_out_channels=(32, 64),
                 down_block_types=(_D, _A), up_block_types=(_AU, _U), layers_per_block=1, attention_head_dim=8,
                 cross_attention_dim=32, norm_num_groups=8, image_patch=8, seg_head="parts",
                 uv_head_width=64, rest_body="anny"),
    "small": dict(image_size=128, codec="pixel", pixel_patch=4, block_out_channels=(64, 128, 192),
                  down_block_types=(_D, _A, _A), up_block_types=(_AU, _AU, _U), layers_per_block=1,
                  attention_head_dim=32, cross_attention_dim=128, norm_num_groups=32, image_patch=16,
                  seg_head="parts", uv_head_width=192, rest_body="anny"),
    "compact": dict(image_size=128, codec="pixel", pixel_patch=4, block_out_channels=(48, 96, 144),
                    down_block_types=(_D, _A, _A), up_block_types=(_AU, _AU, _U), layers_per_block=1,
                    attention_head_dim=24, cross_attention_dim=96, norm_num_groups=24, image_patch=16,
                    seg_head="parts", uv_head_width=96, rest_body="anny"),
    "sd21": dict(image_size=256, codec="latent", image_patch=16),
}


def model_config(name: str, sd21_path: str | None = None, dinov2_path: str | None = None, evidence: bool = True,
                 **overrides) -> dict:
    """The keyword arguments of ``ProxyDiffusionModel`` for a named configuration; ``evidence``:
    conditioned on MediaPipe's landmarks and mask too (the default; off for the ablation)."""
    if name not in CONFIGS:
        raise InputError(f"config: unknown configuration {name!r}; choose one of {', '.join(CONFIGS)}")
    config = dict(CONFIGS[name], evidence_channels=EVIDENCE_CHANNELS if evidence else 0)
    if name == "sd21":
        if not sd21_path:
            raise InputError("config 'sd21' needs --sd21 PATH: a local diffusers Stable Diffusion 2.1 folder")
        config["pretrained_path"] = str(sd21_path)
    if dinov2_path:
        config.update(image_encoder="dinov2", dinov2_path=str(dinov2_path))
    config = {**config, **overrides}
    if config.get("seg_head") != "parts" and "uv_head_width" not in overrides:
        config.pop("uv_head_width", None)  # the UV head splits the part head's output
    return config


def build_model(name: str, sd21_path: str | None = None, dinov2_path: str | None = None, evidence: bool = True,
                **overrides):
    from engine.diffusion.model import ProxyDiffusionModel

    return ProxyDiffusionModel(**model_config(name, sd21_path, dinov2_path, evidence, **overrides))
