"""The proxy denoiser: one diffusers ``UNet2DConditionModel`` shared by the two modalities
(seg palette image, UV image; a class embedding says which), its self-attention layers
replaced by multi-view attention (``attention.py``), conditioned on each view's RGB through
a diffusers ``T2IAdapter`` (pixel-aligned features added inside the down blocks) and image
tokens for the cross-attention: DINOv2 (transformers ``Dinov2Model``, frozen) read from a
local folder, or a small trainable patch encoder with the same interface when no DINOv2
weights are on disk. The config records which. With ``evidence_channels`` the adapter also
reads MediaPipe's landmarks and person mask rasterised in each view
(``engine.diffusion.conditioning``): the paper's pose prior, from a detector trained on real
photos, so that a render and a photograph give the denoiser the same kind of input.

The seg stream's output: with ``seg_head="palette"`` (the paper's; the only choice in latent
space) the UNet regresses the palette image like any other; with ``seg_head="parts"`` (pixel
space) it gives per-pixel part logits and its x0 estimate is their expected palette colour,
trained with a cross-entropy term as well; the uv stream then reads its own output
channels, from a head of their own with ``uv_head_width`` > 0 (``SplitOutput``). Same
optimum, but measured on one batch of 4 rendered views the part head reached seg mIoU 0.47
after 250 steps against 0.19 (README). With ``rest_body`` (e.g. "anny") the uv stream holds
part-local rest-pose coordinates of that body instead of atlas (u, v)
(``engine.proxy.rest_coords``; the codec encodes and decodes them).

Shapes: sample (B, 2, V, C, h, w) noisy proxies in the model's space (modality seg, uv;
``codec.py`` maps proxies there: pixels folded into C = 3 p^2 channels, or VAE latents), rgb
(B, V, 3, H, W) in [-1, 1] with H = h * downscale, one ``Cameras`` of V views per scene at the
image size (H, W) -> the prediction, shaped like the sample.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import ModelMixin, T2IAdapter, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config

from engine.body import BODY_MODELS
from engine.diffusion.attention import CurrentViews, MultiViewAttnProcessor
from engine.diffusion.codec import PALETTE_COLOURS, LatentCodec, PixelCodec
from engine.diffusion.conditioning import EVIDENCE_CHANNELS
from engine.diffusion.views import ViewBatch
from engine.errors import InputError
from engine.geometry.camera import Cameras
from engine.proxy.rest_coords import rest_coords_for


class PatchEncoder(torch.nn.Module):
    """A small trainable stand-in for DINOv2: patchify, two conv layers, tokens (N, T, dim)."""

    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, dim, kernel_size=patch, stride=patch), torch.nn.GELU(),
            torch.nn.Conv2d(dim, dim, kernel_size=3, padding=1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(rgb).flatten(2).transpose(1, 2)


class Dinov2Encoder(torch.nn.Module):
    """Frozen DINOv2 patch tokens, projected to the UNet's cross-attention width."""

    def __init__(self, path: str, dim: int):
        super().__init__()
        from transformers import Dinov2Model

        self.dinov2 = Dinov2Model.from_pretrained(path)
        self.dinov2.requires_grad_(False)
        self.proj = torch.nn.Linear(self.dinov2.config.hidden_size, dim)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = ((rgb + 1) / 2 - self.mean) / self.std
        size = self.dinov2.config.patch_size * max(1, rgb.shape[-1] // self.dinov2.config.patch_size)
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        with torch.no_grad():
            tokens = self.dinov2(pixel_values=x).last_hidden_state
        return self.proj(tokens)


class SplitOutput(torch.nn.Module):
    """The UNet's output layer for the part head: the part logits from one 3x3 convolution
    (as diffusers' ``conv_out``), the UV channels from their own two-layer head of ``width``
    features, so that a block's UV values are not linear readouts of the features that also
    carry its part logits. On one batch of 4 rendered views, after 600 steps, the median UV
    error was 0.036-0.041 with it against 0.052-0.075 without (README)."""

    def __init__(self, in_channels: int, logits: int, uv_channels: int, width: int):
        super().__init__()
        self.logits = torch.nn.Conv2d(in_channels, logits, kernel_size=3, padding=1)
        self.uv = torch.nn.Sequential(torch.nn.Conv2d(in_channels, width, kernel_size=3, padding=1), torch.nn.SiLU(),
                                      torch.nn.Conv2d(width, uv_channels, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.logits(x), self.uv(x)], dim=1)


def load_stable_diffusion(path: str) -> tuple[LatentCodec, UNet2DConditionModel]:
    """The VAE and UNet of a local diffusers Stable Diffusion folder (``vae/``, ``unet/``)."""
    from diffusers import AutoencoderKL

    for sub in ("vae", "unet"):
        if not (Path(path) / sub / "config.json").is_file():
            raise InputError(f"pretrained_path: {Path(path) / sub / 'config.json'} missing (need a diffusers SD folder)")
    return LatentCodec(AutoencoderKL.from_pretrained(path, subfolder="vae")), \
        UNet2DConditionModel.from_pretrained(path, subfolder="unet")


class ProxyDiffusionModel(ModelMixin, ConfigMixin):
    config_name = "config.json"

    @register_to_config
    def __init__(self, image_size: int = 32, codec: str = "pixel", pixel_patch: int = 2,
                 pretrained_path: str | None = None, block_out_channels: tuple[int, ...] = (32, 64),
                 down_block_types: tuple[str, ...] = ("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types: tuple[str, ...] = ("CrossAttnUpBlock2D", "UpBlock2D"),
                 layers_per_block: int = 1, attention_head_dim: int = 8, cross_attention_dim: int = 32,
                 norm_num_groups: int = 8, adapter_res_blocks: int = 1, image_encoder: str = "patch",
                 dinov2_path: str | None = None, image_patch: int = 8, epipolar_band: float = 2.0,
                 seg_head: str = "palette", uv_head_width: int = 0, rest_body: str | None = None,
                 evidence_channels: int = 0):
        super().__init__()
        if seg_head not in ("palette", "parts"):
            raise InputError(f"config: seg_head must be 'palette' or 'parts', got {seg_head!r}")
        if seg_head == "parts" and codec != "pixel":
            raise InputError("config: seg_head 'parts' needs codec 'pixel' (part logits per pixel)")
        if rest_body is not None and rest_body not in BODY_MODELS:
            raise InputError(f"config: rest_body must be one of {BODY_MODELS} or null, got {rest_body!r}")
        if uv_head_width and seg_head != "parts":
            raise InputError("config: uv_head_width needs seg_head 'parts' (the UV head splits off its output)")
        if codec == "pixel":
            self._codec = PixelCodec(pixel_patch)
            # the part head: P logits per pixel for seg, then the uv stream's own C channels
            logits = len(PALETTE_COLOURS) * pixel_patch ** 2 if seg_head == "parts" else 0
            out_channels = logits + self._codec.channels
            if len(down_block_types) != len(block_out_channels) or len(up_block_types) != len(block_out_channels):
                raise InputError("config: down_block_types, up_block_types and block_out_channels differ in length")
            self.unet = UNet2DConditionModel(
                sample_size=image_size // pixel_patch, in_channels=self._codec.channels,
                out_channels=out_channels, down_block_types=down_block_types, up_block_types=up_block_types,
                block_out_channels=block_out_channels, layers_per_block=layers_per_block,
                attention_head_dim=attention_head_dim, cross_attention_dim=cross_attention_dim,
                norm_num_groups=norm_num_groups)
            if uv_head_width:
                self.unet.conv_out = SplitOutput(block_out_channels[0], logits, self._codec.channels, uv_head_width)
        elif codec == "latent":
            if not pretrained_path:
                raise InputError("config: codec 'latent' needs pretrained_path (a local Stable Diffusion folder)")
            self._codec, self.unet = load_stable_diffusion(pretrained_path)
        else:
            raise InputError(f"config: codec must be 'pixel' or 'latent', got {codec!r}")
        if image_size % (self._codec.downscale * 2 ** (len(self.unet.config.block_out_channels) - 1)):
            raise InputError(f"config: image_size {image_size} does not divide into the UNet's levels")
        # which stream a sample belongs to (seg or uv); zero at first, so a pretrained UNet is unchanged
        time_dim = self.unet.time_embedding.linear_2.out_features
        self.unet.class_embedding = torch.nn.Embedding(2, time_dim)
        torch.nn.init.zeros_(self.unet.class_embedding.weight)
        width = self.unet.config.cross_attention_dim
        if evidence_channels not in (0, EVIDENCE_CHANNELS):
            raise InputError(f"config: evidence_channels must be 0 or {EVIDENCE_CHANNELS} (engine.diffusion.conditioning), "
                             f"got {evidence_channels}")
        self.adapter = T2IAdapter(in_channels=3 + evidence_channels, channels=list(self.unet.config.block_out_channels),
                                  num_res_blocks=adapter_res_blocks, downscale_factor=self._codec.downscale,
                                  adapter_type="full_adapter")
        if image_encoder == "patch":
            self.rgb_encoder = PatchEncoder(width, image_patch)
        elif image_encoder == "dinov2":
            if not dinov2_path:
                raise InputError("config: image_encoder 'dinov2' needs dinov2_path (a local transformers folder)")
            self.rgb_encoder = Dinov2Encoder(dinov2_path, width)
        else:
            raise InputError(f"config: image_encoder must be 'patch' or 'dinov2', got {image_encoder!r}")
        self._views = CurrentViews()
        self.unet.set_attn_processor(self._processors())
        if codec == "latent":  # the paper's setting: the UNet frozen but for its attention
            self.unet.requires_grad_(False)
            for name, module in self.unet.named_modules():
                if name.endswith(("attn1", "attn2")) or name == "class_embedding":
                    module.requires_grad_(True)

    @classmethod
    def from_pretrained(cls, path, **kwargs):
        # __init__ reads DINOv2 / Stable Diffusion parts from disk: build on real tensors, not meta
        kwargs.setdefault("low_cpu_mem_usage", False)
        return super().from_pretrained(path, **kwargs)

    @property
    def codec(self) -> PixelCodec | LatentCodec:
        """Maps proxy images (N, 3, H, W) to the UNet's space and back (``codec.py``)."""
        if isinstance(self._codec, LatentCodec):
            self._codec.vae.to(self.device)
        if self.config.rest_body and self._codec.rest is None:
            self._codec.rest = rest_coords_for(self.config.rest_body)
        return self._codec

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def _processors(self) -> dict:
        out = {}
        for name, proc in self.unet.attn_processors.items():
            if name.endswith("attn1.processor"):
                attn = self.unet.get_submodule(name[: -len(".processor")])
                out[name] = MultiViewAttnProcessor(attn.to_q.in_features, self._views)
            else:
                out[name] = proc
        return out

    def _adapter_features(self, condition: torch.Tensor) -> list[torch.Tensor]:
        """The T2I-Adapter's feature per down block (of the RGB and, when the model has
        ``evidence_channels``, MediaPipe's evidence maps), at the size the UNet adds it: inside a
        cross-attention block (before its downsampling), but after a plain block's
        downsampling, so those are pooled once more."""
        features = self.adapter(condition)
        types = self.unet.config.down_block_types
        n = len(types)
        return [torch.nn.functional.avg_pool2d(f, 2) if not t.startswith("CrossAttn") and i < n - 1 else f
                for i, (f, t) in enumerate(zip(features, types))]

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, rgb: torch.Tensor,
                cameras: list[Cameras], evidence: torch.Tensor | None = None, return_logits: bool = False):
        B, M, V, C, h, w = sample.shape
        if M != 2 or C != self.codec.channels:
            raise InputError(f"sample: expected (B, 2, V, {self.codec.channels}, h, w), got {tuple(sample.shape)}")
        H, W = h * self.codec.downscale, w * self.codec.downscale
        if rgb.shape != (B, V, 3, H, W):
            raise InputError(f"rgb: expected {(B, V, 3, H, W)}, got {tuple(rgb.shape)}")
        if len(cameras) != B or any(len(c) != V or c.sizes != [(W, H)] * V for c in cameras):
            raise InputError(f"cameras: need {B} scenes of {V} cameras for {W}x{H} images")
        E = self.config.evidence_channels
        if E and (evidence is None or evidence.shape != (B, V, E, H, W)):
            got = None if evidence is None else tuple(evidence.shape)
            raise InputError(f"evidence: this model is conditioned on MediaPipe's evidence, expected {(B, V, E, H, W)}, "
                             f"got {got}")
        timestep = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(B)
        per_item = lambda x: x[:, None].expand(B, 2, *x.shape[1:]).reshape(B * 2 * V, *x.shape[2:])  # noqa: E731
        rgb_flat = rgb.reshape(B * V, 3, H, W)
        condition = torch.cat([rgb, evidence.to(rgb)], dim=2).reshape(B * V, 3 + E, H, W) if E else rgb_flat
        features = [per_item(f.reshape(B, V, *f.shape[1:])) for f in self._adapter_features(condition)]
        tokens = self.rgb_encoder(rgb_flat)
        tokens = per_item(tokens.reshape(B, V, *tokens.shape[1:]))
        modality = torch.arange(2, device=sample.device).repeat_interleave(V).repeat(B)
        self._views.batch = ViewBatch(cameras, band=self.config.epipolar_band)
        try:
            out = self.unet(sample.reshape(B * 2 * V, C, h, w), timestep.repeat_interleave(2 * V),
                            encoder_hidden_states=tokens, class_labels=modality,
                            down_intrablock_additional_residuals=features).sample
        finally:
            self._views.batch = None
        out = out.reshape(B, 2, V, out.shape[1], h, w)
        if self.config.seg_head == "palette":
            return (out, None) if return_logits else out
        # per-pixel part logits -> the x0 estimate of the seg stream: the expected palette colour
        parts = len(PALETTE_COLOURS) * self.config.pixel_patch ** 2
        logits = torch.nn.functional.pixel_shuffle(out[:, 0, :, :parts].flatten(0, 1), self.config.pixel_patch)
        colour = torch.einsum("nphw,pc->nchw", logits.float().softmax(dim=1), PALETTE_COLOURS.to(out.device))
        seg = self.codec.encode(colour.to(out.dtype)).reshape(B, V, C, h, w)
        pred = torch.stack([seg, out[:, 1, :, parts:]], dim=1)  # uv: its own last C channels
        return (pred, logits.reshape(B, V, *logits.shape[1:])) if return_logits else pred
