"""Proxies <-> the images the paper diffuses <-> the model's space.

- ``seg`` becomes its palette image (``engine.proxy.parts.PALETTE``); ``uv`` becomes
  (u, v, 1) on the body and (0, 0, 0) elsewhere; both scaled to [-1, 1]. With a body's
  ``RestCoords`` (``engine.proxy.rest_coords``; ``rest_body`` in the model's config) the
  uv image holds each body pixel's part-local rest position instead, and decoding maps
  it back to (u, v).
- ``PixelCodec(p)`` folds each p x p block of pixels into channels (3 p^2 channels at 1/p of
  the resolution: cheap, exact); ``LatentCodec`` encodes with a Stable Diffusion VAE.
- Decoding takes the nearest palette colour for ``seg`` (background where it is black)
  and clamps the UV channels to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.errors import InputError
from engine.proxy.parts import PALETTE, check_part_ids
from engine.proxy.rest_coords import RestCoords

PALETTE_COLOURS = torch.as_tensor(PALETTE, dtype=torch.float32) / 127.5 - 1  # (P, 3) in [-1, 1]


def proxy_images(seg: torch.Tensor, uv: torch.Tensor, rest: RestCoords | None = None) -> torch.Tensor:
    """seg (..., H, W) part ids, uv (..., H, W, 2) -> (..., 2, 3, H, W) in [-1, 1] (seg, uv)."""
    check_part_ids("seg", seg)
    if uv.shape != (*seg.shape, 2):
        raise InputError(f"uv: expected shape {(*seg.shape, 2)}, got {tuple(uv.shape)}")
    seg_img = PALETTE_COLOURS.to(uv.device)[seg.long()]  # (..., H, W, 3)
    if rest is not None:
        uv_img = rest.encode(seg, uv)
    else:
        body = (seg > 0).to(torch.float32)[..., None]
        uv_img = torch.cat([uv.float(), torch.ones_like(body)], dim=-1) * body * 2 - 1
    return torch.stack([seg_img, uv_img], dim=-4).movedim(-1, -3)


def decode_proxy_images(images: torch.Tensor, rest: RestCoords | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 2, 3, H, W) -> seg (..., H, W) uint8 (nearest palette colour) and uv (..., H, W, 2)."""
    seg_img = images[..., 0, :, :, :].movedim(-3, -1)  # (..., H, W, 3)
    colours = seg_img.reshape(-1, 3).float()
    palette = PALETTE_COLOURS.to(images.device)
    seg = torch.cat([torch.cdist(chunk, palette).argmin(dim=-1) for chunk in colours.split(1 << 18)])
    seg = seg.reshape(seg_img.shape[:-1]).to(torch.uint8)
    return seg, decode_uv_image(seg, images[..., 1, :, :, :], rest)


def decode_uv_image(seg: torch.Tensor, uv_img: torch.Tensor, rest: RestCoords | None = None) -> torch.Tensor:
    """The uv stream's image (..., 3, H, W) read with the part ids ``seg`` (..., H, W) -> uv
    (..., H, W, 2), 0 on the background."""
    uv_img = uv_img.movedim(-3, -1).float()
    if rest is not None:
        return rest.decode(seg, uv_img)
    uv = ((uv_img[..., :2] + 1) / 2).clamp(0, 1)
    return torch.where(seg[..., None] > 0, uv, torch.zeros_like(uv))


class PixelCodec:
    """Images (N, 3, H, W) <-> (N, 3 p^2, H/p, W/p): a lossless pixel unshuffle."""

    def __init__(self, patch: int):
        self.patch = patch
        self.channels = 3 * patch * patch
        self.downscale = patch
        self.rest: RestCoords | None = None  # set by the model whose uv stream holds rest coordinates

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(images, self.patch)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(x, self.patch)


class LatentCodec:
    """Images <-> scaled latents of a diffusers ``AutoencoderKL`` (frozen)."""

    def __init__(self, vae):
        self.vae = vae.requires_grad_(False).eval()
        self.channels = vae.config.latent_channels
        self.downscale = 2 ** (len(vae.config.block_out_channels) - 1)
        self.scale = vae.config.scaling_factor
        self.rest: RestCoords | None = None

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(images.to(self.vae.dtype)).latent_dist.mode() * self.scale

    @torch.no_grad()
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(x.to(self.vae.dtype) / self.scale).sample.float().clamp(-1, 1)


def encode_views(codec, images: torch.Tensor) -> torch.Tensor:
    """(B, 2, V, 3, H, W) proxy images -> (B, 2, V, C, h, w) in the model's space."""
    B, M, V = images.shape[:3]
    x = codec.encode(images.reshape(B * M * V, *images.shape[3:]))
    return x.reshape(B, M, V, *x.shape[1:])


def decode_views(codec, x: torch.Tensor) -> torch.Tensor:
    B, M, V = x.shape[:3]
    images = codec.decode(x.reshape(B * M * V, *x.shape[3:]))
    return images.reshape(B, M, V, *images.shape[1:])
